package expr

import (
	"fmt"
	"strings"
	"unicode"
)

// Template is a YAML scalar that may hold `${{ expr }}` template expressions.
type Template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	lit    string
	expr   *Expr // nil for a literal part
	offset int   // byte offset of `${{` in the source
}

// TemplateError is a failure in one `${{ }}` of a template. Offset is the byte offset of
// its `${{` in the scalar, for the caller to turn into a line and column.
type TemplateError struct {
	Offset int
	Err    error
}

func (e *TemplateError) Error() string { return e.Err.Error() }
func (e *TemplateError) Unwrap() error { return e.Err }

// HasTemplate reports whether s contains `${{`, i.e. whether it needs ParseTemplate.
func HasTemplate(s string) bool { return strings.Contains(s, "${{") }

// ParseTemplate splits s into literal text and `${{ }}` expressions, parsing each under
// opts. An expression ends at the first `}}` outside a quoted string, so
// `${{ 'my${{value' }}` escapes a literal `${{`. Directives (if, elseif, else, each,
// insert) are rejected here: see ParseDirective.
func ParseTemplate(s string, opts Options) (*Template, error) {
	t := &Template{src: s}
	i := 0
	for i < len(s) {
		start := strings.Index(s[i:], "${{")
		if start < 0 {
			t.parts = append(t.parts, templatePart{lit: s[i:]})
			break
		}
		start += i
		if start > i {
			t.parts = append(t.parts, templatePart{lit: s[i:start]})
		}
		end := closeExpression(s, start+3)
		if end < 0 {
			return nil, &TemplateError{Offset: start, Err: fmt.Errorf("The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found.")} //nolint:staticcheck // Azure's wording
		}
		inner := s[start+3 : end-1]
		trimmed := strings.TrimFunc(inner, unicode.IsSpace)
		if trimmed == "" {
			return nil, &TemplateError{Offset: start, Err: fmt.Errorf("An expression was expected")} //nolint:staticcheck // Azure's wording
		}
		if kind, ok := directiveWord(trimmed); ok {
			if start == 0 && end+1 == len(s) {
				return nil, &TemplateError{Offset: start, Err: fmt.Errorf("The expression directive '%s' is not supported in this context", kind)} //nolint:staticcheck // Azure's wording
			}
			return nil, &TemplateError{Offset: start, Err: fmt.Errorf("The directive '%s' is not allowed in this context. Directives are not supported for expressions that are embedded within a string. Directives are only supported when the entire value is an expression.", kind)} //nolint:staticcheck // Azure's wording
		}
		e, err := ParseWith(trimmed, opts)
		if err != nil {
			return nil, &TemplateError{Offset: start, Err: err}
		}
		t.parts = append(t.parts, templatePart{expr: e, offset: start})
		i = end + 1
	}
	// `${{ 'literal' }}` alone is just that string.
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		if v, ok := t.parts[0].expr.Literal(); ok && v.kind == KindString {
			t.parts[0] = templatePart{lit: v.str}
		}
	}
	return t, nil
}

// closeExpression returns the index of the second '}' of the `}}` closing an expression
// whose text starts at i, skipping quoted strings, or -1.
func closeExpression(s string, i int) int {
	inString := false
	for ; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inString = !inString // a doubled quote toggles twice
		case !inString && s[i] == '}' && s[i-1] == '}':
			return i
		}
	}
	return -1
}

// IsLiteral reports whether the template holds no expression (after unescaping
// `${{ 'literal' }}`), so it evaluates to a string without a Context.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Exprs returns the template's expressions in order, e.g. to check what they reference.
func (t *Template) Exprs() []*Expr {
	var out []*Expr
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr)
		}
	}
	return out
}

// Source returns the scalar the template was parsed from.
func (t *Template) Source() string { return t.src }

// Eval evaluates the template. A scalar that is exactly one `${{ }}` yields the
// expression's typed value (an object parameter stays an object); otherwise each
// expression's value is converted to a string and spliced into the text, and an array or
// object there is an error.
func (t *Template) Eval(ctx *Context) (Value, error) {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		v, err := t.parts[0].expr.Eval(ctx)
		if err != nil {
			return Value{}, &TemplateError{Offset: t.parts[0].offset, Err: err}
		}
		return v, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.expr.Eval(ctx)
		if err != nil {
			return Value{}, &TemplateError{Offset: p.offset, Err: err}
		}
		s, ok := v.ToString()
		if !ok {
			return Value{}, &TemplateError{Offset: p.offset, Err: convError(v.kind, KindString)}
		}
		b.WriteString(s)
		if b.Len() > maxResultLen {
			return Value{}, &TemplateError{Offset: p.offset, Err: (&evalState{src: t.src}).memoryError()}
		}
	}
	return String(b.String()), nil
}

// DirectiveKind is a template directive.
type DirectiveKind uint8

// The template directives.
const (
	DirectiveIf DirectiveKind = iota + 1
	DirectiveElseIf
	DirectiveElse
	DirectiveEach
	DirectiveInsert
)

func (k DirectiveKind) String() string {
	switch k {
	case DirectiveIf:
		return "if"
	case DirectiveElseIf:
		return "elseif"
	case DirectiveElse:
		return "else"
	case DirectiveEach:
		return "each"
	case DirectiveInsert:
		return "insert"
	}
	return "unknown"
}

// Directive is a parsed `${{ if cond }}`, `${{ elseif cond }}`, `${{ else }}`,
// `${{ each var in collection }}` or `${{ insert }}`.
type Directive struct {
	Kind DirectiveKind
	// Cond is the condition of if and elseif.
	Cond *Expr
	// Var and Collection are the loop variable and the iterated expression of each.
	Var        string
	Collection *Expr
}

func directiveWord(trimmed string) (DirectiveKind, bool) {
	for _, k := range []DirectiveKind{DirectiveInsert, DirectiveIf, DirectiveElseIf, DirectiveElse, DirectiveEach} {
		w := k.String()
		if strings.HasPrefix(trimmed, w) && (len(trimmed) == len(w) || unicode.IsSpace(rune(trimmed[len(w)]))) {
			return k, true
		}
	}
	return 0, false
}

// ParseDirective parses s when it is exactly one `${{ }}` holding a directive, as found
// in mapping keys and sequence items. ok is false when s is not a directive (it may still
// be an ordinary template). Directive words are case-sensitive, as in Azure. The loop
// variable of each is not known to opts; add it for the body's expressions.
func ParseDirective(s string, opts Options) (d *Directive, ok bool, err error) {
	if !strings.HasPrefix(s, "${{") {
		return nil, false, nil
	}
	end := closeExpression(s, 3)
	if end != len(s)-1 {
		return nil, false, nil
	}
	trimmed := strings.TrimFunc(s[3:end-1], unicode.IsSpace)
	kind, isDirective := directiveWord(trimmed)
	if !isDirective {
		return nil, false, nil
	}
	params := splitDirectiveParams(trimmed[len(kind.String()):])
	want := map[DirectiveKind]int{DirectiveIf: 1, DirectiveElseIf: 1, DirectiveElse: 0, DirectiveInsert: 0, DirectiveEach: 3}[kind]
	if len(params) != want {
		return nil, true, fmt.Errorf("Exactly %d parameter(s) were expected following the directive '%s'. Actual parameter count: %d", want, kind, len(params)) //nolint:staticcheck // Azure's wording
	}
	d = &Directive{Kind: kind}
	switch kind {
	case DirectiveIf, DirectiveElseIf:
		if d.Cond, err = ParseWith(params[0], opts); err != nil {
			return nil, true, err
		}
	case DirectiveEach:
		if params[1] != "in" {
			return nil, true, fmt.Errorf("Expected 'in' after the loop variable of the directive 'each'; found '%s'", params[1])
		}
		if !isLegalKeyword(params[0]) {
			return nil, true, fmt.Errorf("The loop variable '%s' of the directive 'each' is not a valid name", params[0])
		}
		d.Var = params[0]
		if d.Collection, err = ParseWith(params[2], opts); err != nil {
			return nil, true, err
		}
	}
	return d, true, nil
}

// splitDirectiveParams splits at white space outside quotes and parentheses.
func splitDirectiveParams(s string) []string {
	var out []string
	start, inString, parens := 0, false, 0
	for i, r := range s {
		switch {
		case unicode.IsSpace(r) && !inString && parens == 0:
			if start < i {
				out = append(out, s[start:i])
			}
			start = i + len(string(r))
		case r == '\'':
			inString = !inString
		case r == '(' && !inString:
			parens++
		case r == ')' && !inString:
			parens--
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// RuntimeExpression reports whether s is entirely one runtime expression `$[ expr ]`
// (surrounding white space allowed) and returns the expression text inside.
func RuntimeExpression(s string) (string, bool) {
	t := strings.TrimFunc(s, unicode.IsSpace)
	if len(t) < 3 || !strings.HasPrefix(t, "$[") || !strings.HasSuffix(t, "]") {
		return "", false
	}
	return strings.TrimFunc(t[2:len(t)-1], unicode.IsSpace), true
}
