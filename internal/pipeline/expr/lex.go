package expr

import "unicode/utf8"

type tokenKind uint8

const (
	tkEOF tokenKind = iota
	tkBad           // unrecognized text
	tkString
	tkNumber
	tkVersion
	tkBool
	tkNull
	tkKeyword // a function name or named value, or a property name after '.'
	tkLParen
	tkRParen
	tkLBracket
	tkRBracket
	tkComma
	tkDot
	tkStar
)

type token struct {
	kind tokenKind
	raw  string // the source text
	pos  int    // byte offset in the expression
	val  Value  // literals
}

// lexer splits an expression into tokens the way Azure's legacy lexer does: no operators,
// no grouping parentheses, '.' starts a number only where an operand may start.
type lexer struct {
	src  string
	i    int
	prev tokenKind
	n    int // tokens produced
}

func isBoundary(c byte) bool {
	switch c {
	case '(', '[', ')', ']', ',', '.', '!', '>', '<', '=', '&', '|':
		return true
	}
	return isDotNetSpace(c)
}

func isSpaceAt(s string, i int) (int, bool) {
	c := s[i]
	if c < utf8.RuneSelf {
		return 1, isDotNetSpace(c)
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return n, true
	}
	return n, r >= 0x2000 && r <= 0x200A
}

func (l *lexer) next() token {
	for l.i < len(l.src) {
		n, ok := isSpaceAt(l.src, l.i)
		if !ok {
			break
		}
		l.i += n
	}
	t := l.scan()
	l.prev = t.kind
	l.n++
	return t
}

// operandPosition reports whether the previous token allows an operand to start here.
func (l *lexer) operandPosition() bool {
	return l.n == 0 || l.prev == tkComma || l.prev == tkLParen || l.prev == tkLBracket
}

func (l *lexer) scan() token {
	if l.i >= len(l.src) {
		return token{kind: tkEOF, pos: len(l.src)}
	}
	start := l.i
	c := l.src[l.i]
	single := func(k tokenKind) token {
		l.i++
		return token{kind: k, raw: l.src[start:l.i], pos: start}
	}
	switch c {
	case '(':
		return single(tkLParen)
	case ')':
		return single(tkRParen)
	case '[':
		return single(tkLBracket)
	case ']':
		return single(tkRBracket)
	case ',':
		return single(tkComma)
	case '*':
		return single(tkStar)
	case '\'':
		return l.scanString()
	case '.':
		if l.operandPosition() {
			return l.scanNumber()
		}
		return single(tkDot)
	}
	if c == '-' || c == '+' || (c >= '0' && c <= '9') {
		return l.scanNumber()
	}
	return l.scanKeyword()
}

func (l *lexer) scanString() token {
	start := l.i
	l.i++ // opening quote
	var buf []byte
	segStart := l.i
	for l.i < len(l.src) {
		if l.src[l.i] != '\'' {
			l.i++
			continue
		}
		if l.i+1 < len(l.src) && l.src[l.i+1] == '\'' {
			buf = append(buf, l.src[segStart:l.i+1]...)
			l.i += 2
			segStart = l.i
			continue
		}
		var s string
		if buf == nil {
			s = l.src[segStart:l.i]
		} else {
			s = string(append(buf, l.src[segStart:l.i]...))
		}
		l.i++
		return token{kind: tkString, raw: l.src[start:l.i], pos: start, val: String(s)}
	}
	return token{kind: tkBad, raw: l.src[start:], pos: start}
}

func (l *lexer) scanNumber() token {
	start := l.i
	periods := 0
	for {
		if l.src[l.i] == '.' {
			periods++
		}
		l.i++
		if l.i >= len(l.src) || (isBoundary(l.src[l.i]) && l.src[l.i] != '.') {
			break
		}
	}
	raw := l.src[start:l.i]
	if periods >= 2 {
		if v, ok := ParseVersion(raw); ok && raw[0] >= '0' && raw[0] <= '9' {
			return token{kind: tkVersion, raw: raw, pos: start, val: VersionValue(v)}
		}
	}
	if f, ok := parseNumberLiteral(raw); ok {
		return token{kind: tkNumber, raw: raw, pos: start, val: Number(f)}
	}
	return token{kind: tkBad, raw: raw, pos: start}
}

func isKeywordStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isKeywordChar(c byte) bool {
	return isKeywordStart(c) || ('0' <= c && c <= '9')
}

// isLegalKeyword reports whether s may be written as a property name after '.'.
func isLegalKeyword(s string) bool {
	if s == "" || !isKeywordStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isKeywordChar(s[i]) {
			return false
		}
	}
	return true
}

func (l *lexer) scanKeyword() token {
	start := l.i
	_, n := utf8.DecodeRuneInString(l.src[l.i:])
	l.i += n
	for l.i < len(l.src) && !isBoundary(l.src[l.i]) {
		if _, sp := isSpaceAt(l.src, l.i); sp {
			break
		}
		l.i++
	}
	raw := l.src[start:l.i]
	if !isLegalKeyword(raw) {
		return token{kind: tkBad, raw: raw, pos: start}
	}
	if l.prev != tkDot {
		switch fold(raw) {
		case "TRUE":
			return token{kind: tkBool, raw: raw, pos: start, val: Bool(true)}
		case "FALSE":
			return token{kind: tkBool, raw: raw, pos: start, val: Bool(false)}
		case "NULL":
			return token{kind: tkNull, raw: raw, pos: start}
		}
	}
	return token{kind: tkKeyword, raw: raw, pos: start}
}

// peekLParen reports whether the next non-space character is '(' (a function call).
func (l *lexer) peekLParen() bool {
	i := l.i
	for i < len(l.src) {
		n, ok := isSpaceAt(l.src, i)
		if !ok {
			break
		}
		i += n
	}
	return i < len(l.src) && l.src[i] == '('
}
