package expr

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
)

type funcClass uint8

const (
	classCore    funcClass = iota
	classStatus            // only in conditions
	classCounter           // only in runtime variable values
)

type funcDef struct {
	name     string // Azure's casing
	min, max int    // max < 0: unbounded
	class    funcClass
	fn       func(st *evalState, args []node) (Value, error)
}

// funcs is the read-only function table, keyed by folded name.
var funcs = func() map[string]*funcDef {
	defs := []*funcDef{
		{name: "and", min: 2, max: -1, fn: fnAnd},
		{name: "or", min: 2, max: -1, fn: fnOr},
		{name: "not", min: 1, max: 1, fn: fnNot},
		{name: "xor", min: 2, max: 2, fn: fnXor},
		{name: "eq", min: 2, max: 2, fn: fnEq},
		{name: "ne", min: 2, max: 2, fn: fnNe},
		{name: "gt", min: 2, max: 2, fn: compareFn(func(c int) bool { return c > 0 })},
		{name: "ge", min: 2, max: 2, fn: compareFn(func(c int) bool { return c >= 0 })},
		{name: "lt", min: 2, max: 2, fn: compareFn(func(c int) bool { return c < 0 })},
		{name: "le", min: 2, max: 2, fn: compareFn(func(c int) bool { return c <= 0 })},
		{name: "in", min: 1, max: -1, fn: fnIn},
		{name: "notIn", min: 1, max: -1, fn: fnNotIn},
		{name: "contains", min: 2, max: 2, fn: fnContains},
		{name: "startsWith", min: 2, max: 2, fn: fnStartsWith},
		{name: "endsWith", min: 2, max: 2, fn: fnEndsWith},
		{name: "containsValue", min: 2, max: 2, fn: fnContainsValue},
		{name: "coalesce", min: 2, max: -1, fn: fnCoalesce},
		{name: "format", min: 1, max: -1, fn: fnFormat},
		{name: "join", min: 2, max: 2, fn: fnJoin},
		{name: "length", min: 1, max: 1, fn: fnLength},
		{name: "lower", min: 1, max: 1, fn: fnLower},
		{name: "upper", min: 1, max: 1, fn: fnUpper},
		{name: "replace", min: 3, max: 3, fn: fnReplace},
		{name: "split", min: 2, max: 2, fn: fnSplit},
		{name: "trim", min: 1, max: 1, fn: fnTrim},
		{name: "iif", min: 1, max: 3, fn: fnIif},
		{name: "convertToJson", min: 1, max: 1, fn: fnConvertToJSON},
		{name: "counter", min: 0, max: 2, class: classCounter, fn: fnCounter},
		{name: "always", min: 0, max: 0, class: classStatus, fn: statusFn(Always)},
		{name: "canceled", min: 0, max: 0, class: classStatus, fn: statusFn(Canceled)},
		{name: "failed", min: 0, max: -1, class: classStatus, fn: statusFn(Failed)},
		{name: "succeeded", min: 0, max: -1, class: classStatus, fn: statusFn(Succeeded)},
		{name: "succeededOrFailed", min: 0, max: -1, class: classStatus, fn: statusFn(SucceededOrFailed)},
	}
	m := make(map[string]*funcDef, len(defs))
	for _, d := range defs {
		m[fold(d.name)] = d
	}
	return m
}()

func lookupFunc(name string) *funcDef { return funcs[fold(name)] }

func fnAnd(st *evalState, args []node) (Value, error) {
	for _, a := range args {
		b, err := evalBool(st, a)
		if err != nil || !b {
			return Bool(false), err
		}
	}
	return Bool(true), nil
}

func fnOr(st *evalState, args []node) (Value, error) {
	for _, a := range args {
		b, err := evalBool(st, a)
		if err != nil {
			return Value{}, err
		}
		if b {
			return Bool(true), nil
		}
	}
	return Bool(false), nil
}

func fnNot(st *evalState, args []node) (Value, error) {
	b, err := evalBool(st, args[0])
	return Bool(!b), err
}

func fnXor(st *evalState, args []node) (Value, error) {
	a, err := evalBool(st, args[0])
	if err != nil {
		return Value{}, err
	}
	b, err := evalBool(st, args[1])
	return Bool(a != b), err
}

func evalPair(st *evalState, args []node) (Value, Value, error) {
	l, err := args[0].eval(st)
	if err != nil {
		return Value{}, Value{}, err
	}
	r, err := args[1].eval(st)
	return l, r, err
}

func fnEq(st *evalState, args []node) (Value, error) {
	l, r, err := evalPair(st, args)
	if err != nil {
		return Value{}, err
	}
	return Bool(l.Equal(r)), nil
}

func fnNe(st *evalState, args []node) (Value, error) {
	l, r, err := evalPair(st, args)
	if err != nil {
		return Value{}, err
	}
	return Bool(!l.Equal(r)), nil
}

func compareFn(ok func(int) bool) func(*evalState, []node) (Value, error) {
	return func(st *evalState, args []node) (Value, error) {
		l, r, err := evalPair(st, args)
		if err != nil {
			return Value{}, err
		}
		c, err := l.Compare(r)
		if err != nil {
			return Value{}, err
		}
		return Bool(ok(c)), nil
	}
}

func in(st *evalState, args []node) (bool, error) {
	l, err := args[0].eval(st)
	if err != nil {
		return false, err
	}
	for _, a := range args[1:] {
		r, err := a.eval(st)
		if err != nil {
			return false, err
		}
		if l.Equal(r) {
			return true, nil
		}
	}
	return false, nil
}

func fnIn(st *evalState, args []node) (Value, error) {
	b, err := in(st, args)
	return Bool(b), err
}

func fnNotIn(st *evalState, args []node) (Value, error) {
	b, err := in(st, args)
	return Bool(!b), err
}

func stringPair(st *evalState, args []node) (string, string, error) {
	l, err := evalString(st, args[0])
	if err != nil {
		return "", "", err
	}
	r, err := evalString(st, args[1])
	return l, r, err
}

func fnContains(st *evalState, args []node) (Value, error) {
	l, r, err := stringPair(st, args)
	return Bool(err == nil && indexFold(l, r) >= 0), err
}

func fnStartsWith(st *evalState, args []node) (Value, error) {
	l, r, err := stringPair(st, args)
	return Bool(err == nil && prefixFoldLen(l, r) >= 0), err
}

func fnEndsWith(st *evalState, args []node) (Value, error) {
	l, r, err := stringPair(st, args)
	return Bool(err == nil && hasSuffixFold(l, r)), err
}

// containsValue converts each item to the right parameter's kind (right.Equal(item)).
func fnContainsValue(st *evalState, args []node) (Value, error) {
	l, r, err := evalPair(st, args)
	if err != nil {
		return Value{}, err
	}
	var items []Value
	switch l.kind {
	case KindArray:
		items = l.ref.(*arrayData).items
	case KindObject:
		items = l.ref.(*Object).vals
	}
	for _, item := range items {
		if r.Equal(item) {
			return Bool(true), nil
		}
	}
	return Bool(false), nil
}

// coalesce returns the first argument that is neither null nor ”, or the last one.
func fnCoalesce(st *evalState, args []node) (Value, error) {
	var v Value
	for _, a := range args {
		var err error
		if v, err = a.eval(st); err != nil {
			return Value{}, err
		}
		if !v.isNullLike() {
			return v, nil
		}
	}
	return v, nil
}

// join converts each item to a string (arrays and objects become ”); a non-array right
// parameter is converted to a string itself.
func fnJoin(st *evalState, args []node) (Value, error) {
	r, err := args[1].eval(st)
	if err != nil {
		return Value{}, err
	}
	if r.kind != KindArray {
		s, _ := r.ToString()
		return String(s), nil
	}
	items := r.ref.(*arrayData).items
	if len(items) == 0 {
		return String(""), nil
	}
	var sep string
	if len(items) > 1 {
		if sep, err = evalString(st, args[0]); err != nil {
			return Value{}, err
		}
	}
	var b strings.Builder
	for i, item := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		s, _ := item.ToString()
		b.WriteString(s)
		if b.Len() > maxResultLen {
			return Value{}, st.memoryError()
		}
	}
	return String(b.String()), nil
}

// length counts array items, object keys, or UTF-16 code units of the string form, as
// .NET's String.Length does.
func fnLength(st *evalState, args []node) (Value, error) {
	v, err := args[0].eval(st)
	if err != nil {
		return Value{}, err
	}
	switch v.kind {
	case KindArray:
		return Number(float64(len(v.ref.(*arrayData).items))), nil
	case KindObject:
		return Number(float64(v.ref.(*Object).Len())), nil
	}
	s, _ := v.ToString()
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return Number(float64(n)), nil
}

func fnLower(st *evalState, args []node) (Value, error) {
	s, err := evalString(st, args[0])
	return String(strings.ToLower(s)), err
}

func fnUpper(st *evalState, args []node) (Value, error) {
	s, err := evalString(st, args[0])
	return String(strings.ToUpper(s)), err
}

func fnTrim(st *evalState, args []node) (Value, error) {
	s, err := evalString(st, args[0])
	return String(strings.TrimFunc(s, unicode.IsSpace)), err
}

// replace substitutes every occurrence of old (matched ignoring case) with new.
func fnReplace(st *evalState, args []node) (Value, error) {
	s, err := evalString(st, args[0])
	if err != nil {
		return Value{}, err
	}
	old, err := evalString(st, args[1])
	if err != nil {
		return Value{}, err
	}
	repl, err := evalString(st, args[2])
	if err != nil {
		return Value{}, err
	}
	if old == "" {
		return Value{}, errors.New("replace: the string to replace must not be empty")
	}
	out, ok := replaceFold(s, old, repl, maxResultLen)
	if !ok {
		return Value{}, st.memoryError()
	}
	return String(out), nil
}

// replaceFold replaces every occurrence of old in s, matched ignoring case, with repl. ok
// is false when the result would exceed limit.
func replaceFold(s, old, repl string, limit int) (string, bool) {
	var b strings.Builder
	if isASCII(s) && isASCII(old) {
		fs, fo := fold(s), fold(old)
		i := 0
		for {
			j := strings.Index(fs[i:], fo)
			if j < 0 {
				break
			}
			b.WriteString(s[i : i+j])
			b.WriteString(repl)
			if b.Len() > limit {
				return "", false
			}
			i += j + len(old)
		}
		b.WriteString(s[i:])
		return b.String(), b.Len() <= limit
	}
	for {
		i := indexFold(s, old)
		if i < 0 {
			b.WriteString(s)
			break
		}
		n := prefixFoldLen(s[i:], old)
		b.WriteString(s[:i])
		b.WriteString(repl)
		if b.Len() > limit {
			return "", false
		}
		s = s[i+n:]
	}
	return b.String(), b.Len() <= limit
}

// split cuts the first parameter at every occurrence of the second (a string separator,
// matched exactly); empty pieces are kept. An empty separator gives the whole string.
func fnSplit(st *evalState, args []node) (Value, error) {
	s, sep, err := stringPair(st, args)
	if err != nil {
		return Value{}, err
	}
	if sep == "" {
		return Array(String(s)), nil
	}
	parts := strings.Split(s, sep)
	items := make([]Value, len(parts))
	for i, p := range parts {
		items[i] = String(p)
	}
	return Array(items...), nil
}

// iif evaluates all its parameters, as Azure does, and returns the second when the first
// is true and the third otherwise (null when absent).
func fnIif(st *evalState, args []node) (Value, error) {
	cond, err := evalBool(st, args[0])
	if err != nil {
		return Value{}, err
	}
	var vals [2]Value
	for i := 1; i < len(args); i++ {
		if vals[i-1], err = args[i].eval(st); err != nil {
			return Value{}, err
		}
	}
	if cond {
		return vals[0], nil
	}
	return vals[1], nil
}

func fnConvertToJSON(st *evalState, args []node) (Value, error) {
	v, err := args[0].eval(st)
	if err != nil {
		return Value{}, err
	}
	var b strings.Builder
	if !writeJSON(&b, v, "  ", maxResultLen) {
		return Value{}, st.memoryError()
	}
	return String(b.String()), nil
}

func fnCounter(st *evalState, args []node) (Value, error) {
	if st.ctx == nil || st.ctx.Counter == nil {
		return Value{}, errNoCounter
	}
	var prefix string
	var seed float64
	if len(args) > 0 {
		var err error
		if prefix, err = evalString(st, args[0]); err != nil {
			return Value{}, err
		}
	}
	if len(args) > 1 {
		v, err := args[1].eval(st)
		if err != nil {
			return Value{}, err
		}
		f, ok := v.ToNumber()
		if !ok {
			return Value{}, fmt.Errorf("counter: the seed must be a number: %w", convError(v.kind, KindNumber))
		}
		seed = f
	}
	n, err := st.ctx.Counter(prefix, seed)
	if err != nil {
		return Value{}, fmt.Errorf("counter: %w", err)
	}
	return Number(n), nil
}
