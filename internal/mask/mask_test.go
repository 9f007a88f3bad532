package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newMasker(t testing.TB, cfg Config, secrets ...string) *Masker {
	t.Helper()
	m, _ := New(cfg)
	for _, s := range secrets {
		m.Add(s)
	}
	return m
}

type maskCase struct {
	name    string
	cfg     Config
	secrets []string
	in      string
	want    string
}

var maskCases = []maskCase{
	{name: "no secrets", in: "hello world\n", want: "hello world\n"},
	{name: "exact", secrets: []string{"s3cr3t-value"}, in: "token=s3cr3t-value end\n", want: "token=*** end\n"},
	{name: "every occurrence", secrets: []string{"s3cr3t-value"}, in: "s3cr3t-value and s3cr3t-value", want: "*** and ***"},
	{name: "substring of a secret is kept", secrets: []string{"s3cr3t-value"}, in: "s3cr3t-valu", want: "s3cr3t-valu"},
	{name: "overlapping merge", secrets: []string{"abcdef12", "ef12ghij"}, in: "<abcdef12ghij>", want: "<***>"},
	{name: "adjacent merge", secrets: []string{"secretAA", "secretBB"}, in: "secretAAsecretBB!", want: "***!"},
	{name: "contained", secrets: []string{"longsecret-with-inner", "inner"}, in: "x longsecret-with-inner inner", want: "x *** ***"},
	{name: "self overlap", secrets: []string{"abababab"}, in: "ababababab", want: "***"},
	{name: "separated not merged", secrets: []string{"secretAA"}, in: "secretAA secretAA", want: "*** ***"},
	{name: "multi-line secret lines", secrets: []string{"first-line-x\nsecond-line-y"},
		in: "first-line-x\nsecond-line-y\n", want: "***\n***\n"},
	{name: "multi-line secret json form", secrets: []string{"first-line-x\nsecond-line-y"},
		in: `{"k":"first-line-x\nsecond-line-y"}`, want: `{"k":"***"}`},
	{name: "multi-line short lines skipped", secrets: []string{"{\n  \"private_key\": \"abc123456\"\n}"},
		in: "{\n  \"private_key\": \"abc123456\"\n}\n", want: "{\n***\n}\n"},
	{name: "crlf lines", secrets: []string{"line-one-aa\r\nline-two-bb"}, in: "line-one-aa\r\nline-two-bb\r\n", want: "***\r\n***\r\n"},
	{name: "json escaped", secrets: []string{`pa"ss\wo rd`}, in: `{"password":"pa\"ss\\wo rd"}`, want: `{"password":"***"}`},
	{name: "json html safe", secrets: []string{"a<b>&c-secret"}, in: `"a\u003cb\u003e\u0026c-secret"`, want: `"***"`},
	{name: "json ascii", secrets: []string{"pässwörd€x"}, in: `"p\u00e4ssw\u00f6rd\u20acx"`, want: `"***"`},
	{name: "json ascii surrogates", secrets: []string{"key🔑secret"}, in: `"key\ud83d\udd11secret"`, want: `"***"`},
	{name: "unicode raw", secrets: []string{"pässwörd€x"}, in: "pw: pässwörd€x.", want: "pw: ***."},
	{name: "uri data escape", secrets: []string{"p@ss w0rd!"}, in: "q=p%40ss%20w0rd%21&x", want: "q=***&x"},
	{name: "form escape", secrets: []string{"p@ss w0rd!"}, in: "q=p%40ss+w0rd%21&x", want: "q=***&x"},
	{name: "uri component", secrets: []string{"p@ss w0rd!"}, in: "q=p%40ss%20w0rd!&x", want: "q=***&x"},
	{name: "uri utf8", secrets: []string{"pässwort1"}, in: "p%C3%A4sswort1", want: "***"},
	{name: "backslash unescaped", secrets: []string{`abc\\def\'\"ghi\t`}, in: "abc\\def'\"ghi\t!", want: "***!"},
	{name: "logging command escape", secrets: []string{"100%sure;x"}, in: "##vso[task.debug]100%AZP25sure;x", want: "##vso[task.debug]***"},
	{name: "property escape", secrets: []string{"100%sure;x]"}, in: "v=100%AZP25sure%3Bx%5D;", want: "v=***;"},
	{name: "quotes trimmed", secrets: []string{`"quoted-secret"`}, in: "echo quoted-secret", want: "echo ***"},
	{name: "spaces trimmed", secrets: []string{"  spaced-secret \n"}, in: "[spaced-secret]", want: "[***]"},
	{name: "base64 padded", secrets: []string{"hunter2-hunter2"}, in: "auth " + base64.StdEncoding.EncodeToString([]byte("hunter2-hunter2")) + " end",
		want: "auth *** end"},
	{name: "short secret masked", secrets: []string{"ab"}, in: "cab abc", want: "c*** ***c"},
	{name: "one byte secret", secrets: []string{"1"}, in: "1.21", want: "***.2***"},
	{name: "min length ignores short", cfg: Config{MinLength: 4}, secrets: []string{"abc", "abcd"}, in: "abc abcd", want: "abc ***"},
	{name: "base64 disabled", cfg: Config{DisableBase64: true}, secrets: []string{"hunter2-hunter2"},
		in: base64.StdEncoding.EncodeToString([]byte("hunter2-hunter2")), want: base64.StdEncoding.EncodeToString([]byte("hunter2-hunter2"))},

	// The agent's URL credential rule (SecretMaskerL0 cases).
	{name: "url simple not masked", in: "https://simpledomain@example.com", want: "https://simpledomain@example.com"},
	{name: "url complex not masked", in: "https://url.com:443/~user/foo=bar+42-18?what=this.is.an.example....~~many@&param=value",
		want: "https://url.com:443/~user/foo=bar+42-18?what=this.is.an.example....~~many@&param=value"},
	{name: "url userinfo", in: "https://user:pass@example.com", want: "https://user:***@example.com"},
	{name: "url special chars", in: `https://user:pass4';.!&*()=,$-+~@example.com`, want: "https://user:***@example.com"},
	{name: "url digits in name", in: "https://username123:password@example.com", want: "https://username123:***@example.com"},
	{name: "url encoded name", in: "https://username%10%A3%F6:password123@example.com", want: "https://username%10%A3%F6:***@example.com"},
	{name: "url azp25 name", in: "https://username%AZP2510%AZP25A3%AZP25F6:password123@example.com",
		want: "https://username%AZP2510%AZP25A3%AZP25F6:***@example.com"},
	{name: "url percent in password", in: "git clone https://u:p%41ss%AZP2542@h/r", want: "git clone https://u:***@h/r"},
	{name: "url bad percent", in: "https://u:p%4@h", want: "https://u:p%4@h"},
	{name: "url colon in password", in: "https://u:a:b@h", want: "https://u:***@h"},
	{name: "url empty password", in: "https://u:@h", want: "https://u:@h"},
	{name: "url two on a line", in: "a://x:1@h b://y:2@i", want: "a://x:***@h b://y:***@i"},
	{name: "url no newline crossing", in: "https://u:pa\nss@h", want: "https://u:pa\nss@h"},
	{name: "url spaces in lookbehind", in: "see http://x and y:abc@d", want: "see http://x and y:***@d"},
	{name: "url triple slash", in: "file:///u:pw@h", want: "file:///u:***@h"},
	{name: "url and secret merge", secrets: []string{"secret-pw"}, in: "https://u:secret-pw@h", want: "https://u:***@h"},
}

func TestMask(t *testing.T) {
	for _, tt := range maskCases {
		t.Run(tt.name, func(t *testing.T) {
			m := newMasker(t, tt.cfg, tt.secrets...)
			if got := m.Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := string(m.AppendMask([]byte("pre:"), []byte(tt.in))); got != "pre:"+tt.want {
				t.Errorf("AppendMask = %q, want %q", got, "pre:"+tt.want)
			}
			if got, want := m.Contains([]byte(tt.in)), tt.in != tt.want; got != want {
				t.Errorf("Contains = %v, want %v", got, want)
			}
		})
	}
}

// writeSplit writes in through a Writer in pieces cut at the given offsets, then closes it.
func writeSplit(t testing.TB, m *Masker, in string, cuts ...int) string {
	t.Helper()
	var buf bytes.Buffer
	w := m.NewWriter(&buf)
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if _, err := w.Write([]byte(in[prev:c])); err != nil {
			t.Fatal(err)
		}
		prev = c
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestWriterSplitAtEveryBoundary(t *testing.T) {
	for _, tt := range maskCases {
		t.Run(tt.name, func(t *testing.T) {
			m := newMasker(t, tt.cfg, tt.secrets...)
			for i := 0; i <= len(tt.in); i++ {
				if got := writeSplit(t, m, tt.in, i); got != tt.want {
					t.Fatalf("split at %d: got %q, want %q", i, got, tt.want)
				}
				if len(tt.in) > 40 {
					continue
				}
				for j := i; j <= len(tt.in); j++ {
					if got := writeSplit(t, m, tt.in, i, j); got != tt.want {
						t.Fatalf("split at %d,%d: got %q, want %q", i, j, got, tt.want)
					}
				}
			}
			// Byte by byte.
			cuts := make([]int, 0, len(tt.in))
			for i := 1; i < len(tt.in); i++ {
				cuts = append(cuts, i)
			}
			if got := writeSplit(t, m, tt.in, cuts...); got != tt.want {
				t.Fatalf("byte by byte: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriterLatency(t *testing.T) {
	m := newMasker(t, Config{}, "s3cr3t-value")
	var buf bytes.Buffer
	w := m.NewWriter(&buf)
	steps := []struct {
		write        string
		wantOut      string
		wantBuffered int
	}{
		{"plain line\n", "plain line\n", 0},
		{"no prefix here", "plain line\nno prefix here", 0},
		{" s3cr", "plain line\nno prefix here ", 4},
		{"3t-val", "plain line\nno prefix here ", 10},
		{"ue", "plain line\nno prefix here ***", 0},
		{" s3cr3t-", "plain line\nno prefix here *** ", 7},
		{"\n", "plain line\nno prefix here *** s3cr3t-\n", 0},
		{"https://u:pass", "plain line\nno prefix here *** s3cr3t-\nhttps://u", 5},
		{"word", "plain line\nno prefix here *** s3cr3t-\nhttps://u", 9},
		{"@host\n", "plain line\nno prefix here *** s3cr3t-\nhttps://u:***@host\n", 0},
	}
	for i, s := range steps {
		if _, err := w.Write([]byte(s.write)); err != nil {
			t.Fatal(err)
		}
		if buf.String() != s.wantOut || w.Buffered() != s.wantBuffered {
			t.Fatalf("step %d (%q): out %q buffered %d; want %q, %d", i, s.write, buf.String(), w.Buffered(), s.wantOut, s.wantBuffered)
		}
	}
	// Flush releases a held prefix unmasked: it is not a whole secret.
	w.Write([]byte("s3cr3t"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\ns3cr3t") || w.Buffered() != 0 {
		t.Fatalf("after Flush: %q, buffered %d", buf.String(), w.Buffered())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestAddAtRuntime(t *testing.T) {
	m := newMasker(t, Config{})
	var buf bytes.Buffer
	w := m.NewWriter(&buf)
	w.Write([]byte("before: late-secret-1\n"))
	m.Add("late-secret-1")
	w.Write([]byte("after: late-secret-1\n"))
	// Bytes still held when a secret is added are masked with it.
	m.Add("https-token-abc")
	w.Write([]byte("x https://u:late-sec"))
	m.Add("late-secret-2")
	w.Write([]byte("ret-2@h late-secret-2"))
	w.Close()
	want := "before: late-secret-1\nafter: ***\nx https://u:***@h ***"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d, want 3", m.Len())
	}
}

func TestConcurrentAdd(t *testing.T) {
	m := newMasker(t, Config{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			w := m.NewWriter(&buf)
			for i := range 200 {
				m.Add(strings.Repeat(string(rune('a'+g)), 8) + string(rune('A'+i%26)))
				w.Write([]byte("line with aaaaaaaaB and bbbbbbbbC\n"))
			}
			w.Close()
		}()
	}
	wg.Wait()
	if got := m.Mask("aaaaaaaaB bbbbbbbbC"); got != "*** ***" {
		t.Errorf("after concurrent adds: %q", got)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		value string
		want  []WarningKind
	}{
		{"long", Config{}, "long-enough", nil},
		{"empty", Config{}, "", nil},
		{"short", Config{}, "abc", []WarningKind{ShortSecret}},
		{"short in characters not bytes", Config{}, "äöüß", []WarningKind{ShortSecret}},
		{"ignored", Config{MinLength: 4}, "abc", []WarningKind{IgnoredSecret}},
		{"short lines", Config{}, "{\n\"key\": \"value-long\"\n}", []WarningKind{ShortLinesSkipped}},
	}
	for _, tt := range tests {
		m, _ := New(tt.cfg)
		var got []WarningKind
		for _, w := range m.Add(tt.value) {
			got = append(got, w.Kind)
			if tt.value != "" && strings.Contains(w.Message, tt.value) {
				t.Errorf("%s: warning %q contains the secret", tt.name, w.Message)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: warnings (-want +got):\n%s", tt.name, diff)
		}
	}
	_, warns := New(Config{MinLength: 9})
	if len(warns) != 1 || warns[0].Kind != MinLengthClamped ||
		warns[0].Message != "The value of the minimum length of the secrets is too high. Maximum value is set: 6" {
		t.Errorf("New(MinLength 9) warnings = %v", warns)
	}
}

func TestBase64Alignments(t *testing.T) {
	secret := "correct horse battery staple"
	m := newMasker(t, Config{}, secret)
	for pre := range 3 {
		for post := range 3 {
			plain := strings.Repeat("x", pre) + secret + strings.Repeat("y", post)
			enc := base64.StdEncoding.EncodeToString([]byte(plain))
			got := m.Mask(enc)
			if strings.Count(got, Replacement) != 1 {
				t.Errorf("pre %d post %d: %q -> %q, want one mask", pre, post, enc, got)
			}
			// At most one partial group (4 characters, padding aside) survives on each side.
			if kept := len(strings.TrimRight(got, "=")) - len(Replacement); kept > 8 {
				t.Errorf("pre %d post %d: %d characters kept in %q", pre, post, kept, got)
			}
		}
	}
}

// TestEncodersMatchLibraries checks the hand-written encoders against Go's own.
func TestEncodersMatchLibraries(t *testing.T) {
	for _, s := range []string{"plain", `q"u\o<t>e&`, "tab\tnl\ncr\r\x01", "ünï 🔑", "a b+c/d?e=f&g!h'i(j)k*l~m"} {
		js, _ := json.Marshal(s)
		if got, want := jsonEscape(s, jsonHTMLSafe), string(js[1:len(js)-1]); got != want {
			t.Errorf("jsonEscape(%q, html) = %q, encoding/json %q", s, got, want)
		}
		if got, want := uriEscape(s, uriForm), url.QueryEscape(s); got != want {
			t.Errorf("uriEscape(%q, form) = %q, url.QueryEscape %q", s, got, want)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriterError(t *testing.T) {
	boom := errors.New("boom")
	w := newMasker(t, Config{}).NewWriter(failWriter{boom})
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, boom) {
		t.Fatalf("Write error = %v", err)
	}
	if _, err := w.Write([]byte("y\n")); !errors.Is(err, boom) {
		t.Fatalf("second Write error = %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close error = %v", err)
	}
}

// TestManyRuntimeAdds crosses the delta/base merge threshold several times with a write
// between every Add.
func TestManyRuntimeAdds(t *testing.T) {
	m := newMasker(t, Config{})
	secrets := benchSecrets(700)
	var buf bytes.Buffer
	w := m.NewWriter(&buf)
	for i, s := range secrets {
		m.Add(s)
		buf.Reset()
		w.Write([]byte("now " + s + " then " + secrets[i/2] + "\n"))
		if got := buf.String(); got != "now *** then ***\n" {
			t.Fatalf("after %d adds: %q", i+1, got)
		}
	}
	for _, s := range secrets {
		if got := m.Mask("<" + s + ">"); got != "<***>" {
			t.Fatalf("Mask(<secret>) = %q", got)
		}
	}
}

func TestPrintingRedacts(t *testing.T) {
	const secret = "do-not-print-me"
	m := newMasker(t, Config{}, secret)
	w := m.NewWriter(io.Discard)
	w.Write([]byte("x do-not-print"))
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("state", "masker", m, "writer", w)
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%+v %#v", m, m), fmt.Sprint(w), fmt.Sprintf("%#v", w), logged.String()} {
		if strings.Contains(s, "do-not-print") {
			t.Errorf("printed form leaks the secret: %q", s)
		}
	}
}
