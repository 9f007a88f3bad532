package authz

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupportedCondition is wrapped by ParseCondition errors about conditions that are valid
// Azure ABAC but use a feature Keystage does not evaluate. Such a condition is refused when it
// is written, never stored and silently ignored.
var ErrUnsupportedCondition = errors.New("unsupported condition")

// ErrInvalidCondition is wrapped by ParseCondition errors about malformed conditions.
var ErrInvalidCondition = errors.New("invalid condition")

// MaxConditionLength bounds the text of a condition.
const MaxConditionLength = 8192

const maxConditionDepth = 32

// Condition is a parsed Azure ABAC condition (version 2.0) of the kind that constrains role
// assignment management, as Key Vault Data Access Administrator's and the delegation
// conditions of Role Based Access Control Administrator assignments do:
//
//	((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR
//	 (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {...}
//	  AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'Group'}))
//	AND (...)
//
// Supported: AND/&&, OR/||, NOT/!, parentheses, ActionMatches{'pattern'}; the attributes
// RoleDefinitionId, PrincipalId and PrincipalType of Microsoft.Authorization/roleAssignments
// from @Request or @Resource; the functions GuidEquals, GuidNotEquals, StringEquals,
// StringEqualsIgnoreCase, StringNotEquals and StringNotEqualsIgnoreCase, bare or behind one of
// the quantifiers ForAnyOfAnyValues, ForAllOfAnyValues, ForAnyOfAllValues, ForAllOfAllValues.
// Everything else (SubOperationMatches, @Principal and @Environment attributes, other
// attributes, Like/StartsWith/Numeric/DateTime/Bool/IP operators) is refused by ParseCondition
// with an error naming the feature. As in Azure, AND and OR cannot be mixed at one level
// without parentheses. A Condition is immutable and safe for concurrent use.
type Condition struct {
	text string
	root *condNode
}

// String returns the condition text as given.
func (c *Condition) String() string { return c.text }

// Evaluate reports whether the condition holds for req. An attribute the request does not
// carry makes its comparison false, so a condition fails closed.
func (c *Condition) Evaluate(req *Request) bool { return c.root.eval(req) }

type condKind uint8

const (
	condAnd condKind = iota + 1
	condOr
	condNot
	condActionMatches
	condCompare
)

type condAttr uint8

const (
	attrRoleDefinitionID condAttr = iota + 1
	attrPrincipalID
	attrPrincipalType
)

type condFunc uint8

const (
	fnGuidEquals condFunc = iota + 1
	fnGuidNotEquals
	fnStringEquals
	fnStringEqualsIgnoreCase
	fnStringNotEquals
	fnStringNotEqualsIgnoreCase
)

type condNode struct {
	kind     condKind
	children []*condNode // and, or, not
	pattern  string      // ActionMatches
	resource bool        // @Resource rather than @Request
	attr     condAttr
	fn       condFunc
	all      bool // the right-hand values must all satisfy fn (ForAnyOfAllValues, ForAllOfAllValues)
	values   []string
}

func (n *condNode) eval(req *Request) bool {
	switch n.kind {
	case condAnd:
		for _, c := range n.children {
			if !c.eval(req) {
				return false
			}
		}
		return true
	case condOr:
		for _, c := range n.children {
			if c.eval(req) {
				return true
			}
		}
		return false
	case condNot:
		return !n.children[0].eval(req)
	case condActionMatches:
		return MatchAction(n.pattern, req.Action)
	case condCompare:
		return n.compare(req)
	}
	return false
}

func (n *condNode) compare(req *Request) bool {
	attrs := req.RequestAttributes
	if n.resource {
		attrs = req.ResourceAttributes
	}
	if attrs == nil {
		return false
	}
	var lhs string
	switch n.attr {
	case attrRoleDefinitionID:
		lhs = roleGUID(attrs.RoleDefinitionID)
	case attrPrincipalID:
		lhs = attrs.PrincipalID
	case attrPrincipalType:
		lhs = string(attrs.PrincipalType)
	}
	if lhs == "" {
		return false
	}
	for _, v := range n.values {
		ok := applyFunc(n.fn, lhs, v)
		if n.all && !ok {
			return false
		}
		if !n.all && ok {
			return true
		}
	}
	return n.all
}

func applyFunc(fn condFunc, lhs, v string) bool {
	switch fn {
	case fnGuidEquals, fnStringEqualsIgnoreCase:
		return equalFoldASCII(lhs, v)
	case fnGuidNotEquals, fnStringNotEqualsIgnoreCase:
		return !equalFoldASCII(lhs, v)
	case fnStringEquals:
		return lhs == v
	case fnStringNotEquals:
		return lhs != v
	}
	return false
}

// ParseCondition parses an ABAC condition with its conditionVersion ("2.0"; an empty version
// means 2.0). It refuses, with an error wrapping ErrUnsupportedCondition, any valid Azure
// feature Keystage does not evaluate, and with one wrapping ErrInvalidCondition anything
// malformed.
func ParseCondition(text, version string) (*Condition, error) {
	switch version {
	case "", "2.0":
	case "1.0":
		return nil, fmt.Errorf("authz: conditionVersion 1.0: %w; use 2.0", ErrUnsupportedCondition)
	default:
		return nil, fmt.Errorf("authz: conditionVersion %q: %w; use 2.0", clip(version), ErrInvalidCondition)
	}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("authz: condition: empty: %w", ErrInvalidCondition)
	}
	if len(text) > MaxConditionLength {
		return nil, fmt.Errorf("authz: condition: longer than %d characters: %w", MaxConditionLength, ErrInvalidCondition)
	}
	p := &condParser{lex: condLexer{src: text}}
	p.next()
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.fail(ErrInvalidCondition, "unexpected %s after the end of the condition", p.tok)
	}
	return &Condition{text: text, root: root}, nil
}

type condParser struct {
	lex condLexer
	tok condToken
}

func (p *condParser) next() { p.tok = p.lex.next() }

func (p *condParser) fail(kind error, format string, args ...any) error {
	return fmt.Errorf("authz: condition at offset %d: %s: %w", p.tok.pos, fmt.Sprintf(format, args...), kind)
}

// expr parses operands joined by one logical operator.
func (p *condParser) expr(depth int) (*condNode, error) {
	if depth > maxConditionDepth {
		return nil, p.fail(ErrInvalidCondition, "nested deeper than %d levels", maxConditionDepth)
	}
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	var op condKind
	var n *condNode
	for {
		var k condKind
		switch {
		case p.tok.kind == tokAnd || p.tok.is("AND"):
			k = condAnd
		case p.tok.kind == tokOr || p.tok.is("OR"):
			k = condOr
		default:
			if n == nil {
				return first, nil
			}
			return n, nil
		}
		if op != 0 && k != op {
			return nil, p.fail(ErrInvalidCondition, "AND and OR are mixed without parentheses")
		}
		if n == nil {
			op = k
			n = &condNode{kind: k, children: []*condNode{first}}
		}
		p.next()
		c, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
	}
}

func (p *condParser) unary(depth int) (*condNode, error) {
	if depth > maxConditionDepth {
		return nil, p.fail(ErrInvalidCondition, "nested deeper than %d levels", maxConditionDepth)
	}
	switch {
	case p.tok.kind == tokNot || p.tok.is("NOT"):
		p.next()
		c, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &condNode{kind: condNot, children: []*condNode{c}}, nil
	case p.tok.kind == tokLParen:
		p.next()
		e, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.fail(ErrInvalidCondition, "expected ')' but found %s", p.tok)
		}
		p.next()
		return e, nil
	case p.tok.is("ActionMatches"):
		p.next()
		vals, err := p.values()
		if err != nil {
			return nil, err
		}
		if len(vals) != 1 {
			return nil, p.fail(ErrInvalidCondition, "ActionMatches takes one action pattern")
		}
		if err := checkActionPattern(vals[0], false, maxBuiltinWildcards); err != nil {
			return nil, p.fail(ErrInvalidCondition, "ActionMatches: %v", err)
		}
		return &condNode{kind: condActionMatches, pattern: vals[0]}, nil
	case p.tok.is("SubOperationMatches"):
		return nil, p.fail(ErrUnsupportedCondition, "SubOperationMatches is not supported")
	case p.tok.kind == tokAttr:
		return p.comparison()
	case p.tok.kind == tokEOF:
		return nil, p.fail(ErrInvalidCondition, "unexpected end of the condition")
	}
	return nil, p.fail(ErrInvalidCondition, "unexpected %s", p.tok)
}

// comparison parses "@Source[attribute] Quantifier:Function values".
func (p *condParser) comparison() (*condNode, error) {
	n := &condNode{kind: condCompare}
	source, name, _ := strings.Cut(p.tok.text, "[")
	name = strings.TrimSuffix(name, "]")
	switch {
	case strings.EqualFold(source, "@Request"):
	case strings.EqualFold(source, "@Resource"):
		n.resource = true
	case strings.EqualFold(source, "@Principal"), strings.EqualFold(source, "@Environment"):
		return nil, p.fail(ErrUnsupportedCondition, "attribute source %s is not supported", source)
	default:
		return nil, p.fail(ErrInvalidCondition, "unknown attribute source %q", clip(source))
	}
	ns, attr, found := strings.Cut(name, ":")
	if !found || !strings.EqualFold(ns, "Microsoft.Authorization/roleAssignments") {
		return nil, p.fail(ErrUnsupportedCondition, "attribute %q is not supported; only Microsoft.Authorization/roleAssignments attributes are", clip(name))
	}
	guid := true
	switch {
	case strings.EqualFold(attr, "RoleDefinitionId"):
		n.attr = attrRoleDefinitionID
	case strings.EqualFold(attr, "PrincipalId"):
		n.attr = attrPrincipalID
	case strings.EqualFold(attr, "PrincipalType"):
		n.attr, guid = attrPrincipalType, false
	default:
		return nil, p.fail(ErrUnsupportedCondition, "attribute %q is not supported", clip(name))
	}
	p.next()
	if p.tok.kind != tokWord {
		return nil, p.fail(ErrInvalidCondition, "expected an operator after %s but found %s", name, p.tok)
	}
	opText := p.tok.text
	quant, fnName, hasQuant := strings.Cut(opText, ":")
	if !hasQuant {
		fnName, quant = quant, ""
	}
	if hasQuant {
		switch {
		case strings.EqualFold(quant, "ForAnyOfAnyValues"), strings.EqualFold(quant, "ForAllOfAnyValues"):
		case strings.EqualFold(quant, "ForAnyOfAllValues"), strings.EqualFold(quant, "ForAllOfAllValues"):
			n.all = true
		default:
			return nil, p.fail(ErrInvalidCondition, "unknown quantifier %q", clip(quant))
		}
	}
	if err := p.setFunc(n, fnName, guid); err != nil {
		return nil, err
	}
	p.next()
	vals, err := p.values()
	if err != nil {
		return nil, err
	}
	if !hasQuant && len(vals) != 1 {
		return nil, p.fail(ErrInvalidCondition, "%s takes one value; use ForAnyOfAnyValues:%s for a list", fnName, fnName)
	}
	for _, v := range vals {
		if guid && !isGUID(v) {
			return nil, p.fail(ErrInvalidCondition, "%q is not a GUID", clip(v))
		}
	}
	n.values = vals
	return n, nil
}

func (p *condParser) setFunc(n *condNode, name string, guid bool) error {
	fns := []struct {
		name string
		fn   condFunc
		guid bool
	}{
		{"GuidEquals", fnGuidEquals, true},
		{"GuidNotEquals", fnGuidNotEquals, true},
		{"StringEquals", fnStringEquals, false},
		{"StringEqualsIgnoreCase", fnStringEqualsIgnoreCase, false},
		{"StringNotEquals", fnStringNotEquals, false},
		{"StringNotEqualsIgnoreCase", fnStringNotEqualsIgnoreCase, false},
	}
	for _, f := range fns {
		if !strings.EqualFold(name, f.name) {
			continue
		}
		if f.guid != guid {
			kind := "string"
			if guid {
				kind = "GUID"
			}
			return p.fail(ErrInvalidCondition, "operator %s cannot compare the %s attribute", f.name, kind)
		}
		n.fn = f.fn
		return nil
	}
	for _, prefix := range []string{"String", "Numeric", "DateTime", "Bool", "Ip", "Guid", "Time", "Hash"} {
		if len(name) > len(prefix) && strings.EqualFold(name[:len(prefix)], prefix) {
			return p.fail(ErrUnsupportedCondition, "operator %s is not supported", clip(name))
		}
	}
	return p.fail(ErrInvalidCondition, "unknown operator %q", clip(name))
}

// values parses "{v, v, ...}" or a single value.
func (p *condParser) values() ([]string, error) {
	if p.tok.kind == tokString || p.tok.kind == tokWord {
		v := p.tok.text
		p.next()
		return []string{v}, nil
	}
	if p.tok.kind != tokLBrace {
		return nil, p.fail(ErrInvalidCondition, "expected a value or '{' but found %s", p.tok)
	}
	p.next()
	var vals []string
	for {
		if p.tok.kind != tokString && p.tok.kind != tokWord {
			return nil, p.fail(ErrInvalidCondition, "expected a value but found %s", p.tok)
		}
		vals = append(vals, p.tok.text)
		p.next()
		switch p.tok.kind {
		case tokComma:
			p.next()
		case tokRBrace:
			p.next()
			return vals, nil
		default:
			return nil, p.fail(ErrInvalidCondition, "expected ',' or '}' but found %s", p.tok)
		}
	}
}
