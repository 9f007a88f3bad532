package expr

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth and MaxLength are Azure's limits on an expression's nesting and length.
const (
	MaxDepth  = 50
	MaxLength = 21000
)

// SyntaxError is a parse failure. Its message follows Azure's, e.g.
// "Unrecognized value: 'x'. Located at position 5 within expression: eq(1, x)".
type SyntaxError struct {
	// Msg says what is wrong ("Unexpected symbol", "Unrecognized function", ...).
	Msg string
	// Token is the offending text; empty for errors about the whole expression.
	Token string
	// Pos is the 1-based character (not byte) position of Token in Expr; 0 when Token is empty.
	Pos int
	// Offset is the 0-based byte offset of Token in Expr.
	Offset int
	// Expr is the expression text.
	Expr string
}

func (e *SyntaxError) Error() string {
	if e.Token == "" && e.Pos == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%s: '%s'. Located at position %d within expression: %s", e.Msg, e.Token, e.Pos, e.Expr)
}

// Options restricts what an expression may reference. The zero Options allows any named
// value and the general functions only (no status functions, no counter).
type Options struct {
	// NamedValues lists the legal root names (matched ignoring case); nil allows any name.
	NamedValues []string
	// StatusFunctions allows always(), canceled(), failed(), succeeded() and
	// succeededOrFailed(), which Azure allows only in conditions.
	StatusFunctions bool
	// Counter allows counter(), which Azure allows only in runtime variable values.
	Counter bool
}

// Level says where a condition is evaluated.
type Level uint8

// Condition levels.
const (
	LevelStep Level = iota
	LevelJob
	LevelStage
)

// TemplateOptions is for `${{ }}` expressions: parameters and variables, plus names the
// template engine binds (such as `each` loop variables).
func TemplateOptions(names ...string) Options {
	return Options{NamedValues: append([]string{"parameters", "variables"}, names...)}
}

// ConditionOptions is for `condition:` at the given level, with the status functions and
// the named values Azure offers there: variables for steps; also pipeline and dependencies
// for stages; also stageDependencies for jobs.
func ConditionOptions(level Level) Options {
	o := Options{StatusFunctions: true}
	switch level {
	case LevelStage:
		o.NamedValues = []string{"variables", "pipeline", "dependencies"}
	case LevelJob:
		o.NamedValues = []string{"variables", "pipeline", "dependencies", "stageDependencies"}
	default:
		o.NamedValues = []string{"variables"}
	}
	return o
}

// RuntimeVariableOptions is for `$[ ]` variable values: variables, resources, pipeline,
// dependencies and stageDependencies, and counter().
func RuntimeVariableOptions() Options {
	return Options{
		NamedValues: []string{"variables", "resources", "pipeline", "dependencies", "stageDependencies"},
		Counter:     true,
	}
}

// Expr is a parsed expression. It is immutable and safe for concurrent use.
type Expr struct {
	src  string
	root node
}

// Parse parses expression text (without its `${{ }}`, `$[ ]` wrapper), allowing any named
// value and every function including the status functions and counter().
func Parse(src string) (*Expr, error) {
	return ParseWith(src, Options{StatusFunctions: true, Counter: true})
}

// ParseWith parses expression text under opts.
func ParseWith(src string, opts Options) (*Expr, error) {
	p := parser{lex: lexer{src: src}, src: src, opts: opts}
	if len(src) > MaxLength {
		return nil, &SyntaxError{Msg: fmt.Sprintf("Exceeded max expression length %d", MaxLength), Expr: src}
	}
	if opts.NamedValues != nil {
		p.names = make(map[string]bool, len(opts.NamedValues))
		for _, n := range opts.NamedValues {
			p.names[fold(n)] = true
		}
	}
	p.advance()
	if p.tok.kind == tkEOF {
		return nil, &SyntaxError{Msg: "Expected an expression", Expr: src}
	}
	root, err := p.parseOperand(1)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tkEOF {
		return nil, p.errAt(p.tok, "Unexpected symbol")
	}
	if p.unrecognized != nil {
		return nil, p.unrecognized
	}
	return &Expr{src: src, root: root}, nil
}

type parser struct {
	lex   lexer
	src   string
	opts  Options
	names map[string]bool
	tok   token
	// unrecognized holds the first unknown name; syntax errors found later win over it,
	// as in Azure.
	unrecognized *SyntaxError
}

func (p *parser) advance() { p.tok = p.lex.next() }

func (p *parser) errAt(t token, msg string) *SyntaxError {
	if t.kind == tkEOF {
		return &SyntaxError{Msg: "Unexpected end of expression", Expr: p.src}
	}
	return &SyntaxError{
		Msg:    msg,
		Token:  t.raw,
		Pos:    utf8.RuneCountInString(p.src[:t.pos]) + 1,
		Offset: t.pos,
		Expr:   p.src,
	}
}

func (p *parser) depthError() *SyntaxError {
	return &SyntaxError{Msg: fmt.Sprintf("Exceeded max expression depth %d", MaxDepth), Expr: p.src}
}

// parseOperand parses a literal, a named value or a function call, with any property
// accessors that follow.
func (p *parser) parseOperand(depth int) (node, error) {
	if depth > MaxDepth {
		return nil, p.depthError()
	}
	t := p.tok
	switch t.kind {
	case tkString, tkNumber, tkVersion, tkBool, tkNull:
		p.advance()
		return &literal{v: t.val, raw: t.raw}, nil
	case tkKeyword:
		if p.lex.peekLParen() {
			return p.parseCall(depth)
		}
		p.advance()
		if p.names != nil && !p.names[fold(t.raw)] && p.unrecognized == nil {
			p.unrecognized = p.errAt(t, "Unrecognized named-value")
		}
		return p.parseAccessors(&named{name: t.raw, key: fold(t.raw)}, depth)
	case tkBad:
		// Text that is no token at all, where a value should start.
		return nil, p.errAt(t, "Unrecognized value")
	default:
		return nil, p.errAt(t, "Unexpected symbol")
	}
}

func (p *parser) parseCall(depth int) (node, error) {
	nameTok := p.tok
	p.advance() // name
	p.advance() // '('
	def := lookupFunc(nameTok.raw)
	allowed := def != nil &&
		(def.class == classCore ||
			(def.class == classStatus && p.opts.StatusFunctions) ||
			(def.class == classCounter && p.opts.Counter))
	if !allowed && p.unrecognized == nil {
		p.unrecognized = p.errAt(nameTok, "Unrecognized function")
	}
	var args []node
	if p.tok.kind == tkRParen {
		p.advance()
	} else {
		for {
			if p.tok.kind == tkEOF {
				return nil, p.errAt(nameTok, "Unclosed function")
			}
			arg, err := p.parseOperand(depth + 1)
			if err != nil {
				return nil, err
			}
			args = append(args, arg)
			if p.tok.kind == tkComma {
				p.advance()
				continue
			}
			if p.tok.kind == tkRParen {
				p.advance()
				break
			}
			if p.tok.kind == tkEOF {
				return nil, p.errAt(nameTok, "Unclosed function")
			}
			return nil, p.errAt(p.tok, "Unexpected symbol")
		}
	}
	c := &call{name: nameTok.raw, def: def, args: args}
	if def != nil && allowed {
		c.name = def.name
		if len(args) < def.min {
			return nil, p.errAt(nameTok, "Too few parameters supplied")
		}
		if def.max >= 0 && len(args) > def.max {
			return nil, p.errAt(nameTok, "Too many parameters supplied")
		}
	}
	return p.parseAccessors(c, depth)
}

// parseAccessors parses `.name`, `.*`, `[expr]` and `[*]` after an operand.
func (p *parser) parseAccessors(base node, depth int) (node, error) {
	for {
		switch p.tok.kind {
		case tkDot:
			depth++
			if depth > MaxDepth {
				return nil, p.depthError()
			}
			p.advance()
			switch p.tok.kind {
			case tkBad:
				return nil, p.errAt(p.tok, "Unrecognized value")
			case tkStar:
				base = &index{base: base, wildcard: true}
			case tkKeyword, tkBool, tkNull:
				base = &index{base: base, key: &literal{v: String(p.tok.raw), raw: p.tok.raw}, folded: fold(p.tok.raw)}
			default:
				if p.tok.kind == tkEOF {
					return nil, p.errAt(p.tok, "")
				}
				return nil, p.errAt(p.tok, "Expected a property name to follow the dereference operator '.'")
			}
			p.advance()
		case tkLBracket:
			depth++
			if depth > MaxDepth {
				return nil, p.depthError()
			}
			open := p.tok
			p.advance()
			var ix *index
			if p.tok.kind == tkStar {
				p.advance()
				ix = &index{base: base, wildcard: true}
			} else {
				if p.tok.kind == tkEOF {
					return nil, p.errAt(open, "Unclosed indexer")
				}
				key, err := p.parseOperand(depth + 1)
				if err != nil {
					return nil, err
				}
				ix = &index{base: base, key: key}
				if lit, ok := key.(*literal); ok && lit.v.kind == KindString {
					ix.folded = fold(lit.v.str)
				}
			}
			switch p.tok.kind {
			case tkRBracket:
				p.advance()
			case tkEOF:
				return nil, p.errAt(open, "Unclosed indexer")
			default:
				return nil, p.errAt(p.tok, "Unexpected symbol")
			}
			base = ix
		default:
			return base, nil
		}
	}
}

// String returns the expression in canonical form: function names in Azure's casing,
// properties as `.name` where legal and `['name']` otherwise, literals re-quoted. Parsing
// the result gives an equal expression.
func (e *Expr) String() string {
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

// Source returns the text the expression was parsed from.
func (e *Expr) Source() string { return e.src }

// Literal returns the value of an expression that is a single literal, such as the
// escape `'my${{value'`.
func (e *Expr) Literal() (Value, bool) {
	if l, ok := e.root.(*literal); ok {
		return l.v, true
	}
	return Value{}, false
}

// NamedValues returns the root names the expression references, in first-use order and
// spelled as first written, for callers that must know e.g. whether `dependencies` is used.
func (e *Expr) NamedValues() []string {
	var out []string
	seen := map[string]bool{}
	walk(e.root, func(n node) {
		if nv, ok := n.(*named); ok && !seen[nv.key] {
			seen[nv.key] = true
			out = append(out, nv.name)
		}
	})
	return out
}

// Functions returns the functions the expression calls, in first-use order, in Azure's
// casing.
func (e *Expr) Functions() []string {
	var out []string
	seen := map[string]bool{}
	walk(e.root, func(n node) {
		if c, ok := n.(*call); ok && !seen[fold(c.name)] {
			seen[fold(c.name)] = true
			out = append(out, c.name)
		}
	})
	return out
}

func walk(n node, f func(node)) {
	f(n)
	switch t := n.(type) {
	case *call:
		for _, a := range t.args {
			walk(a, f)
		}
	case *index:
		walk(t.base, f)
		if t.key != nil {
			walk(t.key, f)
		}
	}
}
