package armhttp

import (
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
)

// ARM's $filter is an OData subset that differs per operation. Keystage parses the terms
// the SDKs and az send — atScope(), assignedTo('…'), principalId eq '…', roleName eq '…',
// type eq '…', resourceType eq '…' — joined by "and", and refuses anything else with a clear
// error rather than ignoring it. No OData library is used: the grammar is six fixed terms.

// filterTerm is one term of a $filter: a function call or a comparison.
type filterTerm struct {
	name  string // function or property name, as written
	call  bool   // name(arg) rather than name eq arg
	arg   string // the quoted argument, unescaped ("" for atScope())
	empty bool   // a call without argument
}

const maxFilterLength = 2048

// parseFilter splits a $filter into terms joined by "and".
func parseFilter(s string) ([]filterTerm, error) {
	if len(s) > maxFilterLength {
		return nil, errFilter(s, "it is longer than 2048 characters")
	}
	p := &filterParser{s: s}
	var terms []filterTerm
	for {
		p.space()
		t, err := p.term()
		if err != nil {
			return nil, errFilter(s, err.Error())
		}
		terms = append(terms, t)
		p.space()
		if p.eof() {
			return terms, nil
		}
		if !p.keyword("and") {
			return nil, errFilter(s, "terms must be joined by 'and'")
		}
	}
}

func errFilter(s, why string) error {
	return fault.New(fault.BadRequest, "InvalidFilterInQueryString", "The $filter '%s' is not supported: %s.", clip(s), why)
}

type filterParser struct {
	s string
	i int
}

type parseError string

func (e parseError) Error() string { return string(e) }

func (p *filterParser) eof() bool { return p.i >= len(p.s) }

func (p *filterParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *filterParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == '/' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// keyword consumes word (case-insensitive) followed by a space.
func (p *filterParser) keyword(word string) bool {
	end := p.i + len(word)
	if end < len(p.s) && strings.EqualFold(p.s[p.i:end], word) && p.s[end] == ' ' {
		p.i = end
		return true
	}
	return false
}

// quoted reads an OData string literal: '…' with ” for a quote.
func (p *filterParser) quoted() (string, error) {
	if p.eof() || p.s[p.i] != '\'' {
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
		if p.i < len(p.s) && p.s[p.i] == '\'' {
			b.WriteByte('\'')
			p.i++
			continue
		}
		return b.String(), nil
	}
	return "", parseError("a quoted value is not closed")
}

func (p *filterParser) term() (filterTerm, error) {
	name := p.ident()
	if name == "" {
		return filterTerm{}, parseError("expected a term")
	}
	if !p.eof() && p.s[p.i] == '(' {
		p.i++
		t := filterTerm{name: name, call: true}
		if !p.eof() && p.s[p.i] == ')' {
			p.i++
			t.empty = true
			return t, nil
		}
		arg, err := p.quoted()
		if err != nil {
			return filterTerm{}, err
		}
		if p.eof() || p.s[p.i] != ')' {
			return filterTerm{}, parseError("expected ')'")
		}
		p.i++
		t.arg = arg
		return t, nil
	}
	p.space()
	if !p.keyword("eq") {
		return filterTerm{}, parseError("only 'eq' comparisons are supported")
	}
	p.space()
	arg, err := p.quoted()
	if err != nil {
		return filterTerm{}, err
	}
	return filterTerm{name: name, arg: arg}, nil
}

// parseAssignmentFilter reads a role assignment $filter.
func parseAssignmentFilter(s string) (arm.AssignmentFilter, error) {
	var f arm.AssignmentFilter
	if s == "" {
		return f, nil
	}
	terms, err := parseFilter(s)
	if err != nil {
		return f, err
	}
	for _, t := range terms {
		switch {
		case t.call && t.empty && strings.EqualFold(t.name, "atScope"):
			f.AtScope = true
		case t.call && !t.empty && strings.EqualFold(t.name, "assignedTo"):
			f.AssignedTo = t.arg
		case !t.call && strings.EqualFold(t.name, "principalId"):
			f.PrincipalID = t.arg
		default:
			return f, errFilter(s, "role assignments can be filtered by atScope(), assignedTo('{id}') and principalId eq '{id}'")
		}
	}
	return f, nil
}

// parseRoleDefinitionFilter reads a role definition $filter.
func parseRoleDefinitionFilter(s string) (arm.RoleDefinitionFilter, error) {
	var f arm.RoleDefinitionFilter
	if s == "" {
		return f, nil
	}
	terms, err := parseFilter(s)
	if err != nil {
		return f, err
	}
	for _, t := range terms {
		switch {
		case !t.call && strings.EqualFold(t.name, "roleName"):
			f.RoleName = t.arg
		case !t.call && strings.EqualFold(t.name, "type"):
			f.Type = roleType(t.arg)
		default:
			return f, errFilter(s, "role definitions can be filtered by roleName eq '{name}' and type eq 'BuiltInRole'|'CustomRole'")
		}
	}
	return f, nil
}

// parseResourceTypeFilter reads a /resources $filter: "" or resourceType eq '{type}' for a
// type Keystage serves, returned in canonical case.
func parseResourceTypeFilter(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	terms, err := parseFilter(s)
	if err != nil {
		return "", err
	}
	if len(terms) != 1 || terms[0].call || !strings.EqualFold(terms[0].name, "resourceType") {
		return "", errFilter(s, "resources can be filtered by resourceType eq '{type}' only")
	}
	for _, t := range []string{arm.VaultType, arm.IdentityType} {
		if strings.EqualFold(terms[0].arg, t) {
			return t, nil
		}
	}
	return "none", nil // a type Keystage does not serve: nothing matches
}

// sortByKey sorts items by key, ascending.
func sortByKey[T any](items []T, key func(T) string) {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}
