package authz

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type condTokKind uint8

const (
	tokEOF condTokKind = iota
	tokErr
	tokLParen
	tokRParen
	tokLBrace
	tokRBrace
	tokComma
	tokNot    // !
	tokAnd    // &&
	tokOr     // ||
	tokString // 'text' (text holds the content)
	tokAttr   // @Source[name]
	tokWord   // identifiers, keywords, operators, GUIDs
)

type condToken struct {
	kind condTokKind
	text string
	pos  int
}

// is reports whether the token is the word w, ignoring case.
func (t condToken) is(w string) bool { return t.kind == tokWord && strings.EqualFold(t.text, w) }

func (t condToken) String() string {
	switch t.kind {
	case tokEOF:
		return "the end of the condition"
	case tokErr:
		return t.text
	case tokString:
		return fmt.Sprintf("'%s'", clip(t.text))
	}
	return fmt.Sprintf("%q", clip(t.text))
}

// condLexer splits a condition into tokens. It never panics: a character it cannot place
// becomes a tokErr token, which the parser reports.
type condLexer struct {
	src string
	pos int
}

func isWordByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == ':' || c == '-' || c == '_' || c == '/' || c == '$' || c == '*'
}

func singleToken(c byte) condTokKind {
	switch c {
	case '(':
		return tokLParen
	case ')':
		return tokRParen
	case '{':
		return tokLBrace
	case '}':
		return tokRBrace
	case ',':
		return tokComma
	case '!':
		return tokNot
	}
	return tokEOF
}

func (l *condLexer) next() condToken {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return condToken{kind: tokEOF, pos: start}
	}
	c := l.src[l.pos]
	if k := singleToken(c); k != tokEOF {
		l.pos++
		return condToken{kind: k, text: l.src[start:l.pos], pos: start}
	}
	switch c {
	case '&', '|':
		if l.pos+1 < len(l.src) && l.src[l.pos+1] == c {
			l.pos += 2
			if c == '&' {
				return condToken{kind: tokAnd, text: "&&", pos: start}
			}
			return condToken{kind: tokOr, text: "||", pos: start}
		}
	case '\'', '"':
		end := strings.IndexByte(l.src[l.pos+1:], c)
		if end < 0 {
			l.pos = len(l.src)
			return condToken{kind: tokErr, text: "an unterminated string", pos: start}
		}
		text := l.src[l.pos+1 : l.pos+1+end]
		l.pos += end + 2
		return condToken{kind: tokString, text: text, pos: start}
	case '@':
		end := strings.IndexByte(l.src[l.pos:], ']')
		if end < 0 {
			l.pos = len(l.src)
			return condToken{kind: tokErr, text: "an attribute without ']'", pos: start}
		}
		text := l.src[l.pos : l.pos+end+1]
		l.pos += end + 1
		if strings.Count(text, "[") != 1 {
			return condToken{kind: tokErr, text: fmt.Sprintf("the malformed attribute %q", clip(text)), pos: start}
		}
		return condToken{kind: tokAttr, text: text, pos: start}
	}
	if isWordByte(c) {
		for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
			l.pos++
		}
		return condToken{kind: tokWord, text: l.src[start:l.pos], pos: start}
	}
	r, size := utf8.DecodeRuneInString(l.src[l.pos:])
	l.pos += size
	return condToken{kind: tokErr, text: fmt.Sprintf("the character %q", r), pos: start}
}
