package task

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"
)

func TestChallengeResource(t *testing.T) {
	tests := []struct{ header, want string }{
		{`Bearer authorization="https://localhost:8443/t", resource="https://vault.localhost:8443"`, "https://vault.localhost:8443"},
		{`Bearer authorization="https://login.microsoftonline.com/t",resource="https://vault.azure.net"`, "https://vault.azure.net"},
		{`Bearer authorization="https://x/t", scope="https://vault.azure.net/.default"`, ""},
		{``, ""},
		{`resource=`, ""},
	}
	for _, tc := range tests {
		if got := challengeResource(tc.header); got != tc.want {
			t.Errorf("challengeResource(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func FuzzChallengeResource(f *testing.F) {
	for _, s := range []string{`Bearer authorization="https://a/t", resource="https://vault.azure.net"`, `resource="x"`, `,,=,`, `resource`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		// The value is one comma-separated pair's, quotes removed, as the task reads it.
		r := challengeResource(h)
		if strings.ContainsAny(r, `",`) {
			t.Fatalf("challengeResource(%q) = %q", h, r)
		}
		if r != "" && !strings.Contains(h, "resource") {
			t.Fatalf("challengeResource(%q) = %q without a resource pair", h, r)
		}
	})
}

func TestFlattenJSON(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"{\n  \"b\": 1,\n  \"a\": [true, null]\n}", `{"b":1,"a":[true,null]}`, true},
		{"[\n1,\n2\n]\n", `[1,2]`, true},
		{"\"a\nb\"", "", false},
		{"12\n", "", false},
		{"{\n", "", false},
		{"line one\nline two", "", false},
	}
	for _, tc := range tests {
		got, ok := flattenJSON(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("flattenJSON(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzFlattenJSON(f *testing.F) {
	for _, s := range []string{"{\n\"a\": 1\n}", "[1,\n2]", "x\ny", "{", "  {\"a\":\"b\\nc\"}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flat, ok := flattenJSON(s)
		if !ok {
			return
		}
		if strings.ContainsAny(flat, "\r\n") {
			t.Fatalf("flattened %q to %q, which has a line break", s, flat)
		}
		if !json.Valid([]byte(flat)) {
			t.Fatalf("flattened %q to invalid JSON %q", s, flat)
		}
	})
}

func FuzzSecretPath(f *testing.F) {
	for _, s := range []string{"name", "name/1234abcd", "a b", "x%2Fy", "é", "../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p := secretPath(name)
		// Every segment decodes back to the name's segment: nothing escapes the path.
		segs := strings.Split(p, "/")
		want := strings.Split(name, "/")
		if len(segs) != len(want) {
			t.Fatalf("secretPath(%q) = %q: %d segments, want %d", name, p, len(segs), len(want))
		}
		for i, s := range segs {
			d, err := url.PathUnescape(s)
			if err != nil || d != want[i] {
				t.Fatalf("segment %q of %q decodes to %q, %v; want %q", s, p, d, err, want[i])
			}
			if strings.ContainsAny(s, "?#%") && !strings.Contains(s, "%") {
				t.Fatalf("segment %q is not escaped", s)
			}
		}
	})
}

func TestVaultFallbackDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	var d net.Dialer
	dial := vaultFallbackDialer(d.DialContext, "vault.invalid:"+port, "https://127.0.0.1:"+port+"/")
	ctx := context.Background()
	conn, err := dial(ctx, "tcp", "kv.vault.invalid:"+port)
	if err != nil {
		t.Fatalf("a vault name DNS does not know was not dialed at the server: %v", err)
	}
	conn.Close()
	if _, err := dial(ctx, "tcp", "other.invalid:"+port); err == nil {
		t.Error("a name outside the vault suffix was redirected to the server")
	}
	plain := vaultFallbackDialer(d.DialContext, "vault.invalid", "")
	if _, err := plain(ctx, "tcp", "kv.vault.invalid:"+port); err == nil {
		t.Error("redirected without an authority")
	}
}
