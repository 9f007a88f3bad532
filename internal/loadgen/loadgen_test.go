package loadgen

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeVault answers like a vault: a challenge without a token, then get and set.
func fakeVault(t *testing.T, failEvery int64) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	var gets, sets atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="https://idp.test/tenant", resource="https://vault.test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("api-version") != "7.6" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.Method {
		case http.MethodGet:
			if !strings.HasSuffix(r.URL.Path, "/") {
				t.Errorf("get without the trailing slash: %s", r.URL.Path)
			}
			if n := gets.Add(1); failEvery > 0 && n%failEvery == 0 {
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		case http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			if !bytes.Contains(body, []byte(`"value":"vvvv"`)) {
				t.Errorf("set body %s", body)
			}
			sets.Add(1)
		}
		_, _ = w.Write([]byte(`{"value":"x"}`))
	}))
	srv.EnableHTTP2 = false
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &gets, &sets
}

func pool(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

func TestRun(t *testing.T) {
	srv, gets, sets := fakeVault(t, 0)
	cfg := Config{
		VaultURL: "https://myvault.vault.test", Connect: strings.TrimPrefix(srv.URL, "https://"),
		RootCAs: pool(srv), Token: StaticToken("tok"), Connections: []int{1, 4},
		Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond, ValueSize: 4, APIVersion: "7.6",
	}
	// The test server's certificate names example.com; the vault host must verify.
	cfg.RootCAs = nil
	if _, err := Run(context.Background(), withOp(cfg, OpGet)); err == nil {
		t.Fatal("Run trusted a certificate not issued for the vault host")
	}
	cfg.RootCAs = pool(srv)
	cfg.VaultURL = "https://example.com"
	for _, op := range []string{OpGet, OpSet} {
		res, err := Run(context.Background(), withOp(cfg, op))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if len(res) != 2 || res[0].Connections != 1 || res[1].Connections != 4 {
			t.Fatalf("%s: results %+v", op, res)
		}
		for _, r := range res {
			if r.Requests == 0 || r.Errors != 0 || r.PerSecond <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
				t.Errorf("%s: implausible result %+v", op, r)
			}
		}
	}
	if gets.Load() == 0 || sets.Load() < 2 {
		t.Errorf("server saw %d gets, %d sets", gets.Load(), sets.Load())
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, []Result{{Op: "get", Connections: 1, Requests: 10, PerSecond: 5, P50: time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "req/s") || !strings.Contains(buf.String(), "1.00ms") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestRunCountsErrors(t *testing.T) {
	srv, _, _ := fakeVault(t, 3)
	res, err := Run(context.Background(), Config{
		VaultURL: "https://example.com", Connect: strings.TrimPrefix(srv.URL, "https://"), RootCAs: pool(srv),
		Token: StaticToken("tok"), Op: OpGet, Connections: []int{2}, Duration: 200 * time.Millisecond, APIVersion: "7.6", ValueSize: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Errors == 0 || r.Statuses[429] != r.Errors || !strings.Contains(r.FirstError, "429") {
		t.Errorf("errors not counted: %+v", r)
	}
	var buf bytes.Buffer
	_ = WriteTable(&buf, res)
	if !strings.Contains(buf.String(), "×429") {
		t.Errorf("table does not break errors down:\n%s", buf.String())
	}
}

func TestDiscoverChallenge(t *testing.T) {
	srv, _, _ := fakeVault(t, 0)
	c, err := DiscoverChallenge(context.Background(), "https://example.com", strings.TrimPrefix(srv.URL, "https://"), pool(srv))
	if err != nil {
		t.Fatal(err)
	}
	if c.Authorization != "https://idp.test/tenant" || c.Resource != "https://vault.test" {
		t.Errorf("challenge %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	base := Config{VaultURL: "https://v.test", Token: StaticToken("t"), Op: OpGet, Connections: []int{1}, Duration: time.Second}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"http", func(c *Config) { c.VaultURL = "http://v.test" }},
		{"op", func(c *Config) { c.Op = "delete" }},
		{"no levels", func(c *Config) { c.Connections = nil }},
		{"zero connections", func(c *Config) { c.Connections = []int{0} }},
		{"no duration", func(c *Config) { c.Duration = 0 }},
		{"no token", func(c *Config) { c.Token = nil }},
		{"bad connect", func(c *Config) { c.Connect = "nohostport" }},
	}
	for _, tt := range tests {
		c := base
		tt.edit(&c)
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		in      string
		want    Challenge
		wantErr bool
	}{
		{`Bearer authorization="https://login.windows.net/t1", resource="https://vault.azure.net"`, Challenge{"https://login.windows.net/t1", "https://vault.azure.net"}, false},
		{`Bearer authorization="https://h/t", scope="https://vault.test:8443/.default"`, Challenge{"https://h/t", "https://vault.test:8443"}, false},
		{`Bearer authorization_uri="https://h/t",resource="r"`, Challenge{"https://h/t", "r"}, false},
		{`Basic realm="x"`, Challenge{}, true},
		{`Bearer resource="r"`, Challenge{}, true},
		{``, Challenge{}, true},
	}
	for _, tt := range tests {
		got, err := ParseChallenge(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseChallenge(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer authorization="https://login.windows.net/t1", resource="https://vault.azure.net"`)
	f.Add(`Bearer scope="x/.default",authorization=y`)
	f.Add(`Bearer ,,,=,"=`)
	f.Fuzz(func(t *testing.T, h string) {
		c, err := ParseChallenge(h)
		if err == nil && (c.Authorization == "" || c.Resource == "") {
			t.Fatalf("accepted %q without both parts: %+v", h, c)
		}
	})
}

func withOp(c Config, op string) Config {
	c.Op = op
	return c
}
