package idphttp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/federation/fedtest"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/idphttp"
	"github.com/keystage/keystage/internal/identity/token"
)

const (
	vaultRes = "https://vault.azure.net"
	armRes   = "https://management.azure.com/"
)

// idp is an identity provider served over real HTTPS by httptest, on one backend.
type idp struct {
	srv    *httptest.Server
	url    string
	svc    *identity.Service
	h      *idphttp.Handler
	st     *identitytest.Store
	clock  *identitytest.Clock
	tenant identity.Tenant
	admin  identity.BootstrapResult
	// issuer is a test OIDC issuer the service trusts by prefix; tests needing another
	// create one with trustedIssuer.
	issuer *fedtest.Issuer
	client *http.Client
	// logs collects everything the service and handler log (JSON lines).
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newIDP starts the handler over HTTPS. The service's authority is the test server's URL;
// federation trusts the issuers in trust (their URLs) and the server itself.
func newIDP(t testing.TB, st *identitytest.Store, trust ...*fedtest.Issuer) *idp {
	t.Helper()
	p := &idp{st: st, clock: identitytest.NewClock(time.Now()), logs: &syncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.url = p.srv.URL
	p.issuer = fedtest.New(t)
	trust = append(trust, p.issuer)
	prefixes := []string{p.url}
	pool := p.issuer.CertPool()
	for _, is := range trust {
		prefixes = append(prefixes, is.URL())
		pool.AddCert(is.Server.Certificate())
	}
	pool.AddCert(p.srv.Certificate())
	svc, err := identity.New(st, st, identity.Config{
		Authority: p.url,
		Resources: []string{vaultRes, armRes, "https://management.core.windows.net/", "https://graph.microsoft.com", "499b84ac-1321-427f-aa17-267ca6975798", p.url},
		Federation: federation.Config{
			TrustedIssuerPrefixes: prefixes,
			RootCAs:               pool,
			Timeout:               500 * time.Millisecond,
		},
		Now: p.clock.Now,
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	p.svc = svc
	if p.admin, err = svc.Bootstrap(context.Background(), identity.BootstrapOptions{}); err != nil {
		t.Fatal(err)
	}
	p.tenant = p.admin.Tenant
	if p.h, err = idphttp.New(svc, idphttp.Config{Now: p.clock.Now}, logger); err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", p.h)
	p.client = p.srv.Client()
	return p
}

func (p *idp) tokenPath() string { return "/" + p.tenant.ID + "/oauth2/v2.0/token" }

// app creates an application with a client secret.
func (p *idp) app(t testing.TB) (identity.Application, string) {
	t.Helper()
	ctx := context.Background()
	app, err := p.svc.CreateApplication(ctx, p.tenant.ID, "app")
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.svc.AddClientSecret(ctx, p.tenant.ID, app.AppID, identity.SecretOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return app, s.SecretText
}

// federatedApp creates an application trusting (issuer, subject).
func (p *idp) federatedApp(t testing.TB, issuer, subject string) identity.Application {
	t.Helper()
	app, _ := p.app(t)
	p.addFIC(t, app.AppID, issuer, subject)
	return app
}

func (p *idp) addFIC(t testing.TB, clientID, issuer, subject string) {
	t.Helper()
	_, err := p.svc.CreateFederatedCredential(context.Background(), p.tenant.ID, clientID, identity.FederatedCredential{
		Name: fmt.Sprintf("fic-%d", time.Now().UnixNano()), Issuer: issuer, Subject: subject, Audiences: []string{fedtest.Audience},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// response is a decoded token-endpoint answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// aadsts returns the first error code of an Entra error body.
func (r response) aadsts() int {
	codes, _ := r.body["error_codes"].([]any)
	if len(codes) == 0 {
		return 0
	}
	n, _ := codes[0].(float64)
	return int(n)
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

func (p *idp) do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &out.body)
	return out
}

// postRaw posts body to path with a form content type (or the given one).
func (p *idp) postRaw(t testing.TB, path, contentType, body string, hdr http.Header) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return p.do(t, req)
}

const formType = "application/x-www-form-urlencoded; charset=utf-8"

func (p *idp) post(t testing.TB, form url.Values) response {
	t.Helper()
	return p.postRaw(t, p.tokenPath(), formType, form.Encode(), nil)
}

func secretForm(clientID, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
}

func assertionForm(clientID, assertion string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_info": {"1"},
		"client_assertion_type": {identity.AssertionTypeJWTBearer}, "client_assertion": {assertion},
		"scope": {vaultRes + "/.default openid offline_access profile"},
	}
}

// wantError checks an Entra error answer.
func wantError(t testing.TB, r response, status int, oauth string, aadsts int) {
	t.Helper()
	if r.status != status || r.body["error"] != oauth || r.aadsts() != aadsts {
		t.Fatalf("got %s\nwant %d %s AADSTS%d", r, status, oauth, aadsts)
	}
	desc, _ := r.body["error_description"].(string)
	if !strings.HasPrefix(desc, fmt.Sprintf("AADSTS%d: ", aadsts)) || !strings.Contains(desc, "\r\nTrace ID: ") ||
		!strings.Contains(desc, "\r\nCorrelation ID: ") || !strings.Contains(desc, "\r\nTimestamp: ") {
		t.Errorf("error_description shape: %q", desc)
	}
	for _, f := range []string{"timestamp", "trace_id", "correlation_id", "error_uri"} {
		if s, _ := r.body[f].(string); s == "" {
			t.Errorf("error body lacks %s: %s", f, r.raw)
		}
	}
}

// wantToken checks a successful v2 answer and returns the verified claims.
func (p *idp) wantToken(t testing.TB, r response, resource string) *token.Claims {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("got %s, want 200", r)
	}
	for _, f := range []string{"refresh_token", "id_token", "client_info", "scope"} {
		if _, ok := r.body[f]; ok {
			t.Errorf("app-only response carries %s", f)
		}
	}
	if r.body["token_type"] != "Bearer" || r.body["expires_in"] == nil {
		t.Errorf("response = %s", r.raw)
	}
	raw, _ := r.body["access_token"].(string)
	c, err := p.svc.Verifier().Verify(context.Background(), raw, token.Expect{Audiences: []string{resource}, TenantID: p.tenant.ID})
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	if r.header.Get("Cache-Control") == "" || !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	return c
}

// b64 encodes for hand-built JWS parts.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
