// Package odata parses the small subset of OData $filter expressions that Azure clients send
// to ARM and Microsoft Graph: terms joined by "and", each a comparison (name eq 'value'), a
// function call (atScope(), assignedTo('id'), startswith(displayName,'x')) or a lambda over a
// collection (servicePrincipalNames/any(c:c eq 'x')). Callers decide which terms they
// support and refuse the rest with a clear error; no OData library is used because the
// grammar Keystage needs is a handful of fixed shapes.
package odata

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLength bounds a filter expression.
const MaxLength = 2048

// Term is one term of a filter.
type Term struct {
	// Name is the property, function or collection path as written: "principalId",
	// "assignedTo", "servicePrincipalNames/any".
	Name string
	// Call is set for name(args…).
	Call bool
	// Args are the arguments of a call: quoted literals unescaped, identifiers as written.
	// A lambda argument (c:c eq 'x') gives its literal in Any instead.
	Args []string
	// Any is the literal of a lambda call (collection/any(v:v eq 'literal')).
	Any string
	// Lambda marks a lambda call.
	Lambda bool
	// Value is the literal of a comparison (name eq 'value').
	Value string
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("odata: invalid filter")

// Parse splits s into its terms. An empty s has no terms.
func Parse(s string) ([]Term, error) {
	if len(s) > MaxLength {
		return nil, fmt.Errorf("it is longer than %d characters: %w", MaxLength, ErrSyntax)
	}
	p := &parser{s: s}
	p.space()
	if p.eof() {
		return nil, nil
	}
	var terms []Term
	for {
		p.space()
		t, err := p.term()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", err.Error(), ErrSyntax)
		}
		terms = append(terms, t)
		p.space()
		if p.eof() {
			return terms, nil
		}
		if !p.keyword("and") {
			return nil, fmt.Errorf("terms must be joined by 'and': %w", ErrSyntax)
		}
	}
}

type parser struct {
	s string
	i int
}

type parseError string

func (e parseError) Error() string { return string(e) }

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

func (p *parser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *parser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == '/' || c == '.' || c == '@' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// keyword consumes word (case-insensitive) followed by a space.
func (p *parser) keyword(word string) bool {
	end := p.i + len(word)
	if end < len(p.s) && strings.EqualFold(p.s[p.i:end], word) && p.s[end] == ' ' {
		p.i = end
		return true
	}
	return false
}

// quoted reads a string literal in single quotes, where two single quotes stand for one.
func (p *parser) quoted() (string, error) {
	if !p.peek('\'') {
		return "", parseError("expected a quoted value")
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '\'' {
			b.WriteByte(c)
			continue
		}
		if p.peek('\'') {
			b.WriteByte('\'')
			p.i++
			continue
		}
		return b.String(), nil
	}
	return "", parseError("a quoted value is not closed")
}

func (p *parser) term() (Term, error) {
	name := p.ident()
	if name == "" {
		return Term{}, parseError("expected a term")
	}
	if p.peek('(') {
		p.i++
		return p.call(name)
	}
	p.space()
	if !p.keyword("eq") {
		return Term{}, parseError("only 'eq' comparisons are supported")
	}
	p.space()
	v, err := p.quoted()
	if err != nil {
		return Term{}, err
	}
	return Term{Name: name, Value: v}, nil
}

// call parses the arguments of name( … ), the '(' consumed.
func (p *parser) call(name string) (Term, error) {
	t := Term{Name: name, Call: true}
	p.space()
	if p.peek(')') {
		p.i++
		return t, nil
	}
	if strings.HasSuffix(strings.ToLower(name), "/any") {
		v := p.ident()
		if v == "" || !p.peek(':') {
			return Term{}, parseError("expected a lambda such as c:c eq 'value'")
		}
		p.i++
		p.space()
		if p.ident() != v {
			return Term{}, parseError("the lambda must compare its own variable")
		}
		p.space()
		if !p.keyword("eq") {
			return Term{}, parseError("only 'eq' comparisons are supported")
		}
		p.space()
		lit, err := p.quoted()
		if err != nil {
			return Term{}, err
		}
		p.space()
		if !p.peek(')') {
			return Term{}, parseError("expected ')'")
		}
		p.i++
		t.Lambda, t.Any = true, lit
		return t, nil
	}
	for {
		p.space()
		var arg string
		if p.peek('\'') {
			lit, err := p.quoted()
			if err != nil {
				return Term{}, err
			}
			arg = lit
		} else if arg = p.ident(); arg == "" {
			return Term{}, parseError("expected an argument")
		}
		t.Args = append(t.Args, arg)
		p.space()
		switch {
		case p.peek(','):
			p.i++
		case p.peek(')'):
			p.i++
			return t, nil
		default:
			return Term{}, parseError("expected ',' or ')'")
		}
	}
}
