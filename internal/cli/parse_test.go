package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

func TestParseTags(t *testing.T) {
	tests := []struct {
		name    string
		words   []string
		want    map[string]any
		wantErr bool
	}{
		{"absent", nil, nil, false},
		{"clear", []string{""}, map[string]any{}, false},
		{"pairs", []string{"a=1", "b=two"}, map[string]any{"a": "1", "b": "two"}, false},
		{"key only", []string{"flag"}, map[string]any{"flag": ""}, false},
		{"value with equals", []string{"url=a=b"}, map[string]any{"url": "a=b"}, false},
		{"quoted pairs in one word", []string{"a=1 b=2"}, map[string]any{"a": "1", "b": "2"}, false},
		{"value with a space", []string{"owner=John Smith"}, map[string]any{"owner": "John Smith"}, false},
		{"empty key", []string{"=x"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTags(tt.words)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" && !tt.wantErr {
				t.Errorf("parseTags (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"", "a=1", "a=1 b=2", "owner=John Smith", "=x", "k", "a==b", strings.Repeat("k", 600) + "=v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTags([]string{s})
		if err != nil {
			return
		}
		for k := range tags {
			if k == "" {
				t.Fatalf("parseTags(%q) gave an empty key", s)
			}
		}
	})
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2030-12-31T23:59:59Z", time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"2030-12-31T23:59Z", time.Date(2030, 12, 31, 23, 59, 0, 0, time.UTC), true},
		{"2030-12-31T23Z", time.Date(2030, 12, 31, 23, 0, 0, 0, time.UTC), true},
		{"2030-12-31", time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC), true},
		{"2030-12-31T23:59:59.5Z", time.Date(2030, 12, 31, 23, 59, 59, 5e8, time.UTC), true},
		{"2030-12-31T23:59:59+02:00", time.Date(2030, 12, 31, 21, 59, 59, 0, time.UTC), true},
		{"31-12-2030", time.Time{}, false},
		{"tomorrow", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDate("--expires", tt.in)
			if (err == nil) != tt.ok || !got.Equal(tt.want) {
				t.Errorf("parseDate(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2030-12-31T23:59:59Z", "2030-12-31", "2030-02-30", "9999-99-99T99Z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDate("--expires", s)
		if err == nil && got.Location() != time.UTC {
			t.Fatalf("parseDate(%q) is not in UTC", s)
		}
	})
}

func TestParseConfigPair(t *testing.T) {
	tests := []struct {
		in                  string
		section, key, value string
		ok                  bool
	}{
		{"defaults.location=westus2", "defaults", "location", "westus2", true},
		{"Defaults.Group=MyRG", "defaults", "group", "MyRG", true},
		{"defaults.group=", "defaults", "group", "", true},
		{"core.output=a=b", "core", "output", "a=b", true},
		{"location=westus", "", "", "", false},
		{"defaults.location", "", "", "", false},
		{".x=1", "", "", "", false},
		{"defaults.group=a\nb", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, k, v, err := parseConfigPair(tt.in)
			if (err == nil) != tt.ok || s != tt.section || k != tt.key || v != tt.value {
				t.Errorf("parseConfigPair(%q) = %q %q %q %v", tt.in, s, k, v, err)
			}
		})
	}
}

func FuzzParseConfigPair(f *testing.F) {
	for _, s := range []string{"defaults.group=rg", "a.b=", "x", "a.b.c=d", "=", "a.=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		section, key, value, err := parseConfigPair(s)
		if err != nil {
			return
		}
		if section == "" || key == "" || strings.ContainsAny(value, "\n\r") {
			t.Fatalf("parseConfigPair(%q) = %q %q %q", s, section, key, value)
		}
		if section != strings.ToLower(section) || key != strings.ToLower(key) {
			t.Fatalf("parseConfigPair(%q) did not lower-case the name", s)
		}
	})
}

func TestParseSecretID(t *testing.T) {
	tests := []struct {
		in   string
		want secretID
		ok   bool
	}{
		{"https://kv.vault.localhost:8443/secrets/db/0123456789abcdef0123456789abcdef",
			secretID{"https://kv.vault.localhost:8443", "secrets", "db", "0123456789abcdef0123456789abcdef"}, true},
		{"https://kv.vault.localhost/secrets/db", secretID{"https://kv.vault.localhost", "secrets", "db", ""}, true},
		{"https://kv.vault.localhost/secrets/db/", secretID{"https://kv.vault.localhost", "secrets", "db", ""}, true},
		{"https://kv.vault.localhost/deletedsecrets/db", secretID{"https://kv.vault.localhost", "deletedsecrets", "db", ""}, true},
		{"http://kv/secrets/db", secretID{}, false},
		{"https://kv/keys/db", secretID{}, false},
		{"https://kv/secrets", secretID{}, false},
		{"https://kv/secrets/a/b/c", secretID{}, false},
		{"https://kv/secrets/a%2Fb", secretID{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSecretID(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseSecretID(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseSecretID(f *testing.F) {
	for _, s := range []string{"https://kv.vault.localhost:8443/secrets/db/abc", "https://x/deletedsecrets/y", "https:///secrets/x", "https://a/secrets//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseSecretID(s)
		if err != nil {
			return
		}
		if id.name == "" || strings.Contains(id.name, "/") || !strings.HasPrefix(id.vault, "https://") {
			t.Fatalf("parseSecretID(%q) = %+v", s, id)
		}
	})
}

func TestSecretFileEncodings(t *testing.T) {
	data := map[string][]byte{
		"utf-8":    []byte("héllo\nwörld"),
		"ascii":    []byte("plain text"),
		"utf-16le": {'h', 0, 0xe9, 0, '!', 0},
		"utf-16be": {0, 'h', 0, 0xe9},
		"base64":   bytes.Repeat([]byte{0, 1, 2, 0xff}, 40),
		"hex":      {0xde, 0xad, 0xbe, 0xef},
	}
	for enc, in := range data {
		t.Run(enc, func(t *testing.T) {
			v, err := encodeSecretFile(in, enc)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.ValidString(v) {
				t.Fatalf("secret value %q is not UTF-8", v)
			}
			out, err := decodeSecretFile(v, enc)
			if err != nil || !bytes.Equal(out, in) {
				t.Errorf("round trip = %x, %v; want %x", out, err, in)
			}
		})
	}
	v, _ := encodeSecretFile(bytes.Repeat([]byte{7}, 100), "base64")
	if lines := strings.Split(strings.TrimSuffix(v, "\n"), "\n"); len(lines) != 2 || len(lines[0]) != 76 {
		t.Errorf("base64 value is not in 76-character lines: %q", v)
	}
	for _, bad := range []struct{ enc, data string }{{"ascii", "é"}, {"utf-8", "\xff"}, {"utf-16le", "abc"}, {"ebcdic", "x"}} {
		if _, err := encodeSecretFile([]byte(bad.data), bad.enc); err == nil {
			t.Errorf("encodeSecretFile(%q, %s) succeeded, want an error", bad.data, bad.enc)
		}
	}
}

func FuzzSecretFileEncodings(f *testing.F) {
	f.Add([]byte("hello"), uint8(0))
	f.Add([]byte{0xff, 0xfe, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		enc := secretEncodings[int(which)%len(secretEncodings)]
		v, err := encodeSecretFile(data, enc)
		if err != nil {
			return
		}
		out, err := decodeSecretFile(v, enc)
		if err != nil {
			t.Fatalf("decode of an encoded value failed (%s): %v", enc, err)
		}
		if enc != "utf-16le" && enc != "utf-16be" && !bytes.Equal(out, data) {
			t.Fatalf("%s round trip: got %x, want %x", enc, out, data)
		}
	})
}

func TestExpandArgs(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.StringArray("secret-permissions", nil, "")
	fs.StringArray("tags", nil, "")
	fs.StringP("name", "n", "", "")
	fs.Bool("enabled", false, "")
	fs.String("rbac", "", "")
	fs.Lookup("rbac").NoOptDefVal = "true"
	nargs := []string{"secret-permissions", "tags"}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"multi-value", []string{"--secret-permissions", "get", "list", "-n", "kv"}, []string{"--secret-permissions=get", "--secret-permissions=list", "-n", "kv"}},
		{"multi-value with no words", []string{"--tags", "--name", "x"}, []string{"--tags=", "--name", "x"}},
		{"multi-value at the end", []string{"--tags"}, []string{"--tags="}},
		{"value in the flag", []string{"--tags=a=b", "c"}, []string{"--tags=a=b", "c"}},
		{"boolean word", []string{"--enabled", "false", "-n", "x"}, []string{"--enabled=false", "-n", "x"}},
		{"boolean alone", []string{"--enabled", "-n", "x"}, []string{"--enabled", "-n", "x"}},
		{"three-state word", []string{"--rbac", "No"}, []string{"--rbac=no"}},
		{"three-state alone", []string{"--rbac", "--tags", "a"}, []string{"--rbac", "--tags=a"}},
		{"after --", []string{"--", "--tags", "x"}, []string{"--", "--tags", "x"}},
		{"negative number is a value", []string{"--tags", "-1"}, []string{"--tags=-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, expandArgs(fs, tt.in, nargs)); diff != "" {
				t.Errorf("expandArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyHostsBlock(t *testing.T) {
	const server = "https://localhost:8443"
	orig := "127.0.0.1 localhost\n::1 localhost"
	once := applyHostsBlock(orig, server, []string{"127.0.0.1 a.vault.localhost"})
	want := "127.0.0.1 localhost\n::1 localhost\n# BEGIN keystage https://localhost:8443\n127.0.0.1 a.vault.localhost\n# END keystage https://localhost:8443\n"
	if once != want {
		t.Fatalf("first apply:\n%q\nwant\n%q", once, want)
	}
	if twice := applyHostsBlock(once, server, []string{"127.0.0.1 a.vault.localhost"}); twice != once {
		t.Errorf("second apply changed the file:\n%q", twice)
	}
	updated := applyHostsBlock(once+"10.0.0.1 other\n", server, []string{"127.0.0.1 b.vault.localhost"})
	if !strings.Contains(updated, "b.vault.localhost") || strings.Contains(updated, "a.vault.localhost") || !strings.HasSuffix(updated, "10.0.0.1 other\n") {
		t.Errorf("update did not replace the block in place:\n%s", updated)
	}
}

func FuzzApplyHostsBlock(f *testing.F) {
	f.Add("127.0.0.1 localhost\n", "127.0.0.1 a.vault.localhost")
	f.Add("# BEGIN keystage https://localhost:8443\nx\n", "")
	f.Add("# BEGIN keystage https://localhost:8443\r\n# END keystage https://localhost:8443\r\n", "1.2.3.4 b")
	f.Fuzz(func(t *testing.T, content, line string) {
		if strings.ContainsAny(line, "\r\n") {
			return
		}
		lines := []string{line}
		once := applyHostsBlock(content, "https://localhost:8443", lines)
		if twice := applyHostsBlock(once, "https://localhost:8443", lines); twice != once {
			t.Fatalf("not idempotent:\n%q\n%q", once, twice)
		}
	})
}

func TestVaultSuffixFromMetadata(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"list of clouds", `[{"name":"Keystage","suffixes":{"keyVaultDns":".vault.keystage.example"}}]`, "vault.keystage.example"},
		{"one object", `{"suffixes":{"keyVaultDns":".Vault.Localhost"}}`, "vault.localhost"},
		{"no suffix", `[{"name":"x"}]`, ""},
		{"not JSON", `<html>`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := vaultSuffixFromMetadata([]byte(tt.body)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
