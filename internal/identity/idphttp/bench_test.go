package idphttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/identity/identitytest"
)

// benchToken drives the token endpoint handler in-process (no network or TLS) with body.
func benchToken(b *testing.B, p *idp, body string) {
	b.Helper()
	path := p.tokenPath()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("Content-Type", formType)
			rec := httptest.NewRecorder()
			p.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		}
	})
}

// BenchmarkTokenClientSecret measures client-secret token issuance through the HTTP
// handler on SQLite (storage reads, MAC check, RS256 signing).
func BenchmarkTokenClientSecret(b *testing.B) {
	p := newIDP(b, identitytest.Open(b, "sqlite"))
	app, secret := p.app(b)
	benchToken(b, p, secretForm(app.AppID, secret, vaultRes+"/.default openid offline_access profile").Encode())
}

// BenchmarkTokenFederatedAssertion measures federated-assertion issuance through the HTTP
// handler: assertion parsing, FIC matching, RS256 verification against cached issuer keys
// and signing.
func BenchmarkTokenFederatedAssertion(b *testing.B) {
	p := newIDP(b, identitytest.Open(b, "sqlite"))
	const sub = "sc://org/proj/bench"
	app := p.federatedApp(b, p.issuer.URL(), sub)
	benchToken(b, p, assertionForm(app.AppID, p.issuer.Assertion(b, sub)).Encode())
}
