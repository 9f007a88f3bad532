package syntax

import (
	"github.com/keystage/keystage/internal/pipeline/expr"
	"regexp"
	"strings"
)

// Shape names a definition of the Azure Pipelines YAML schema that a document or a typed
// template parameter is validated against.
type Shape uint8

// The shapes a caller can validate against.
const (
	PipelineShape          Shape = iota + 1 // a pipeline (root) file
	StepsTemplateShape                      // a file used as `- template:` under steps
	JobsTemplateShape                       // ... under jobs
	StagesTemplateShape                     // ... under stages
	VariablesTemplateShape                  // ... under variables
	ExtendsTemplateShape                    // a file named by `extends:`
	StepShape                               // a value of a `step` parameter
	StepListShape                           // `stepList`
	JobShape                                // `job`
	JobListShape                            // `jobList`
	StageShape                              // `stage`
	StageListShape                          // `stageList`
)

// Mode says whether a tree may still hold template expressions.
type Mode uint8

const (
	// Template mode validates a file as written: `${{ }}` values and directive keys are
	// allowed where Azure allows them, and features that only matter once expanded
	// (unsupported keywords, required keys inside conditional blocks) are not reported.
	Template Mode = iota
	// Expanded mode validates the result of template expansion strictly, and reports
	// keywords Keystage does not support.
	Expanded
)

// scalarRule says which scalars a definition accepts.
type scalarRule uint8

const (
	noScalar  scalarRule = iota // scalars are not allowed
	anyScalar                   // any scalar, including null and the empty string
	nonEmpty                    // any scalar except null and ""
	boolean                     // true|y|yes|on|false|n|no|off, case-insensitive
	integer                     // a whole number (possibly negative)
	pattern                     // a string matching def.pattern
	enum                        // one of def.enum (case-sensitive, as Azure's schema)
)

// def is one schema definition. A definition may accept several node kinds (a pool is a
// string or a mapping); variants pick a mapping definition by the key present.
type def struct {
	name string
	// scalars
	scalar  scalarRule
	pattern *regexp.Regexp
	hint    string // explains pattern failures
	enum    []string
	// mappings
	props    map[string]*def
	extra    *def // definition of values under keys not in props; nil forbids them
	required []string
	variants []variant
	// sequences
	items *def
	// any accepts every node.
	any bool
	// noExpr forbids template expressions inside (trigger, pr, resources, parameters).
	noExpr bool
	// unsupported names a feature Keystage rejects once the pipeline is expanded.
	unsupported string
}

// variant is a mapping definition chosen when key is present.
type variant struct {
	key string
	def *def
}

func (d *def) acceptsMapping() bool {
	return d.any || d.props != nil || d.extra != nil || d.variants != nil
}
func (d *def) acceptsSequence() bool { return d.any || d.items != nil }

// Booleans as Azure's schema spells them; matched case-insensitively.
var booleanWords = map[string]bool{"true": true, "y": true, "yes": true, "on": true,
	"false": false, "n": false, "no": false, "off": false}

// ParseBool parses a boolean the way Azure's schema accepts it: true|y|yes|on and
// false|n|no|off, case-insensitive.
func ParseBool(s string) (value, ok bool) {
	v, ok := booleanWords[strings.ToLower(strings.TrimSpace(s))]
	return v, ok
}

// Validate checks n against shape and returns every problem found.
func Validate(n *Node, shape Shape, mode Mode) Diagnostics {
	d := schemaRoots()[shape]
	if d == nil {
		return Diagnostics{Errorf(n.Pos, "internal error: unknown schema shape %d", shape)}
	}
	v := validator{mode: mode}
	v.node(n, d, false)
	return v.diags
}

type validator struct {
	mode Mode
	// literal is set inside subtrees where expressions are not allowed (and were
	// reported), so their text is validated as written.
	literal bool
	diags   Diagnostics
}

func (v *validator) errorf(n *Node, format string, args ...any) {
	v.diags = append(v.diags, Errorf(n.Pos, format, args...))
}

// node validates n against d. partial is set for the body of a conditional block, which
// holds only some of a mapping's keys.
func (v *validator) node(n *Node, d *def, partial bool) {
	if n == nil {
		return
	}
	if d.noExpr && v.mode == Template && !v.literal {
		// Expressions are reported once for the whole subtree, which is then validated as
		// plain data.
		v.noExpressions(n)
		v.literal = true
		defer func() { v.literal = false }()
	}
	if d.any {
		return
	}
	if v.mode == Expanded && d.unsupported != "" {
		v.errorf(n, "%s is not supported", d.unsupported)
		return
	}
	if v.templating() && n.HasExpr() {
		v.checkTemplate(n)
		return
	}
	switch n.Kind {
	case Scalar:
		v.scalar(n, d)
	case Mapping:
		if !d.acceptsMapping() {
			v.errorf(n, "A mapping was not expected")
			return
		}
		v.mapping(n, d, partial)
	case Sequence:
		if !d.acceptsSequence() {
			v.errorf(n, "A sequence was not expected")
			return
		}
		v.sequence(n, d)
	}
}

// templating reports whether expressions are to be skipped rather than validated.
func (v *validator) templating() bool { return v.mode == Template && !v.literal }

// checkTemplate reports syntax errors in the expressions of a scalar.
func (v *validator) checkTemplate(n *Node) {
	if _, err := expr.ParseTemplate(n.Value, expr.Options{}); err != nil {
		v.diags = append(v.diags, ExprError(n, err))
	}
}

func (v *validator) noExpressions(n *Node) {
	switch n.Kind {
	case Scalar:
		if n.HasExpr() {
			v.errorf(n, "template expressions are not allowed here")
		}
	case Mapping:
		for _, p := range n.Pairs {
			v.noExpressions(p.Key)
			v.noExpressions(p.Value)
		}
	case Sequence:
		for _, item := range n.Items {
			v.noExpressions(item)
		}
	}
}

func (v *validator) scalar(n *Node, d *def) {
	text := n.Text()
	switch d.scalar {
	case noScalar:
		if n.IsNull() && (d.acceptsMapping() || d.acceptsSequence()) {
			return // `steps:` with nothing under it is an empty list to Azure
		}
		v.errorf(n, "Unexpected value '%s'", n.Value)
	case nonEmpty:
		if strings.TrimSpace(text) == "" {
			v.errorf(n, "Unexpected value '%s' (a non-empty value is required)", text)
		}
	case boolean:
		if _, ok := ParseBool(text); !ok {
			v.errorf(n, "Unexpected value '%s' (expected a boolean: true, false, yes, no, on, off, y or n)", text)
		}
	case integer:
		if !isInteger(text) {
			v.errorf(n, "Unexpected value '%s' (expected a whole number)", text)
		}
	case pattern:
		if !d.pattern.MatchString(text) {
			v.errorf(n, "Unexpected value '%s' (%s)", text, d.hint)
		}
	case enum:
		for _, e := range d.enum {
			if text == e {
				return
			}
		}
		v.errorf(n, "Unexpected value '%s' (expected one of: %s)", text, strings.Join(d.enum, ", "))
	}
}

func isInteger(s string) bool {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// keys lists a mapping's literal keys, including those inside conditional blocks, so a
// variant can be chosen even when its key is inserted conditionally.
func keys(n *Node, into map[string]bool) {
	for _, p := range n.Pairs {
		if d, ok, _ := expr.ParseDirective(p.Key.Value, expr.Options{}); ok {
			if d != nil && d.Kind != expr.DirectiveInsert && p.Value.Kind == Mapping {
				keys(p.Value, into)
			}
			continue
		}
		into[p.Key.Value] = true
	}
}

func (v *validator) mapping(n *Node, d *def, partial bool) {
	if d.variants != nil {
		present := map[string]bool{}
		keys(n, present)
		for _, vr := range d.variants {
			if present[vr.key] {
				v.node(n, vr.def, partial)
				return
			}
		}
		if v.templating() && (partial || hasExpressionKeys(n)) {
			return // the discriminating key may be computed
		}
		names := make([]string, len(d.variants))
		for i, vr := range d.variants {
			names[i] = vr.key
		}
		v.errorf(n, "There's not enough info to determine what you meant. Add one of these properties: %s", strings.Join(names, ", "))
		return
	}
	dynamic := false
	for _, p := range n.Pairs {
		if v.templating() && strings.Contains(p.Key.Value, "${{") {
			dynamic = true
			dir, ok, err := expr.ParseDirective(p.Key.Value, expr.Options{})
			switch {
			case err != nil:
				v.errorf(p.Key, "%s", err.Error())
			case !ok:
				v.checkTemplate(p.Key)
				v.node(p.Value, anyValue(), false)
			case dir.Kind == expr.DirectiveInsert:
				v.node(p.Value, anyValue(), false)
			case p.Value.Kind == Mapping || p.Value.IsNull():
				v.node(p.Value, d, true)
			case !p.Value.HasExpr():
				v.errorf(p.Value, "the body of the %s directive in a mapping must be a mapping", dir.Kind)
			}
			continue
		}
		pd := d.props[p.Key.Value]
		if pd == nil {
			pd = d.extra
		}
		if pd == nil {
			v.errorf(p.Key, "Unexpected value '%s'", p.Key.Value)
			continue
		}
		v.node(p.Value, pd, false)
	}
	if partial || dynamic {
		return
	}
	for _, r := range d.required {
		if n.Get(r) == nil {
			v.errorf(n, "Required property is missing: %s", r)
		}
	}
}

func hasExpressionKeys(n *Node) bool {
	for _, p := range n.Pairs {
		if strings.Contains(p.Key.Value, "${{") {
			return true
		}
	}
	return false
}

func (v *validator) sequence(n *Node, d *def) {
	if d.items == nil {
		return
	}
	for _, item := range n.Items {
		if v.templating() && item.IsDirectiveItem() {
			for _, p := range item.Pairs {
				if _, _, err := expr.ParseDirective(p.Key.Value, expr.Options{}); err != nil {
					v.errorf(p.Key, "%s", err.Error())
					continue
				}
				if p.Value.Kind == Sequence {
					v.sequence(p.Value, d)
				}
			}
			continue
		}
		v.node(item, d.items, false)
	}
}
