package expand

import (
	"io/fs"

	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// verbatim are root keys Azure does not evaluate: runtime parameter declarations,
// triggers and resources (expressions there were reported by the schema check).
var verbatim = map[string]bool{"parameters": true, "trigger": true, "pr": true, "schedules": true, "resources": true}

// rootLists are the lists of a pipeline root (or extends template) holding templates.
var rootLists = map[string]listKind{"stages": stageList, "jobs": jobList, "steps": stepList, "variables": variableList}

// run expands the pipeline file name.
func (e *expander) run(name string) *Result {
	pos := plan.Pos{File: name, Line: 1, Column: 1}
	if !fs.ValidPath(name) || name == "." {
		e.errorf(pos, "pipeline path %s is not a path inside the repository", name)
		return nil
	}
	doc := e.load(name, syntax.PipelineShape, pos)
	if doc == nil {
		return nil
	}
	if doc.Kind != syntax.Mapping {
		if doc.IsNull() {
			e.errorf(doc.Pos, "the pipeline file is empty")
		}
		return nil // otherwise the schema check reported it
	}
	decls, _ := declarations(doc.Get("parameters"))
	params, plain := e.runtimeParameters(decls, pos)
	run := &evalRun{root: newScope(params, true, e.rootVariables()), refs: map[*syntax.Node]*scope{}}
	out := syntax.NewMapping(doc.Pos)
	sc := run.root
	var group []syntax.Pair
	flush := func() {
		sc = e.evalPairs(group, sc, out, run, false)
		group = nil
	}
	for _, p := range doc.Pairs {
		if verbatim[p.Key.Value] {
			flush()
			e.put(out, p.Key, p.Value)
			continue
		}
		group = append(group, p)
	}
	flush()
	out = e.extend(out, sc, run)
	final := e.expandIn(out, run, rootLists)
	if e.failed() {
		return nil
	}
	return &Result{Pipeline: final, Parameters: plain, Files: e.order}
}

// extend resolves `extends:`, repeatedly since an extends template may extend another.
// The template provides the stages, jobs or steps; variables of both are kept (the
// pipeline's first), and the pipeline's trigger wins over the template's.
func (e *expander) extend(out *syntax.Node, sc *scope, run *evalRun) *syntax.Node {
	for depth := 1; ; depth++ {
		ext := out.Get("extends")
		if ext == nil || ext.Kind != syntax.Mapping || e.failed() {
			return out
		}
		tk, tv := ext.Lookup("template")
		if tv == nil || tv.Kind != syntax.Scalar || tv.IsNull() {
			return out // reported by the schema check
		}
		if depth > e.opts.MaxDepth {
			e.errorf(tk.Pos, "extends templates are nested more than %d levels deep, Azure's limit", e.opts.MaxDepth)
			e.overLimit = true
			return out
		}
		name, err := resolve(tv.StringValue(), tv.Pos.File)
		if err != nil {
			e.errorf(tv.Pos, "%v", err)
			return out
		}
		doc := e.load(name, syntax.ExtendsTemplateShape, tv.Pos)
		if doc == nil || doc.Kind != syntax.Mapping {
			return out
		}
		decls, legacy := declarations(doc.Get("parameters"))
		params := e.bind(decls, legacy, ext.Get("parameters"), tv.Pos)
		child := &evalRun{depth: depth, root: newScope(params, !legacy, sc.vars), refs: run.refs}
		tout := syntax.NewMapping(doc.Pos)
		e.evalPairs(withoutKey(doc.Pairs, "parameters"), child.root, tout, child, false)
		out = e.merge(out, tout)
	}
}

// merge combines a pipeline root with the evaluated extends template it names.
func (e *expander) merge(root, tmpl *syntax.Node) *syntax.Node {
	out := syntax.NewMapping(root.Pos)
	for _, p := range root.Pairs {
		switch p.Key.Value {
		case "extends":
		case "variables":
			if tv := tmpl.Get("variables"); tv != nil {
				e.put(out, p.Key, variablesList(p.Value.Pos, p.Value, tv))
				continue
			}
			e.put(out, p.Key, p.Value)
		case "resources":
			e.put(out, p.Key, mergeResources(p.Value, tmpl.Get("resources")))
		default:
			e.put(out, p.Key, p.Value)
		}
	}
	for _, p := range tmpl.Pairs {
		switch p.Key.Value {
		case "variables", "resources", "trigger":
			if root.Get(p.Key.Value) == nil {
				e.put(out, p.Key, p.Value)
			}
		default:
			e.put(out, p.Key, p.Value)
		}
	}
	return out
}

// mergeResources concatenates the repository lists of two resources blocks.
func mergeResources(a, b *syntax.Node) *syntax.Node {
	if b == nil || b.Kind != syntax.Mapping || a.Kind != syntax.Mapping {
		return a
	}
	out := syntax.NewMapping(a.Pos)
	for _, p := range a.Pairs {
		if p.Key.Value == "repositories" {
			if br := b.Get("repositories"); br != nil && br.Kind == syntax.Sequence && p.Value.Kind == syntax.Sequence {
				merged := syntax.NewSequence(p.Value.Pos, append(append([]*syntax.Node{}, p.Value.Items...), br.Items...)...)
				out.Pairs = append(out.Pairs, syntax.Pair{Key: p.Key, Value: merged})
				continue
			}
		}
		out.Pairs = append(out.Pairs, p)
	}
	for _, p := range b.Pairs {
		if a.Get(p.Key.Value) == nil {
			out.Pairs = append(out.Pairs, p)
		}
	}
	return out
}
