package expand

import (
	"maps"
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// paramDecl is one declared parameter of a template or pipeline.
type paramDecl struct {
	name string
	// typ is the declared type; "string" when omitted, "" for legacy mapping parameters.
	typ    string
	def    *syntax.Node // nil when there is no default (the parameter is required)
	values []*syntax.Node
	pos    plan.Pos
}

// declarations reads a `parameters:` section. legacy is true for the old mapping form
// (`name: default`), whose parameters are untyped, optional and open to extra names.
// The section was validated against the schema when the file was loaded.
func declarations(n *syntax.Node) (decls []paramDecl, legacy bool) {
	switch {
	case n == nil:
		return nil, false
	case n.Kind == syntax.Mapping:
		for _, p := range n.Pairs {
			decls = append(decls, paramDecl{name: p.Key.Value, def: p.Value, pos: p.Key.Pos})
		}
		return decls, true
	case n.Kind == syntax.Sequence:
		for _, item := range n.Items {
			d := paramDecl{typ: "string", pos: item.Pos}
			if name := item.Get("name"); name != nil {
				d.name, d.pos = name.StringValue(), name.Pos
			}
			if t := item.Get("type"); t != nil {
				d.typ = t.StringValue()
			}
			if _, def := item.Lookup("default"); def != nil {
				d.def = def
			}
			if vs := item.Get("values"); vs != nil {
				d.values = vs.Items
			}
			decls = append(decls, d)
		}
	}
	return decls, false
}

// bind checks the parameters passed to a template against its declarations and returns
// the `parameters` object its expressions see. at is the template reference.
func (e *expander) bind(decls []paramDecl, legacy bool, passed *syntax.Node, at plan.Pos) expr.Value {
	o := expr.NewObject()
	given := map[string]*syntax.Node{}
	var order []*syntax.Node
	switch {
	case passed.IsNull():
	case passed.Kind == syntax.Mapping:
		for _, p := range passed.Pairs {
			given[strings.ToLower(p.Key.Value)] = p.Value
			order = append(order, p.Key)
		}
	default:
		e.errorf(passed.Pos, "template parameters must be a mapping, not a %s", passed.Kind)
	}
	declared := map[string]bool{}
	for _, d := range decls {
		declared[strings.ToLower(d.name)] = true
	}
	if legacy {
		for _, d := range decls {
			o.Set(d.name, e.vals.toValue(d.def))
		}
		for _, k := range order {
			o.Set(k.Value, e.vals.toValue(given[strings.ToLower(k.Value)]))
		}
		return expr.ObjectValue(o)
	}
	for _, k := range order {
		if !declared[strings.ToLower(k.Value)] {
			e.errorf(k.Pos, "Unexpected parameter '%s'", k.Value)
		}
	}
	for _, d := range decls {
		v, ok := given[strings.ToLower(d.name)]
		if !ok {
			if d.def == nil {
				e.errorf(at, "A value for the '%s' parameter must be provided.", d.name)
				o.Set(d.name, expr.Null())
				continue
			}
			v = d.def
		}
		o.Set(d.name, e.convertOrRaw(d, v))
	}
	return expr.ObjectValue(o)
}

// convertOrRaw converts a parameter value; when that fails (and was reported) the value
// is bound as written, so expressions reading it do not report a second error.
func (e *expander) convertOrRaw(d paramDecl, v *syntax.Node) expr.Value {
	if val, ok := e.convert(d, v); ok {
		return val
	}
	return e.vals.toValue(v)
}

// listShapes are the parameter types validated against the pipeline schema.
var listShapes = map[string]syntax.Shape{
	"step": syntax.StepShape, "stepList": syntax.StepListShape,
	"job": syntax.JobShape, "jobList": syntax.JobListShape,
	"stage": syntax.StageShape, "stageList": syntax.StageListShape,
}

// convert checks a parameter value against its declared type and values.
func (e *expander) convert(d paramDecl, v *syntax.Node) (expr.Value, bool) {
	switch d.typ {
	case "string", "filePath", "secureFile", "serviceConnection", "environment":
		if !e.scalarParam(d, v) {
			return expr.Null(), false
		}
		s := v.StringValue()
		if !e.allowed(d, v, s) {
			return expr.Null(), false
		}
		return expr.String(s), true
	case "number":
		if !e.scalarParam(d, v) {
			return expr.Null(), false
		}
		f, ok := v.ScalarValue().ToNumber()
		if !ok || v.IsNull() {
			e.errorf(v.Pos, "The '%s' parameter value '%s' is not a valid number.", d.name, v.Value)
			return expr.Null(), false
		}
		s, _ := expr.Number(f).ToString()
		if !e.allowed(d, v, s) {
			return expr.Null(), false
		}
		return expr.Number(f), true
	case "boolean":
		if !e.scalarParam(d, v) {
			return expr.Null(), false
		}
		b, ok := syntax.ParseBool(v.Value)
		if !ok {
			e.errorf(v.Pos, "The '%s' parameter value '%s' is not a valid boolean.", d.name, v.Value)
			return expr.Null(), false
		}
		return expr.Bool(b), true
	case "stringList":
		items := []*syntax.Node{v}
		switch {
		case v.Kind == syntax.Sequence:
			items = v.Items
		case v.IsNull():
			items = nil
		}
		out := make([]expr.Value, 0, len(items))
		for _, item := range items {
			if !e.scalarParam(d, item) || !e.allowed(d, item, item.StringValue()) {
				return expr.Null(), false
			}
			out = append(out, expr.String(item.StringValue()))
		}
		return expr.Array(out...), true
	}
	if shape, ok := listShapes[d.typ]; ok && !v.IsNull() {
		diags := syntax.Validate(v, shape, syntax.Template)
		for _, diag := range diags {
			e.add(diag)
		}
		if len(diags) > 0 {
			return expr.Null(), false
		}
	}
	if v.IsNull() && strings.HasSuffix(d.typ, "List") {
		return expr.Array(), true
	}
	return e.vals.toValue(v), true
}

func (e *expander) scalarParam(d paramDecl, v *syntax.Node) bool {
	if v.Kind != syntax.Scalar {
		e.errorf(v.Pos, "The '%s' parameter is of type %s and cannot take a %s.", d.name, d.typ, v.Kind)
		return false
	}
	return true
}

// allowed checks a parameter's `values:` restriction.
func (e *expander) allowed(d paramDecl, v *syntax.Node, s string) bool {
	if len(d.values) == 0 {
		return true
	}
	names := make([]string, len(d.values))
	for i, a := range d.values {
		names[i] = a.StringValue()
		if names[i] == s {
			return true
		}
	}
	e.errorf(v.Pos, "The '%s' parameter value '%s' is not one of the allowed values: %s.", d.name, s, strings.Join(names, ", "))
	return false
}

// runtimeParameters binds the root file's parameters to the values the caller gave, as
// Azure binds queue-time values. A parameter without a default takes its first allowed
// value, as Azure's run dialog does; with neither it must be given.
func (e *expander) runtimeParameters(decls []paramDecl, at plan.Pos) (expr.Value, map[string]any) {
	o := expr.NewObject()
	plain := map[string]any{}
	known := map[string]bool{}
	for _, d := range decls {
		known[strings.ToLower(d.name)] = true
	}
	for _, name := range sortedKeys(e.opts.Parameters) {
		if !known[strings.ToLower(name)] {
			e.errorf(at, "Unexpected parameter '%s'", name)
		}
	}
	given := map[string]string{}
	for k, v := range e.opts.Parameters {
		given[strings.ToLower(k)] = v
	}
	for _, d := range decls {
		var v *syntax.Node
		if text, ok := given[strings.ToLower(d.name)]; ok {
			v = e.parameterText(d, text)
		} else if d.def != nil {
			v = d.def
		} else if len(d.values) > 0 {
			v = d.values[0]
		} else {
			e.errorf(d.pos, "A value for the '%s' parameter must be provided.", d.name)
			o.Set(d.name, expr.Null())
			continue
		}
		if v == nil {
			continue
		}
		val := e.convertOrRaw(d, v)
		o.Set(d.name, val)
		plain[d.name] = toGo(val)
	}
	return expr.ObjectValue(o), plain
}

// parameterText turns a value given as text (`--param name=value`) into a node: text for
// string-like types, a comma-separated or YAML list for stringList, YAML for the others.
func (e *expander) parameterText(d paramDecl, text string) *syntax.Node {
	switch d.typ {
	case "string", "filePath", "secureFile", "serviceConnection", "environment":
		return syntax.NewString(text, d.pos)
	case "stringList":
		// A comma-separated list, as a queue-time form sends it; YAML lists also work.
		if t := strings.TrimSpace(text); !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "-") {
			seq := syntax.NewSequence(d.pos)
			for _, item := range strings.Split(t, ",") {
				seq.Items = append(seq.Items, syntax.NewString(strings.TrimSpace(item), d.pos))
			}
			return seq
		}
	}
	n, diags := syntax.Parse("parameter "+d.name, []byte(text))
	if len(diags) > 0 {
		e.errorf(d.pos, "the value given for parameter '%s' is not valid YAML: %s", d.name, diags[0].Message)
		return nil
	}
	if n.Kind == syntax.Scalar {
		n.Pos = d.pos // problems with a plain value point at the declaration
	}
	return n
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
