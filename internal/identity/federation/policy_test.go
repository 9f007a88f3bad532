package federation

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckIssuer(t *testing.T) {
	p, err := NewPolicy([]string{"https://localhost:8443/", "https://10.1.2.3/keystage"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		issuer string
		ok     bool
	}{
		{"https://token.actions.githubusercontent.com", true},
		{"https://vstoken.dev.azure.com/8f3c2f6e-0000-4000-8000-000000000001", true},
		{"https://login.microsoftonline.com/tid/v2.0", true},
		{"https://issuer.example:8443/path/", true},
		{"https://8.8.8.8/issuer", true},
		// trusted prefixes
		{"https://localhost:8443", true},
		{"https://localhost:8443/_oidc/org", true},
		{"https://localhost:84430/x", false},
		{"https://10.1.2.3/keystage/org", true},
		{"https://10.1.2.3/keystagex", false},
		{"https://10.1.2.3/other", false},
		// SSRF targets
		{"http://169.254.169.254/", false},
		{"https://169.254.169.254/metadata", false},
		{"https://localhost", false},
		{"https://LOCALHOST:9000", false},
		{"https://foo.localhost", false},
		{"https://metadata", false},
		{"https://127.0.0.1", false},
		{"https://127.1.2.3:443", false},
		{"https://10.0.0.1", false},
		{"https://172.16.5.4", false},
		{"https://192.168.1.1", false},
		{"https://100.64.0.1", false},
		{"https://0.0.0.0", false},
		{"https://[::1]", false},
		{"https://[fe80::1]", false},
		{"https://[fd00::1]", false},
		{"https://[::ffff:127.0.0.1]", false},
		{"https://[::ffff:169.254.169.254]", false},
		{"https://[64:ff9b::a9fe:a9fe]", false},
		// shape
		{"", false},
		{" https://issuer.example", false},
		{"https://issuer.example ", false},
		{"https://issuer.example\n", false},
		{"http://issuer.example", false},
		{"HTTPS://issuer.example", false},
		{"https://user:pw@issuer.example", false},
		{"https://issuer.example/?q=1", false},
		{"https://issuer.example/#f", false},
		{"https://", false},
		{"https://issuer.example/" + strings.Repeat("a", 600), false},
	}
	for _, tc := range cases {
		err := p.CheckIssuer(tc.issuer)
		if tc.ok && err != nil {
			t.Errorf("CheckIssuer(%q) = %v, want nil", tc.issuer, err)
		}
		if !tc.ok && !errors.Is(err, ErrIssuerNotAllowed) {
			t.Errorf("CheckIssuer(%q) = %v, want ErrIssuerNotAllowed", tc.issuer, err)
		}
	}
}

func TestNewPolicyRejectsBadPrefixes(t *testing.T) {
	for _, prefix := range []string{"http://localhost", "localhost:8443", "https://", "https://h/?x=1"} {
		if _, err := NewPolicy([]string{prefix}); err == nil {
			t.Errorf("NewPolicy(%q) accepted", prefix)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "140.82.112.3": true, "2606:4700::1111": true,
		"127.0.0.1": false, "10.1.1.1": false, "169.254.169.254": false, "100.100.1.1": false,
		"224.0.0.1": false, "255.255.255.255": false, "::": false, "::1": false, "fc00::1": false,
		"ff02::1": false, "::ffff:10.0.0.1": false, "2002:a9fe:a9fe::1": false, "2001:db8::1": false,
	} {
		if got := PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestDialTimeCheck proves the restricted client refuses loopback at dial time even when
// the URL check is skipped (as for a public host name that resolves to 127.0.0.1).
func TestDialTimeCheck(t *testing.T) {
	hits := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	cfg := Config{}
	cfg.setDefaults()
	policy, _ := NewPolicy(nil)
	f := newFetcher(policy, cfg)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	_, err := f.restricted.Do(req)
	if !errors.Is(err, ErrIssuerNotAllowed) {
		t.Fatalf("restricted client dialing %s: %v, want ErrIssuerNotAllowed", srv.URL, err)
	}
	if hits != 0 {
		t.Errorf("server saw %d requests", hits)
	}
	// A localhost name passes no URL check either: getJSON refuses it before dialing.
	var v any
	err = f.getJSON(context.Background(), strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), &v)
	if !errors.Is(err, ErrIssuerNotAllowed) {
		t.Fatalf("getJSON(localhost) = %v, want ErrIssuerNotAllowed", err)
	}
}
