package expand

import (
	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// values converts between YAML nodes and expression values. Mappings and sequences keep
// their identity across a round trip: a parameter's steps inserted by `${{ }}` come back
// as the very nodes the caller wrote, with their files, positions and styles.
type values struct {
	objects map[*expr.Object]*syntax.Node
	arrays  map[*expr.Value]*syntax.Node // keyed by the first element's address
	cache   map[*syntax.Node]expr.Value
}

func newValues() *values {
	return &values{
		objects: map[*expr.Object]*syntax.Node{},
		arrays:  map[*expr.Value]*syntax.Node{},
		cache:   map[*syntax.Node]expr.Value{},
	}
}

// toValue converts an evaluated node (no directives left) to an expression value.
func (vs *values) toValue(n *syntax.Node) expr.Value {
	if n == nil {
		return expr.Null()
	}
	if v, ok := vs.cache[n]; ok {
		return v
	}
	var v expr.Value
	switch n.Kind {
	case syntax.Mapping:
		o := expr.NewObject()
		for _, p := range n.Pairs {
			o.Set(p.Key.Value, vs.toValue(p.Value))
		}
		v = expr.ObjectValue(o)
		vs.objects[o] = n
	case syntax.Sequence:
		items := make([]expr.Value, len(n.Items))
		for i, item := range n.Items {
			items[i] = vs.toValue(item)
		}
		v = expr.Array(items...)
		if len(items) > 0 {
			vs.arrays[&v.Items()[0]] = n
		}
	default:
		v = n.ScalarValue()
	}
	vs.cache[n] = v
	return v
}

// toNode converts an expression result to a node at pos. Arrays and objects that came
// from nodes are returned as those nodes.
func (vs *values) toNode(v expr.Value, pos plan.Pos) *syntax.Node {
	switch v.Kind() {
	case expr.KindNull:
		return syntax.NewScalar("", syntax.Null, pos)
	case expr.KindBool:
		if v.ToBool() {
			return syntax.NewScalar("true", syntax.Bool, pos)
		}
		return syntax.NewScalar("false", syntax.Bool, pos)
	case expr.KindNumber:
		s, _ := v.ToString()
		if syntax.Resolve(s) != syntax.Number {
			return syntax.NewString(s, pos) // NaN and infinities print as words
		}
		return syntax.NewScalar(s, syntax.Number, pos)
	case expr.KindObject:
		o := v.Object()
		if n, ok := vs.objects[o]; ok {
			return n
		}
		m := syntax.NewMapping(pos)
		for k, item := range o.All() {
			m.Pairs = append(m.Pairs, syntax.Pair{Key: syntax.NewString(k, pos), Value: vs.toNode(item, pos)})
		}
		return m
	case expr.KindArray:
		items := v.Items()
		if len(items) > 0 {
			if n, ok := vs.arrays[&items[0]]; ok {
				return n
			}
		}
		s := syntax.NewSequence(pos)
		for _, item := range items {
			s.Items = append(s.Items, vs.toNode(item, pos))
		}
		return s
	}
	s, _ := v.ToString()
	return syntax.NewString(s, pos)
}

// toGo converts a value to plain Go data for plan.Plan.Parameters.
func toGo(v expr.Value) any {
	switch v.Kind() {
	case expr.KindNull:
		return nil
	case expr.KindBool:
		return v.ToBool()
	case expr.KindNumber:
		f, _ := v.ToNumber()
		return f
	case expr.KindArray:
		out := make([]any, 0, len(v.Items()))
		for _, item := range v.Items() {
			out = append(out, toGo(item))
		}
		return out
	case expr.KindObject:
		out := map[string]any{}
		for k, item := range v.Object().All() {
			out[k] = toGo(item)
		}
		return out
	}
	s, _ := v.ToString()
	return s
}
