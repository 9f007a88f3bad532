package idphttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/idphttp"
)

func (p *idp) get(t testing.TB, path string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.do(t, req)
}

func TestDiscoveryV2(t *testing.T) {
	p := newIDP(t, identitytest.Open(t, "sqlite"))
	r := p.get(t, "/"+p.tenant.ID+"/v2.0/.well-known/openid-configuration")
	if r.status != http.StatusOK {
		t.Fatalf("discovery: %s", r)
	}
	base := p.url + "/" + p.tenant.ID
	for field, want := range map[string]string{
		"issuer":                 base + "/v2.0",
		"token_endpoint":         base + "/oauth2/v2.0/token",
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"jwks_uri":               base + "/discovery/v2.0/keys",
	} {
		if r.body[field] != want {
			t.Errorf("%s = %v, want %s", field, r.body[field], want)
		}
	}
	algs, _ := r.body["id_token_signing_alg_values_supported"].([]any)
	if len(algs) != 1 || algs[0] != "RS256" {
		t.Errorf("algs = %v", algs)
	}
	// The JWKS it names serves the tenant's key.
	keys := p.get(t, "/"+p.tenant.ID+"/discovery/v2.0/keys")
	list, _ := keys.body["keys"].([]any)
	if keys.status != 200 || len(list) != 1 {
		t.Fatalf("JWKS: %s", keys)
	}
	k := list[0].(map[string]any)
	if k["kty"] != "RSA" || k["use"] != "sig" || k["kid"] == nil || k["kid"] != k["x5t"] || k["d"] != nil {
		t.Errorf("JWK = %v", k)
	}
	// Unknown tenants and wrong methods get Entra errors.
	wantError(t, p.get(t, "/00000000-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration"), 400, "invalid_request", identity.AADSTSTenantNotFound)
	wantError(t, p.postRaw(t, "/"+p.tenant.ID+"/discovery/v2.0/keys", formType, "", nil), http.StatusMethodNotAllowed, "invalid_request", 900561)
	if r := p.get(t, "/"+p.tenant.ID+"/oauth2/v2.0/authorize?client_id=x"); r.status != 400 || r.body["error"] != "unsupported_response_type" {
		t.Errorf("authorize: %s", r)
	}
	if r := p.get(t, "/"+p.tenant.ID+"/nothing/here"); r.status != 404 {
		t.Errorf("unknown path: %s", r)
	}
}

func TestDiscoveryAnswersWithTheHostUsed(t *testing.T) {
	p := newIDP(t, identitytest.Open(t, "sqlite"))
	h, err := idphttp.New(p.svc, idphttp.Config{Hosts: []string{"alias.example:8443"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"alias.example:8443": "https://alias.example:8443/",
		"evil.example":       p.url + "/", // not accepted: the canonical authority
	} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/"+p.tenant.ID+"/v2.0/.well-known/openid-configuration", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), `"issuer":"`+want+p.tenant.ID+`/v2.0"`) {
			t.Errorf("host %s: %s", host, rec.Body.String())
		}
	}
}

// TestStandardOIDCClientVerifiesTokens checks the v1 discovery document against go-oidc:
// a resource server that is not Keystage can verify Keystage tokens from it.
func TestStandardOIDCClientVerifiesTokens(t *testing.T) {
	p := newIDP(t, identitytest.Open(t, "sqlite"))
	app, secret := p.app(t)
	r := p.post(t, secretForm(app.AppID, secret, vaultRes+"/.default"))
	p.wantToken(t, r, vaultRes)
	ctx := oidc.ClientContext(context.Background(), p.client)
	provider, err := oidc.NewProvider(ctx, p.svc.IssuerURL(p.tenant.ID))
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: vaultRes}).Verify(ctx, r.body["access_token"].(string))
	if err != nil {
		t.Fatalf("go-oidc verification: %v", err)
	}
	if idt.Subject != app.ServicePrincipalID {
		t.Errorf("sub = %s", idt.Subject)
	}
}

func TestTokenV1Endpoint(t *testing.T) {
	p := newIDP(t, identitytest.Open(t, "sqlite"))
	app, secret := p.app(t)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app.AppID}, "client_secret": {secret}, "resource": {armRes}}
	for _, path := range []string{"/" + p.tenant.ID + "/oauth2/token", "/" + p.tenant.ID + "/oauth2/token/?api-version=1.0"} {
		r := p.postRaw(t, path, formType, form.Encode(), nil)
		if r.status != 200 || r.body["resource"] != armRes || r.body["token_type"] != "Bearer" {
			t.Fatalf("%s: %s", path, r)
		}
		for _, f := range []string{"expires_in", "expires_on", "not_before", "ext_expires_in"} {
			if _, ok := r.body[f].(string); !ok {
				t.Errorf("%s: %s is not a string", path, f)
			}
		}
	}
	r := p.postRaw(t, "/"+p.tenant.ID+"/oauth2/token", formType, without(form, "resource"), nil)
	wantError(t, r, 400, "invalid_request", identity.AADSTSMissingParameter)
}

func TestCorrelationIDIsEchoed(t *testing.T) {
	p := newIDP(t, identitytest.Open(t, "sqlite"))
	const cid = "0f0e0d0c-0b0a-4909-8807-060504030201"
	r := p.postRaw(t, p.tokenPath(), formType, "grant_type=client_credentials", http.Header{"Client-Request-Id": {cid}})
	if r.body["correlation_id"] != cid || r.header.Get("client-request-id") != cid || r.header.Get("x-ms-request-id") == "" {
		t.Errorf("correlation: body %v, headers %v", r.body["correlation_id"], r.header)
	}
}

// TestLogsCarryNoCredentials drives successful and failing requests of every kind and
// checks that no secret, assertion, identity header or issued token reaches the logs.
func TestLogsCarryNoCredentials(t *testing.T) {
	p := newIDP(t, identitytest.Open(t, "sqlite"))
	ctx := context.Background()
	app, secret := p.app(t)
	const sub = "sc://org/proj/logs"
	fapp := p.federatedApp(t, p.issuer.URL(), sub)
	assertion := p.issuer.Assertion(t, sub)
	mi, err := p.svc.CreateManagedIdentity(ctx, p.tenant.ID, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/logs")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := p.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: p.tenant.ID, ClientID: mi.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	sensitive := []string{secret, assertion, cred.Header, p.admin.AdminSecret.SecretText}
	for _, r := range []response{
		p.post(t, secretForm(app.AppID, secret, vaultRes+"/.default")),
		p.post(t, secretForm(app.AppID, secret+"x", vaultRes+"/.default")),
		p.post(t, secretForm(app.AppID, secret, "https://nope.example/.default")),
		p.post(t, assertionForm(fapp.AppID, assertion)),
		p.post(t, assertionForm(app.AppID, assertion)),
		p.get(t, "/msi/token?api-version=2019-08-01&resource="+url.QueryEscape(vaultRes)),
	} {
		if tok, ok := r.body["access_token"].(string); ok {
			sensitive = append(sensitive, tok)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, p.url+"/msi/token?api-version=2019-08-01&resource="+url.QueryEscape(vaultRes), nil)
	req.Header.Set("X-IDENTITY-HEADER", cred.Header)
	r := p.do(t, req)
	if r.status != 200 {
		t.Fatalf("MSI: %s", r)
	}
	sensitive = append(sensitive, r.body["access_token"].(string))
	logs := p.logs.String()
	if !strings.Contains(logs, "token issued") || !strings.Contains(logs, "token request refused") {
		t.Fatalf("expected request logs, got:\n%s", logs)
	}
	for _, s := range sensitive {
		for _, form := range []string{s, url.QueryEscape(s), s[len(s)-20:]} {
			if strings.Contains(logs, form) {
				t.Errorf("logs contain a credential (%.8s…)", s)
			}
		}
	}
}

func TestTokenPathsAreExact(t *testing.T) {
	p := newIDP(t, identitytest.Open(t, "sqlite"))
	for _, path := range []string{"/oauth2/token/extra", "/oauth2/v2.0/token/extra", "/oauth2/v2.0/token/"} {
		if r := p.postRaw(t, "/"+p.tenant.ID+path, formType, "", nil); r.status != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", path, r)
		}
	}
}
