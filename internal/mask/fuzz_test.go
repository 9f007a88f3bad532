package mask

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzWriter checks, for any secrets, input and write boundaries, that
//   - no registered secret survives in the output (secrets containing '*' are skipped: the
//     replacement itself could complete them);
//   - the Writer's output does not depend on how the input is cut into writes;
//   - output equals input when the input holds nothing to mask;
//   - the URL rule agrees with a direct transcription of the agent's regular expression.
//
// In the input, byte 0x01 stands for the next secret, so the fuzzer easily builds inputs full
// of secrets, overlaps and adjacencies.
func FuzzWriter(f *testing.F) {
	f.Add("s3cr3t-value", "token=\x01 and \x01\x01 end\n", uint64(1))
	f.Add("abcdef12\x1fef12ghij", "<\x01\x01> abcdef12ghij", uint64(7))
	f.Add("ab\x1fba\x1fa", "abababa aab", uint64(3))
	f.Add("pass:word", "https://u:\x01@h https://x:y:z@w/", uint64(11))
	f.Add("p@ss w0rd!", "q=p%40ss%20w0rd%21 \x01", uint64(5))
	f.Add("pässwörd€x", `"p\u00e4ssw\u00f6rd\u20acx" `+"\x01", uint64(2))
	f.Add("hunter2-hunter2", "aHVudGVyMi1odW50ZXIy \x01", uint64(9))
	f.Add("", "see http://x and y:abc@d //a:%AZP2541@b", uint64(4))
	f.Fuzz(func(t *testing.T, secretList, tmpl string, seed uint64) {
		var secrets []string
		for _, s := range strings.Split(secretList, "\x1f") {
			if s != "" && !strings.ContainsAny(s, "*\r\n") {
				secrets = append(secrets, s)
			}
		}
		in := tmpl
		if len(secrets) > 0 {
			var b strings.Builder
			k := 0
			for i := 0; i < len(tmpl); i++ {
				if tmpl[i] == 0x01 {
					b.WriteString(secrets[k%len(secrets)])
					k++
					continue
				}
				b.WriteByte(tmpl[i])
			}
			in = b.String()
		}
		if len(in) > 1<<14 {
			t.Skip("input too long for the quadratic checks")
		}
		m := newMasker(t, Config{}, secrets...)
		want := m.Mask(in)
		for _, s := range secrets {
			if strings.Contains(want, s) {
				t.Fatalf("secret %q survives: Mask(%q) = %q", s, in, want)
			}
		}
		if !m.Contains([]byte(in)) && want != in {
			t.Fatalf("nothing to mask, but Mask(%q) = %q", in, want)
		}

		// Random write boundaries from the seed.
		var cuts []int
		x := seed | 1
		for range 1 + seed%6 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			if len(in) > 0 {
				cuts = append(cuts, int(x%uint64(len(in)+1)))
			}
		}
		sortInts(cuts)
		if got := writeSplit(t, m, in, cuts...); got != want {
			t.Fatalf("cuts %v of %q: Writer %q, Mask %q", cuts, in, got, want)
		}

		// The URL rule alone, against the (quadratic) reference.
		if len(in) > 2048 {
			return
		}
		empty := newMasker(t, Config{})
		if got, ref := empty.Mask(in), refURLMask(in); got != ref {
			t.Fatalf("URL rule on %q: got %q, reference %q", in, got, ref)
		}
	})
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// refURLMask applies the agent's URL rule by brute force, the way a backtracking regex
// engine scans: try each start position left to right, check the look-behind, take the
// greedy run of password tokens and require '@' after it; after a match, go on from its end.
func refURLMask(s string) string {
	d := []byte(s)
	var out bytes.Buffer
	emitted := 0
	for i := 0; i < len(d); {
		matched := false
		for p := i; p < len(d); p++ {
			if !refLookbehind(d, p) {
				continue
			}
			end := refTokens(d, p)
			if end > p && end < len(d) && d[end] == '@' {
				out.Write(d[emitted:p])
				out.WriteString(Replacement)
				emitted, i, matched = end, end, true
				break
			}
		}
		if !matched {
			break
		}
	}
	out.Write(d[emitted:])
	return out.String()
}

// refLookbehind: (?<=//[^:/?#\n]+:) at p, trying every run length.
func refLookbehind(d []byte, p int) bool {
	if p < 1 || d[p-1] != ':' {
		return false
	}
	for k := p - 2; k >= 0; k-- { // k = first byte of the run
		if isDelim(d[k]) {
			return false
		}
		if k >= 2 && d[k-1] == '/' && d[k-2] == '/' {
			return true
		}
	}
	return false
}

// refTokens returns the end of the greedy run of password tokens starting at p.
func refTokens(d []byte, p int) int {
	i := p
	for i < len(d) {
		switch {
		case d[i] == '%' && i+2 < len(d) && isHex(d[i+1]) && isHex(d[i+2]):
			i += 3
		case d[i] == '%' && i+7 < len(d) && string(d[i+1:i+6]) == "AZP25" && isHex(d[i+6]) && isHex(d[i+7]):
			i += 8
		case d[i] != '%' && pwChar[d[i]]:
			i++
		default:
			return i
		}
	}
	return i
}
