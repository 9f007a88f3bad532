package expand

import (
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
)

// scope is what `${{ }}` expressions see at one point of one file: the file's parameters,
// the compile-time variables defined so far, and `each` loop variables. Scopes are
// immutable; adding to one returns a new scope.
type scope struct {
	params expr.Value
	// strict makes reading an undeclared parameter an error (typed parameters); legacy
	// mapping parameters read as null.
	strict bool
	vars   *expr.Object
	loop   []binding
	ctx    *expr.Context
	opts   *expr.Options
}

type binding struct {
	name  string
	value expr.Value
}

func newScope(params expr.Value, strict bool, vars *expr.Object) *scope {
	return &scope{params: params, strict: strict, vars: vars}
}

// withVariables returns a scope that also sees the variables in defs (name, value pairs in
// order); later definitions win, names match ignoring case.
func (s *scope) withVariables(defs []variableDef) *scope {
	if len(defs) == 0 {
		return s
	}
	vars := expr.NewObject()
	for k, v := range s.vars.All() {
		vars.Set(k, v)
	}
	for _, d := range defs {
		vars.Set(d.name, expr.String(d.value))
	}
	return &scope{params: s.params, strict: s.strict, vars: vars, loop: s.loop}
}

// varsFrom returns s with the variables of other, which was derived from s inside a
// directive body (for example with a loop variable bound).
func (s *scope) varsFrom(other *scope) *scope {
	if other.vars == s.vars {
		return s
	}
	return &scope{params: s.params, strict: s.strict, vars: other.vars, loop: s.loop}
}

// withLoop binds an `each` loop variable.
func (s *scope) withLoop(name string, v expr.Value) *scope {
	loop := make([]binding, 0, len(s.loop)+1)
	for _, b := range s.loop {
		if b.name != name {
			loop = append(loop, b)
		}
	}
	loop = append(loop, binding{name, v})
	return &scope{params: s.params, strict: s.strict, vars: s.vars, loop: loop}
}

// context returns the evaluation context, built once per scope.
func (s *scope) context() *expr.Context {
	if s.ctx == nil {
		ctx := &expr.Context{}
		if s.strict {
			ctx.SetStrict("parameters", s.params)
		} else {
			ctx.Set("parameters", s.params)
		}
		ctx.Set("variables", expr.ObjectValue(s.vars))
		for _, b := range s.loop {
			ctx.Set(b.name, b.value)
		}
		s.ctx = ctx
	}
	return s.ctx
}

// loopNames identifies the loop variables in scope, for caching parses.
func (s *scope) loopNames() string {
	if len(s.loop) == 0 {
		return ""
	}
	names := make([]string, len(s.loop))
	for i, b := range s.loop {
		names[i] = b.name
	}
	return strings.Join(names, ",")
}

// options returns the parse options: template expressions see parameters, variables and
// the loop variables in scope.
func (s *scope) options() expr.Options {
	if s.opts == nil {
		names := make([]string, len(s.loop))
		for i, b := range s.loop {
			names[i] = b.name
		}
		o := expr.TemplateOptions(names...)
		s.opts = &o
	}
	return *s.opts
}

// variableDef is one compile-time variable definition.
type variableDef struct {
	name, value string
}
