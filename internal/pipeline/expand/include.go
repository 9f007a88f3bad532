package expand

import (
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// listKind is what a sequence of a pipeline holds, and so what its templates provide.
type listKind uint8

const (
	stageList listKind = iota + 1
	jobList
	stepList
	variableList
)

var listKeys = map[listKind]string{stageList: "stages", jobList: "jobs", stepList: "steps", variableList: "variables"}

var templateShapes = map[listKind]syntax.Shape{
	stageList: syntax.StagesTemplateShape, jobList: syntax.JobsTemplateShape,
	stepList: syntax.StepsTemplateShape, variableList: syntax.VariablesTemplateShape,
}

// isTemplateRef reports whether a list item is `- template: path`.
func isTemplateRef(n *syntax.Node) bool {
	return n != nil && n.Kind == syntax.Mapping && n.Get("template") != nil
}

// include expands one template reference of a list and returns the items it provides,
// themselves fully expanded.
func (e *expander) include(ref *syntax.Node, kind listKind, run *evalRun) []*syntax.Node {
	tk, tv := ref.Lookup("template")
	if tv.Kind != syntax.Scalar || tv.IsNull() {
		e.errorf(tv.Pos, "a template reference needs a file path")
		return nil
	}
	if run.depth+1 > e.opts.MaxDepth {
		e.errorf(tk.Pos, "templates are nested more than %d levels deep, Azure's limit", e.opts.MaxDepth)
		e.overLimit = true
		return nil
	}
	name, err := resolve(tv.StringValue(), tv.Pos.File)
	if err != nil {
		e.errorf(tv.Pos, "%v", err)
		return nil
	}
	doc := e.load(name, templateShapes[kind], tv.Pos)
	if doc == nil || doc.Kind != syntax.Mapping {
		return nil
	}
	sc := run.scopeFor(ref)
	decls, legacy := declarations(doc.Get("parameters"))
	params := e.bind(decls, legacy, ref.Get("parameters"), tv.Pos)
	child := &evalRun{depth: run.depth + 1, root: newScope(params, !legacy, sc.vars), refs: map[*syntax.Node]*scope{}}
	out := syntax.NewMapping(doc.Pos)
	e.evalPairs(withoutKey(doc.Pairs, "parameters"), child.root, out, child, false)
	list := out.Get(listKeys[kind])
	if list == nil || !e.charge(tv.Pos, e.size(list)) {
		return nil
	}
	if kind == variableList {
		return variableItems(list) // evaluation already expanded nested variable templates
	}
	if list.Kind != syntax.Sequence {
		return nil // the schema check of the template reported it
	}
	return e.expandList(list, kind, child).Items
}

func withoutKey(pairs []syntax.Pair, key string) []syntax.Pair {
	out := make([]syntax.Pair, 0, len(pairs))
	for _, p := range pairs {
		if p.Key.Value != key {
			out = append(out, p)
		}
	}
	return out
}

// expandList replaces the template references of a list with what they provide and
// expands the templates inside each stage and job.
func (e *expander) expandList(list *syntax.Node, kind listKind, run *evalRun) *syntax.Node {
	if list == nil || list.Kind != syntax.Sequence || e.failed() {
		return list
	}
	out := syntax.NewSequence(list.Pos)
	for _, item := range list.Items {
		if isTemplateRef(item) {
			out.Items = append(out.Items, e.include(item, kind, run)...)
			continue
		}
		switch kind {
		case stageList:
			item = e.expandIn(item, run, map[string]listKind{"jobs": jobList, "variables": variableList})
		case jobList:
			item = e.expandIn(item, run, map[string]listKind{"steps": stepList, "variables": variableList})
		}
		out.Items = append(out.Items, item)
	}
	return out
}

// expandIn expands the lists under the given keys of a mapping.
func (e *expander) expandIn(n *syntax.Node, run *evalRun, lists map[string]listKind) *syntax.Node {
	if n == nil || n.Kind != syntax.Mapping {
		return n
	}
	out := syntax.NewMapping(n.Pos)
	for _, p := range n.Pairs {
		v := p.Value
		if kind, ok := lists[p.Key.Value]; ok {
			v = e.expandList(v, kind, run)
		}
		out.Pairs = append(out.Pairs, syntax.Pair{Key: p.Key, Value: v})
	}
	return out
}

// evalVariables evaluates a `variables:` block, expands its variable templates on the
// spot, and returns the scope that also sees the variables it defines, for the
// expressions that follow it.
func (e *expander) evalVariables(n *syntax.Node, sc *scope, run *evalRun) (*syntax.Node, *scope) {
	switch {
	case n == nil:
		return n, sc
	case n.Kind == syntax.Mapping:
		out := syntax.NewMapping(n.Pos)
		sc = e.evalPairs(n.Pairs, sc, out, run, true)
		return out, sc
	case n.Kind == syntax.Sequence:
		out := syntax.NewSequence(n.Pos)
		sc = e.evalItems(n.Items, sc, out, run, true)
		return out, sc
	}
	return e.eval(n, sc, run), sc
}

// variableItems returns variables in list form; the mapping form becomes name/value items.
func variableItems(n *syntax.Node) []*syntax.Node {
	switch n.Kind {
	case syntax.Sequence:
		return n.Items
	case syntax.Mapping:
		out := make([]*syntax.Node, 0, len(n.Pairs))
		for _, p := range n.Pairs {
			out = append(out, nameValue(p.Key, p.Value))
		}
		return out
	}
	return nil
}

func nameValue(name, value *syntax.Node) *syntax.Node {
	return syntax.NewMapping(name.Pos,
		syntax.Pair{Key: syntax.NewString("name", name.Pos), Value: syntax.NewString(name.Value, name.Pos)},
		syntax.Pair{Key: syntax.NewString("value", value.Pos), Value: value})
}

// variablesList merges variable blocks into one list-form node at pos.
func variablesList(pos plan.Pos, blocks ...*syntax.Node) *syntax.Node {
	out := syntax.NewSequence(pos)
	for _, b := range blocks {
		if b != nil {
			out.Items = append(out.Items, variableItems(b)...)
		}
	}
	return out
}
