package agentproto

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Limits of a log chunk.
const (
	// MaxChunkBytes bounds one chunk.
	MaxChunkBytes = 4 << 20
	// MaxLineBytes bounds one line; longer lines are cut by FormatChunk (with a marker) and
	// rejected by ParseChunk.
	MaxLineBytes = 1 << 20
)

// truncated ends a line FormatChunk had to cut.
const truncated = " ##[truncated]"

// A log chunk is the text of whole log lines, each ending in "\n", valid UTF-8, with no
// "\r" (the executor splits lines on "\n" and "\r\n") and no NUL. It is how lines travel from
// agent to server and how the server stores them, so a chunk read back from storage is
// parsed by the same function.

// FormatChunk returns lines as a chunk: invalid UTF-8 is replaced, "\r" and NUL become
// spaces, and lines longer than MaxLineBytes are cut. Lines must not contain "\n" (a line
// that does is split there).
func FormatChunk(lines []string) []byte {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	var b bytes.Buffer
	b.Grow(n)
	for _, l := range lines {
		for part := range strings.SplitSeq(l, "\n") {
			writeLine(&b, part)
		}
	}
	return b.Bytes()
}

func writeLine(b *bytes.Buffer, l string) {
	if !utf8.ValidString(l) {
		l = strings.ToValidUTF8(l, "\uFFFD")
	}
	if strings.ContainsAny(l, "\r\x00") {
		l = strings.NewReplacer("\r", " ", "\x00", " ").Replace(l)
	}
	if len(l) > MaxLineBytes {
		cut := MaxLineBytes - len(truncated)
		for cut > 0 && !utf8.RuneStart(l[cut]) {
			cut--
		}
		l = l[:cut] + truncated
	}
	b.WriteString(l)
	b.WriteByte('\n')
}

// ParseChunk splits a chunk into its lines (without terminators). It fails, wrapping
// ErrBadRequest, when the chunk is larger than MaxChunkBytes, does not end in "\n", holds
// invalid UTF-8, "\r" or NUL, or has a line longer than MaxLineBytes. An empty chunk has no
// lines.
func ParseChunk(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if len(b) > MaxChunkBytes {
		return nil, bad("a log chunk is larger than %d bytes", MaxChunkBytes)
	}
	if b[len(b)-1] != '\n' {
		return nil, bad("a log chunk must end with a line feed")
	}
	if !utf8.Valid(b) {
		return nil, bad("a log chunk is not valid UTF-8")
	}
	if bytes.IndexByte(b, '\r') >= 0 || bytes.IndexByte(b, 0) >= 0 {
		return nil, bad("a log chunk holds a carriage return or NUL")
	}
	n := bytes.Count(b, []byte{'\n'})
	lines := make([]string, 0, n)
	s := string(b)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i > MaxLineBytes {
			return nil, bad("a log line is longer than %d bytes", MaxLineBytes)
		}
		lines = append(lines, s[:i])
		s = s[i+1:]
	}
	return lines, nil
}

// CountLines returns the number of lines of a valid chunk without splitting it.
func CountLines(b []byte) int { return bytes.Count(b, []byte{'\n'}) }
