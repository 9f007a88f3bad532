package mask

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/keystage/keystage/internal/logcmd"
)

// forms returns every string that is masked for one secret value; see Masker.Add for the
// list and the reasons. Forms holding CR or LF are dropped (output is masked line by line,
// so they could never match); the caller applies the minimum length.
func forms(v string, disableBase64 bool) (out []string, skippedLines bool) {
	bases := []string{v}
	addBase := func(b string) {
		if b != v && utf8.RuneCountInString(b) >= ShortLength {
			bases = append(bases, b)
		}
	}
	addBase(unquote(v))
	addBase(strings.Trim(v, "\r\n "))
	if strings.ContainsAny(v, "\r\n") {
		for _, line := range splitLines(v) {
			for _, l := range []string{line, strings.TrimSpace(line)} {
				if l == "" {
					continue
				}
				if utf8.RuneCountInString(l) < ShortLength {
					skippedLines = true
					continue
				}
				addBase(l)
			}
		}
	}
	seen := make(map[string]bool)
	add := func(f string) {
		if f == "" || seen[f] || strings.ContainsAny(f, "\r\n") {
			return
		}
		seen[f] = true
		out = append(out, f)
	}
	for _, b := range bases {
		add(b)
		add(jsonEscape(b, jsonMinimal))
		add(jsonEscape(b, jsonHTMLSafe))
		add(jsonEscape(b, jsonASCII))
		add(uriEscape(b, uriData))
		add(uriEscape(b, uriForm))
		add(uriEscape(b, uriComponent))
		add(backslashUnescape(b))
		add(logcmd.EscapeData(b))
		add(logcmd.EscapeProperty(b))
		add(cmdNewlineEscaper.Replace(b))
		if !disableBase64 {
			for _, f := range base64Forms(b) {
				add(f)
			}
		}
	}
	return out, skippedLines
}

// unquote strips one pair of matching surrounding quotes, as the agent does for variables a
// shell may unquote.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// splitLines splits on LF, CR LF and lone CR.
func splitLines(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' })
}

type jsonMode int

const (
	jsonMinimal  jsonMode = iota // Newtonsoft, JavaScript JSON.stringify
	jsonHTMLSafe                 // Go encoding/json: also <, >, &, U+2028, U+2029
	jsonASCII                    // Python json.dumps, jq -a: also every non-ASCII rune
)

// jsonEscape returns the body of the JSON string literal for s (without quotes).
func jsonEscape(s string, mode jsonMode) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	u4 := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		raw := s[i : i+size]
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			u4(r)
		case mode != jsonMinimal && (r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029'):
			u4(r)
		case mode == jsonASCII && r >= 0x80:
			if r > 0xffff {
				r -= 0x10000
				u4(0xd800 + r>>10)
				u4(0xdc00 + r&0x3ff)
			} else {
				u4(r) // an invalid byte decodes to U+FFFD, as encoders write it
			}
		default:
			b.WriteString(raw)
		}
	}
	return b.String()
}

type uriMode int

const (
	uriData      uriMode = iota // .NET Uri.EscapeDataString: RFC 3986 unreserved kept
	uriForm                     // Go url.QueryEscape, HTML forms: space as '+'
	uriComponent                // JavaScript encodeURIComponent: also keeps !'()*
)

// uriEscape percent-encodes the UTF-8 bytes of s with upper-case hex.
func uriEscape(s string, mode uriMode) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case mode == uriForm && c == ' ':
			b.WriteByte('+')
		case mode == uriComponent && strings.IndexByte("!'()*", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

// backslashUnescape is the agent's BackslashEscape encoder: four sequential replacements,
// for secrets written with escapes that a shell or program removes when printing.
func backslashUnescape(s string) string {
	s = strings.ReplaceAll(s, `\\`, `\`)
	s = strings.ReplaceAll(s, `\'`, `'`)
	s = strings.ReplaceAll(s, `\"`, `"`)
	return strings.ReplaceAll(s, `\t`, "\t")
}

// cmdNewlineEscaper gives the form the agent registers because it prints variables with
// only their line breaks escaped in debug output. The full logging-command escapes (a secret
// echoed inside a ##vso command) are logcmd's.
var cmdNewlineEscaper = strings.NewReplacer("\r", "%0D", "\n", "%0A")

// minBase64 is the shortest base64 form registered: shorter fragments of random-looking
// base64 would mask unrelated text.
const minBase64 = 6

// base64Forms returns the standard base64 of s, padded (what `base64` and the agent print),
// and the three alignment variants: when s sits at byte offset o of a larger encoded input,
// the characters that depend on s alone are those of s[t:] with t = (3 - o%3) % 3, minus a
// final character shared with the following byte. Registering the three covers s wherever it
// sits in the encoded input. URL-safe base64 and hex are not registered.
func base64Forms(s string) []string {
	var out []string
	if f := base64.StdEncoding.EncodeToString([]byte(s)); len(f) >= minBase64 {
		out = append(out, f)
	}
	for t := 0; t < 3 && t < len(s); t++ {
		sub := s[t:]
		f := base64.RawStdEncoding.EncodeToString([]byte(sub))
		f = f[:len(sub)*8/6]
		if len(f) >= minBase64 {
			out = append(out, f)
		}
	}
	return out
}
