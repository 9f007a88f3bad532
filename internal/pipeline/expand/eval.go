package expand

import (
	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// evalRun is the evaluation of one document (the root file or one template inclusion).
type evalRun struct {
	// depth is the template nesting level: 0 for the root file.
	depth int
	// root is the scope at the top of the document.
	root *scope
	// refs maps template references produced by this run to the scope they were found in.
	refs map[*syntax.Node]*scope
}

func (r *evalRun) scopeFor(ref *syntax.Node) *scope {
	if sc, ok := r.refs[ref]; ok {
		return sc
	}
	return r.root
}

// eval returns n with every template expression and directive evaluated under sc.
// Subtrees without expressions are returned as they are, shared.
func (e *expander) eval(n *syntax.Node, sc *scope, run *evalRun) *syntax.Node {
	if n == nil || e.failed() || !e.hasTemplate(n) {
		return n
	}
	switch n.Kind {
	case syntax.Mapping:
		out := syntax.NewMapping(n.Pos)
		e.evalPairs(n.Pairs, sc, out, run, false)
		return out
	case syntax.Sequence:
		out := syntax.NewSequence(n.Pos)
		e.evalItems(n.Items, sc, out, run, false)
		return out
	}
	return e.evalScalar(n, sc)
}

// hasTemplate reports whether a subtree needs evaluating, memoized per node: it holds a
// `${{`, a template reference (which must learn its scope) or variables (which change the
// scope).
func (e *expander) hasTemplate(n *syntax.Node) bool {
	if v, ok := e.templated[n]; ok {
		return v
	}
	has := false
	switch n.Kind {
	case syntax.Scalar:
		has = n.Type == syntax.String && expr.HasTemplate(n.Value)
	case syntax.Mapping:
		for _, p := range n.Pairs {
			k := p.Key.Value
			if k == "template" || k == "variables" || expr.HasTemplate(k) || e.hasTemplate(p.Value) {
				has = true
				break
			}
		}
	case syntax.Sequence:
		for _, item := range n.Items {
			if e.hasTemplate(item) {
				has = true
				break
			}
		}
	}
	e.templated[n] = has
	return has
}

// parsed caches parsed templates: loops evaluate the same text many times.
type parsedKey struct {
	text, names string
}

type parsedTemplate struct {
	t   *expr.Template
	err error
}

// parse parses a scalar's template under the scope's options, once per text and set of
// loop variables.
func (e *expander) parse(text string, sc *scope) (*expr.Template, error) {
	k := parsedKey{text, sc.loopNames()}
	if p, ok := e.parsed[k]; ok {
		return p.t, p.err
	}
	t, err := expr.ParseTemplate(text, sc.options())
	e.parsed[k] = parsedTemplate{t, err}
	return t, err
}

// evalValue evaluates a scalar holding `${{ }}` and returns its typed value.
func (e *expander) evalValue(n *syntax.Node, sc *scope) (expr.Value, bool) {
	t, err := e.parse(n.Value, sc)
	if err != nil {
		e.add(syntax.ExprError(n, err))
		return expr.Null(), false
	}
	v, err := t.Eval(sc.context())
	if err != nil {
		e.add(syntax.ExprError(n, err))
		return expr.Null(), false
	}
	return v, true
}

func (e *expander) evalScalar(n *syntax.Node, sc *scope) *syntax.Node {
	v, ok := e.evalValue(n, sc)
	if !ok {
		return syntax.NewScalar("", syntax.Null, n.Pos)
	}
	if v.Kind() == expr.KindString {
		s, _ := v.ToString()
		e.charge(n.Pos, len(s))
		out := *n
		out.Value = s
		return &out
	}
	return e.vals.toNode(v, n.Pos)
}

// chain tracks an if / elseif / else sequence.
type chain struct {
	open  bool // an if was seen and no else yet
	taken bool // a branch of the chain was taken
}

// branch decides whether the body of an if, elseif or else directive is inserted.
func (e *expander) branch(d *expr.Directive, pos plan.Pos, c *chain, sc *scope) bool {
	switch d.Kind {
	case expr.DirectiveIf:
		c.open, c.taken = true, false
	case expr.DirectiveElseIf, expr.DirectiveElse:
		if !c.open {
			e.errorf(pos, "the %s directive must follow an if or elseif directive", d.Kind)
			return false
		}
		if d.Kind == expr.DirectiveElse {
			c.open = false
		}
		if c.taken {
			return false
		}
		if d.Kind == expr.DirectiveElse {
			c.taken = true
			return true
		}
	}
	ok, err := d.Cond.EvalBool(sc.context())
	if err != nil {
		e.errorf(pos, "%v", err)
		return false
	}
	c.taken = ok
	return ok
}

// collection evaluates the collection of an each directive: its items, or for an
// object, one {key, value} object per pair.
func (e *expander) collection(d *expr.Directive, pos plan.Pos, sc *scope) []expr.Value {
	v, err := d.Collection.Eval(sc.context())
	if err != nil {
		e.errorf(pos, "%v", err)
		return nil
	}
	switch v.Kind() {
	case expr.KindNull:
		return nil
	case expr.KindArray:
		return v.Items()
	case expr.KindObject:
		var out []expr.Value
		for k, item := range v.Object().All() {
			o := expr.NewObject()
			o.Set("key", expr.String(k))
			o.Set("value", item)
			out = append(out, expr.ObjectValue(o))
		}
		return out
	}
	e.errorf(pos, "the each directive iterates over a sequence or a mapping, not a %s", v.Kind())
	return nil
}

// evalPairs evaluates mapping pairs into out and returns the scope after them. When vars
// is set the mapping is a variables block: each entry is defined, as a compile-time
// variable, for the entries after it. A `variables:` key defines its variables for the
// keys that follow it.
func (e *expander) evalPairs(pairs []syntax.Pair, sc *scope, out *syntax.Node, run *evalRun, vars bool) *scope {
	var c chain
	put := func(k, v *syntax.Node) {
		if e.put(out, k, v) && vars {
			sc = sc.withVariables([]variableDef{{k.Value, v.StringValue()}})
		}
	}
	for _, p := range pairs {
		if e.failed() {
			return sc
		}
		key := p.Key
		if !expr.HasTemplate(key.Value) {
			c = chain{}
			var v *syntax.Node
			if key.Value == "variables" && !vars {
				v, sc = e.evalVariables(p.Value, sc, run)
			} else {
				v = e.eval(p.Value, sc, run)
			}
			put(key, v)
			continue
		}
		d, ok, err := expr.ParseDirective(key.Value, sc.options())
		if err != nil {
			e.add(syntax.ExprError(key, err))
			c = chain{}
			continue
		}
		if !ok {
			c = chain{}
			if k, ok := e.evalKey(key, sc); ok {
				put(k, e.eval(p.Value, sc, run))
			}
			continue
		}
		switch d.Kind {
		case expr.DirectiveIf, expr.DirectiveElseIf, expr.DirectiveElse:
			if e.branch(d, key.Pos, &c, sc) {
				sc = e.evalBody(p.Value, d, sc, out, run, vars)
			}
		case expr.DirectiveEach:
			c = chain{}
			for _, item := range e.collection(d, key.Pos, sc) {
				if !e.charge(key.Pos, 64) {
					break
				}
				sc = sc.varsFrom(e.evalBody(p.Value, d, sc.withLoop(d.Var, item), out, run, vars))
			}
		case expr.DirectiveInsert:
			c = chain{}
			v := e.eval(p.Value, sc, run)
			switch {
			case v.Kind == syntax.Mapping:
				for _, ip := range v.Pairs {
					put(ip.Key, ip.Value)
				}
			case !v.IsNull():
				e.errorf(p.Value.Pos, "the insert directive needs a mapping to insert, not a %s", v.Kind)
			}
		}
	}
	return sc
}

// evalBody inserts the body of a directive found in a mapping.
func (e *expander) evalBody(body *syntax.Node, d *expr.Directive, sc *scope, out *syntax.Node, run *evalRun, vars bool) *scope {
	switch {
	case body.Kind == syntax.Mapping:
		return e.evalPairs(body.Pairs, sc, out, run, vars)
	case body.IsNull():
		return sc
	case body.Kind == syntax.Scalar && expr.HasTemplate(body.Value):
		v := e.eval(body, sc, run)
		if v.Kind == syntax.Mapping {
			return e.evalPairs(v.Pairs, sc, out, run, vars)
		}
		if !v.IsNull() {
			e.errorf(body.Pos, "the body of the %s directive in a mapping must be a mapping, not a %s", d.Kind, v.Kind)
		}
		return sc
	}
	e.errorf(body.Pos, "the body of the %s directive in a mapping must be a mapping, not a %s", d.Kind, body.Kind)
	return sc
}

// evalKey evaluates a mapping key holding an expression, such as `${{ pair.key }}`.
func (e *expander) evalKey(key *syntax.Node, sc *scope) (*syntax.Node, bool) {
	v, ok := e.evalValue(key, sc)
	if !ok {
		return nil, false
	}
	s, ok := v.ToString()
	if !ok {
		e.errorf(key.Pos, "a mapping key must be a string, but the expression gave a %s", v.Kind())
		return nil, false
	}
	return syntax.NewString(s, key.Pos), true
}

// put adds a pair to out and reports whether it did; a key inserted twice is an error,
// as in Azure.
func (e *expander) put(out *syntax.Node, key, value *syntax.Node) bool {
	for _, p := range out.Pairs {
		if p.Key.Value == key.Value {
			e.errorf(key.Pos, "'%s' is already defined", key.Value)
			return false
		}
	}
	out.Pairs = append(out.Pairs, syntax.Pair{Key: key, Value: value})
	return true
}

// evalItems evaluates sequence items into out, splicing directive bodies and
// whole-expression items that give sequences, and returns the scope after them. When vars
// is set the sequence is a variables list: variable templates are expanded in place and
// each definition is seen by the items after it.
func (e *expander) evalItems(items []*syntax.Node, sc *scope, out *syntax.Node, run *evalRun, vars bool) *scope {
	var c chain
	for _, item := range items {
		if e.failed() {
			return sc
		}
		if item.IsDirectiveItem() {
			for _, p := range item.Pairs {
				sc = e.evalItemDirective(p, &c, sc, out, run, vars)
			}
			continue
		}
		c = chain{}
		if item.Kind == syntax.Scalar && item.Type == syntax.String && expr.HasTemplate(item.Value) {
			v, ok := e.evalValue(item, sc)
			switch {
			case !ok || v.IsNull():
			case v.Kind() == expr.KindArray:
				for _, x := range v.Items() {
					sc = e.appendItem(out, e.vals.toNode(x, item.Pos), sc, run, vars)
				}
			default:
				sc = e.appendItem(out, e.evalScalar(item, sc), sc, run, vars)
			}
			continue
		}
		r := e.eval(item, sc, run)
		if r.Kind == syntax.Mapping && len(r.Pairs) == 0 && len(item.Pairs) > 0 {
			continue // a conditional mapping item that inserted nothing
		}
		sc = e.appendItem(out, r, sc, run, vars)
	}
	return sc
}

// appendItem adds an evaluated item to a sequence. Template references remember their
// scope; in a variables list they are expanded on the spot and every definition is added
// to the scope.
func (e *expander) appendItem(out, item *syntax.Node, sc *scope, run *evalRun, vars bool) *scope {
	if isTemplateRef(item) {
		run.refs[item] = sc
		if vars {
			for _, it := range e.include(item, variableList, run) {
				sc = e.appendItem(out, it, sc, run, vars)
			}
			return sc
		}
	}
	out.Items = append(out.Items, item)
	if vars {
		if name := item.Get("name"); name != nil {
			sc = sc.withVariables([]variableDef{{name.StringValue(), item.Get("value").StringValue()}})
		}
	}
	return sc
}

func (e *expander) evalItemDirective(p syntax.Pair, c *chain, sc *scope, out *syntax.Node, run *evalRun, vars bool) *scope {
	d, _, err := expr.ParseDirective(p.Key.Value, sc.options())
	if err != nil {
		e.add(syntax.ExprError(p.Key, err))
		*c = chain{}
		return sc
	}
	body := p.Value
	var bodyItems []*syntax.Node
	switch body.Kind {
	case syntax.Sequence:
		bodyItems = body.Items
	case syntax.Scalar:
		if !body.IsNull() {
			bodyItems = []*syntax.Node{body}
		}
	}
	switch d.Kind {
	case expr.DirectiveIf, expr.DirectiveElseIf, expr.DirectiveElse:
		if e.branch(d, p.Key.Pos, c, sc) {
			sc = e.evalItems(bodyItems, sc, out, run, vars)
		}
	case expr.DirectiveEach:
		*c = chain{}
		for _, v := range e.collection(d, p.Key.Pos, sc) {
			if !e.charge(p.Key.Pos, 64) {
				break
			}
			sc = sc.varsFrom(e.evalItems(bodyItems, sc.withLoop(d.Var, v), out, run, vars))
		}
	case expr.DirectiveInsert:
		e.errorf(p.Key.Pos, "the insert directive inserts into a mapping; use an expression to insert into a sequence")
	}
	return sc
}
