package expr

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Context is what an expression can see while it is evaluated: named values
// (variables, parameters, dependencies, pipeline, ...), the status functions' answers and
// the counter hook. The zero Context is empty and usable; a nil *Context acts as one.
// A Context must not be changed while expressions are being evaluated against it; it may
// then be shared between goroutines.
type Context struct {
	named map[string]namedValue

	// Status answers the status functions. When nil they fail with an error.
	Status Status

	// Counter implements counter(prefix, seed): it returns seed the first time prefix is
	// seen for the pipeline and one more than the last value afterwards. The server keeps
	// that state, so when nil counter() fails with an error.
	Counter func(prefix string, seed float64) (float64, error)
}

type namedValue struct {
	v      Value
	lookup func(key string) (Value, bool)
	strict bool
}

// Set binds a named value such as "variables" or "parameters"; names match ignoring case.
// Indexing a missing key gives null.
func (c *Context) Set(name string, v Value) {
	c.set(name, namedValue{v: v})
}

// SetStrict binds a named value whose missing first-level keys are errors ("Key not found
// 'x'"), as Azure treats `parameters` in templates.
func (c *Context) SetStrict(name string, v Value) {
	c.set(name, namedValue{v: v, strict: true})
}

// SetLookup binds a named value that can only be indexed (`variables['A.B']`,
// `variables.X`) and is resolved through lookup, so a large variable set need not be copied
// into an Object for every evaluation. lookup must match keys ignoring case and be safe for
// concurrent use if the Context is shared. Using the name without an index is an error.
func (c *Context) SetLookup(name string, lookup func(key string) (Value, bool)) {
	c.set(name, namedValue{lookup: lookup})
}

// Clone returns a copy of c whose named values can be changed without affecting c, e.g.
// to bind an `each` loop variable for one iteration.
func (c *Context) Clone() *Context {
	if c == nil {
		return &Context{}
	}
	d := *c
	d.named = make(map[string]namedValue, len(c.named)+1)
	for k, v := range c.named {
		d.named[k] = v
	}
	return &d
}

func (c *Context) set(name string, nv namedValue) {
	if c.named == nil {
		c.named = map[string]namedValue{}
	}
	c.named[fold(name)] = nv
}

func (c *Context) get(key string) (namedValue, bool) {
	if c == nil {
		return namedValue{}, false
	}
	nv, ok := c.named[key]
	return nv, ok
}

// maxResultLen caps the strings functions build (format, join, replace, convertToJson and
// interpolation), so that an expression cannot exhaust memory.
const maxResultLen = 1 << 20

// Eval evaluates the expression. Errors are plain errors whose text follows Azure's; they
// never contain variable values, which may be secret.
func (e *Expr) Eval(ctx *Context) (Value, error) {
	st := &evalState{ctx: ctx, src: e.src}
	return e.root.eval(st)
}

// EvalBool evaluates the expression and converts the result to a boolean, as conditions
// and `${{ if }}` do.
func (e *Expr) EvalBool(ctx *Context) (bool, error) {
	v, err := e.Eval(ctx)
	if err != nil {
		return false, err
	}
	return v.ToBool(), nil
}

type evalState struct {
	ctx *Context
	src string
}

func (st *evalState) memoryError() error {
	return fmt.Errorf("The maximum allowed memory size was exceeded while evaluating the following expression: %s", st.src) //nolint:staticcheck // Azure's wording
}

type node interface {
	eval(st *evalState) (Value, error)
	write(b *strings.Builder)
}

type literal struct {
	v   Value
	raw string
}

func (l *literal) eval(*evalState) (Value, error) { return l.v, nil }

func (l *literal) write(b *strings.Builder) {
	switch l.v.kind {
	case KindString:
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(l.v.str, "'", "''"))
		b.WriteByte('\'')
	case KindBool:
		if l.v.num != 0 {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case KindNull:
		b.WriteString("null")
	case KindNumber:
		// The raw text round-trips exactly; normalise only a leading '+'.
		b.WriteString(strings.TrimPrefix(l.raw, "+"))
	default:
		b.WriteString(l.raw)
	}
}

type named struct {
	name string
	key  string // folded
}

func (n *named) eval(st *evalState) (Value, error) {
	nv, ok := st.ctx.get(n.key)
	if !ok {
		return Value{}, nil
	}
	if nv.lookup != nil {
		return Value{}, fmt.Errorf("the named value '%s' can only be used with an index, as in %s['name']", n.name, n.name)
	}
	return nv.v, nil
}

func (n *named) write(b *strings.Builder) { b.WriteString(n.name) }

type index struct {
	base     node
	key      node // nil for a wildcard
	wildcard bool
	folded   string // folded key when key is a string literal
}

func (ix *index) write(b *strings.Builder) {
	ix.base.write(b)
	switch {
	case ix.wildcard:
		b.WriteString(".*")
	case ix.folded != "" || isStringLiteral(ix.key):
		s := ix.key.(*literal).v.str
		if isLegalKeyword(s) && !isReservedWord(s) {
			b.WriteByte('.')
			b.WriteString(s)
			return
		}
		b.WriteByte('[')
		ix.key.write(b)
		b.WriteByte(']')
	default:
		b.WriteByte('[')
		ix.key.write(b)
		b.WriteByte(']')
	}
}

func isStringLiteral(n node) bool {
	l, ok := n.(*literal)
	return ok && l.v.kind == KindString
}

// isReservedWord reports names that read as literals when they follow '.' in Azure's
// newer parser; writing them as `['true']` keeps the canonical form unambiguous.
func isReservedWord(s string) bool {
	switch fold(s) {
	case "TRUE", "FALSE", "NULL":
		return true
	}
	return false
}

func (ix *index) eval(st *evalState) (Value, error) {
	// A lookup-backed named value is only ever indexed.
	if nv, ok := ix.base.(*named); ok && !ix.wildcard {
		if bound, found := st.ctx.get(nv.key); found && (bound.lookup != nil || bound.strict) {
			key, err := ix.keyString(st)
			if err != nil {
				return Value{}, err
			}
			if bound.lookup != nil {
				v, _ := bound.lookup(key)
				return v, nil
			}
			if o := bound.v.Object(); o != nil {
				if v, ok := o.Get(key); ok {
					return v, nil
				}
				return Value{}, fmt.Errorf("Key not found '%s'", key) //nolint:staticcheck // Azure's wording
			}
		}
	}
	base, err := ix.base.eval(st)
	if err != nil {
		return Value{}, err
	}
	var key Value
	if !ix.wildcard {
		if key, err = ix.key.eval(st); err != nil {
			return Value{}, err
		}
	}
	return ix.apply(base, key), nil
}

// keyString evaluates the key of a lookup index as a string.
func (ix *index) keyString(st *evalState) (string, error) {
	k, err := ix.key.eval(st)
	if err != nil {
		return "", err
	}
	s, ok := k.ToString()
	if !ok {
		return "", nil
	}
	return s, nil
}

// apply indexes base by key (or by `*`), following Azure: indexing a non-collection gives
// null; `*` turns an array's items or an object's values into a filtered array, and
// indexing a filtered array indexes every item, keeping the hits.
func (ix *index) apply(base, key Value) Value {
	switch base.kind {
	case KindArray:
		a := base.ref.(*arrayData)
		if a.filtered {
			var out []Value
			for _, item := range a.items {
				out = ix.collect(out, item, key)
			}
			return Value{kind: KindArray, ref: &arrayData{items: out, filtered: true}}
		}
		if ix.wildcard {
			return Value{kind: KindArray, ref: &arrayData{items: a.items, filtered: true}}
		}
		if i, ok := arrayIndex(key); ok && i < len(a.items) {
			return a.items[i]
		}
		return Value{}
	case KindObject:
		o := base.ref.(*Object)
		if ix.wildcard {
			return Value{kind: KindArray, ref: &arrayData{items: o.vals, filtered: true}}
		}
		if v, ok := ix.objectGet(o, key); ok {
			return v
		}
		return Value{}
	default:
		if ix.wildcard {
			return Value{kind: KindArray, ref: &arrayData{filtered: true}}
		}
		return Value{}
	}
}

// collect appends what indexing item by key yields to out (filtered-array semantics).
func (ix *index) collect(out []Value, item, key Value) []Value {
	switch item.kind {
	case KindObject:
		o := item.ref.(*Object)
		if ix.wildcard {
			return append(out, o.vals...)
		}
		if v, ok := ix.objectGet(o, key); ok {
			out = append(out, v)
		}
	case KindArray:
		items := item.ref.(*arrayData).items
		if ix.wildcard {
			return append(out, items...)
		}
		if i, ok := arrayIndex(key); ok && i < len(items) {
			out = append(out, items[i])
		}
	}
	return out
}

func (ix *index) objectGet(o *Object, key Value) (Value, bool) {
	if ix.folded != "" {
		return o.getFolded(ix.folded)
	}
	switch key.kind {
	case KindArray, KindObject:
		return Value{}, false
	}
	s, _ := key.ToString()
	return o.Get(s)
}

// arrayIndex converts an index to a non-negative integer as Azure does (floor; strings
// that are not numbers give no index).
func arrayIndex(key Value) (int, bool) {
	switch key.kind {
	case KindArray, KindObject, KindVersion, KindDateTime:
		return 0, false
	}
	f, ok := key.ToNumber()
	if !ok || math.IsNaN(f) || f < 0 {
		return 0, false
	}
	f = math.Floor(f)
	if f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

type call struct {
	name string
	def  *funcDef
	args []node
}

func (c *call) eval(st *evalState) (Value, error) {
	if c.def == nil {
		return Value{}, fmt.Errorf("Unrecognized function: '%s'", c.name) //nolint:staticcheck // Azure's wording
	}
	return c.def.fn(st, c.args)
}

func (c *call) write(b *strings.Builder) {
	b.WriteString(c.name)
	b.WriteByte('(')
	for i, a := range c.args {
		if i > 0 {
			b.WriteString(", ")
		}
		a.write(b)
	}
	b.WriteByte(')')
}

// evalString evaluates n and converts the result to a string, failing for arrays and
// objects as Azure does.
func evalString(st *evalState, n node) (string, error) {
	v, err := n.eval(st)
	if err != nil {
		return "", err
	}
	s, ok := v.ToString()
	if !ok {
		return "", convError(v.kind, KindString)
	}
	return s, nil
}

func evalBool(st *evalState, n node) (bool, error) {
	v, err := n.eval(st)
	if err != nil {
		return false, err
	}
	return v.ToBool(), nil
}

var errNoCounter = errors.New("counter() is not available here: Azure evaluates it on the server when a run starts")
