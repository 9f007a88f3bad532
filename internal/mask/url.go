package mask

import "bytes"

// The always-on URL credential rule of the Azure Pipelines agent
// (AdditionalMaskingRegexes.UrlSecretPattern):
//
//	(?<=//[^:/?#\n]+:)((?:[\w.~-]|(?:%|%AZP25)[0-9a-fA-F]{2}|[!$&'()*+,;=]|:)+)(?=@)
//
// masks the password of `scheme://user:password@host`. It is implemented by hand, without
// regexp, because Go's RE2 has no look-behind and because a streaming writer must know how
// much of a line's tail could still become a password. Each `@` is found with IndexByte and
// the rule is checked backwards from it, so text without `@` costs almost nothing.
//
// Differences from .NET: `\w` is approximated byte-wise by ASCII letters, digits and `_`
// plus every byte >= 0x80, so a password containing non-word Unicode (say an em dash) is
// masked where the agent would not mask it.

// urlState is what the rule needs to know about the bytes before a buffer: the look-behind
// reaches back to the last delimiter of the line, which a streaming writer may already have
// written out.
type urlState struct {
	prevSlash   bool // the byte just before was '/'
	dslash      bool // the run of non-delimiters ending just before is preceded by "//"
	runNonEmpty bool // that run is not empty
	colonOK     bool // the byte just before is a ':' after which a password may start
}

// isDelim reports the bytes the look-behind's `[^:/?#\n]+` cannot cross.
func isDelim(b byte) bool { return b == ':' || b == '/' || b == '?' || b == '#' || b == '\n' }

// pwChar holds the bytes a password may contain, other than '%' (valid only as an escape).
var pwChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("_.~-!$&'()*+,;=:") {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true
	}
	return t
}()

func isHex(b byte) bool { return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' }

// pctOK reports whether the '%' at data[i] starts `%XX` or `%AZP25XX` within data[:end]. With
// partial, an escape cut short by end also counts: more input may complete it.
func pctOK(data []byte, i, end int, partial bool) bool {
	rest := data[i+1 : end]
	ok := func(form string) bool {
		for k := 0; k < len(form); k++ {
			if k == len(rest) {
				return partial
			}
			if form[k] == 'X' {
				if !isHex(rest[k]) {
					return false
				}
			} else if rest[k] != form[k] {
				return false
			}
		}
		return true
	}
	return ok("XX") || ok("AZP25XX")
}

// runStart returns the start of the longest run of password characters ending at end.
func runStart(data []byte, end int, partial bool) int {
	r := end
	for r > 0 {
		b := data[r-1]
		if pwChar[b] || b == '%' && pctOK(data, r-1, end, partial) {
			r--
			continue
		}
		break
	}
	return r
}

// lookbehindOK reports whether `//[^:/?#\n]+` ends just before the ':' at data[c].
func lookbehindOK(data []byte, c int, st urlState) bool {
	k := c
	for k > 0 && !isDelim(data[k-1]) {
		k--
	}
	run := c - k
	if k == 0 {
		return st.dslash && (run > 0 || st.runNonEmpty)
	}
	if run == 0 || data[k-1] != '/' {
		return false
	}
	if k >= 2 {
		return data[k-2] == '/'
	}
	return st.prevSlash
}

// passwordStart returns where a password ending at end would start, or -1: the password is
// data[r:end] when the buffer starts inside it (colonOK), else it follows the first ':' of
// the run, if that ':' has the look-behind.
func passwordStart(data []byte, r, end int, st urlState) int {
	if r == 0 && st.colonOK {
		return 0
	}
	if c := bytes.IndexByte(data[r:end], ':'); c >= 0 && lookbehindOK(data, r+c, st) {
		return r + c + 1
	}
	return -1
}

// findURL appends the password spans of data, given the state before data[0].
func findURL(data []byte, st urlState, spans []span) []span {
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '@')
		if j < 0 {
			break
		}
		q := i + j
		if p := passwordStart(data, runStart(data, q, false), q, st); p >= 0 && p < q {
			spans = append(spans, span{p, q})
		}
		i = q + 1
	}
	return spans
}

// maxURLHold bounds how much of a line a writer holds back while a password may be in
// progress; a longer run of password characters is released and, if an '@' follows, left
// unmasked.
const maxURLHold = 64 << 10

// urlHold returns where a password still in progress at the end of data starts holding
// (its ':' or 0), or len(data) when none is.
func urlHold(data []byte, st urlState) int {
	n := len(data)
	if n == 0 {
		return 0
	}
	r := runStart(data, n, true)
	if r == n {
		return n
	}
	h := n
	if r == 0 && st.colonOK {
		h = 0
	} else if c := bytes.IndexByte(data[r:], ':'); c >= 0 && lookbehindOK(data, r+c, st) {
		h = r + c
	}
	if n-h > maxURLHold {
		return n
	}
	return h
}

// urlStateAt returns the state before data[h], given the state st before data[0].
func urlStateAt(data []byte, h int, st urlState) urlState {
	if h == 0 {
		return st
	}
	ns := urlState{prevSlash: data[h-1] == '/'}
	if data[h-1] == ':' {
		ns.colonOK = lookbehindOK(data, h-1, st)
	}
	k := h
	for k > 0 && !isDelim(data[k-1]) {
		k--
	}
	if k == 0 {
		ns.runNonEmpty = true
		ns.dslash = st.dslash
		return ns
	}
	ns.runNonEmpty = k < h
	if data[k-1] == '/' {
		ns.dslash = k >= 2 && data[k-2] == '/' || k == 1 && st.prevSlash
	}
	return ns
}
