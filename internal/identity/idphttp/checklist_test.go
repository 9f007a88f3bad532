package idphttp_test

// The token-endpoint, assertion and managed identity cases of the security checklist
// (identity.md §5 items 1–24 and 43), one subtest each, on SQLite and PostgreSQL.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/federation/fedtest"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/token"
)

// issuers are the extra test issuers the checklist needs, each trusted by prefix.
type issuers struct {
	mixup, twin, slow, fail, huge, redirect *fedtest.Issuer
}

func TestSecurityChecklist(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		is := issuers{mixup: fedtest.New(t), twin: fedtest.New(t), slow: fedtest.New(t), fail: fedtest.New(t), huge: fedtest.New(t), redirect: fedtest.New(t)}
		p := newIDP(t, st, is.mixup, is.twin, is.slow, is.fail, is.huge, is.redirect)
		for _, item := range []struct {
			name string
			fn   func(*testing.T, *idp, issuers)
		}{
			{"01_wrong_or_expired_secret", item01},
			{"02_secret_of_another_app", item02},
			{"03_app_of_another_tenant", item03},
			{"04_tenant_path_junk", item04},
			{"05_scope_errors", item05},
			{"06_msal_extra_scopes", item06},
			{"07_missing_or_duplicate_params", item07},
			{"08_oversized_body_and_header", item08},
			{"09_disallowed_algorithms", item09},
			{"10_unknown_kid_and_key_headers", item10},
			{"11_hostile_kid", item11},
			{"12_issuer_variants", item12},
			{"13_discovery_issuer_mixup", item13},
			{"14_shared_jwks_does_not_bind", item14},
			{"15_subject_case", item15},
			{"16_audience_shapes", item16},
			{"17_time_window", item17},
			{"18_huge_or_jwe_assertions", item18},
			{"19_duplicate_claims_and_crit", item19},
			{"20_fic_crud_rules", item20},
			{"21_fic_deleted_or_edited", item21},
			{"22_uami_assertion_with_other_client", item22},
			{"23_issuer_endpoint_failures", item23},
			{"24_fic_issuer_ssrf", item24},
			{"43_managed_identity_endpoint", item43},
		} {
			t.Run(item.name, func(t *testing.T) { item.fn(t, p, is) })
		}
	})
}

// 1. Wrong client secret → 401 invalid_client AADSTS7000215; expired → AADSTS7000222.
func item01(t *testing.T, p *idp, _ issuers) {
	app, secret := p.app(t)
	r := p.post(t, secretForm(app.AppID, secret+"x", vaultRes+"/.default"))
	wantError(t, r, http.StatusUnauthorized, "invalid_client", identity.AADSTSInvalidSecret)
	if strings.Contains(r.raw, secret) {
		t.Error("the error body echoes the secret")
	}
	end := p.clock.Now().Add(time.Minute)
	s, err := p.svc.AddClientSecret(context.Background(), p.tenant.ID, app.AppID, identity.SecretOptions{EndDateTime: &end})
	if err != nil {
		t.Fatal(err)
	}
	p.wantToken(t, p.post(t, secretForm(app.AppID, s.SecretText, vaultRes+"/.default")), vaultRes)
	p.clock.Advance(time.Minute)
	wantError(t, p.post(t, secretForm(app.AppID, s.SecretText, vaultRes+"/.default")), http.StatusUnauthorized, "invalid_client", identity.AADSTSExpiredSecret)
}

// 2. Secret of app A with client_id of app B → reject.
func item02(t *testing.T, p *idp, _ issuers) {
	_, secretA := p.app(t)
	appB, _ := p.app(t)
	wantError(t, p.post(t, secretForm(appB.AppID, secretA, vaultRes+"/.default")), http.StatusUnauthorized, "invalid_client", identity.AADSTSInvalidSecret)
}

// 3. Valid app of tenant T1 at /T2/ → reject; issued tid/iss always = the path tenant.
func item03(t *testing.T, p *idp, _ issuers) {
	app, secret := p.app(t)
	t2, err := p.svc.CreateTenant(context.Background(), "T2")
	if err != nil {
		t.Fatal(err)
	}
	r := p.postRaw(t, "/"+t2.ID+"/oauth2/v2.0/token", formType, secretForm(app.AppID, secret, vaultRes+"/.default").Encode(), nil)
	wantError(t, r, http.StatusBadRequest, "unauthorized_client", identity.AADSTSAppNotFound)
	c := p.wantToken(t, p.post(t, secretForm(app.AppID, secret, vaultRes+"/.default")), vaultRes)
	if c.TenantID != p.tenant.ID || c.Issuer != p.svc.IssuerURL(p.tenant.ID) {
		t.Errorf("tid/iss = %s %s, want the path tenant %s", c.TenantID, c.Issuer, p.tenant.ID)
	}
	// The tenant path is case-insensitive; the token still names the canonical id.
	r = p.postRaw(t, "/"+strings.ToUpper(p.tenant.ID)+"/oauth2/v2.0/token", formType, secretForm(app.AppID, secret, vaultRes+"/.default").Encode(), nil)
	if c := p.wantToken(t, r, vaultRes); c.TenantID != p.tenant.ID {
		t.Errorf("tid = %s", c.TenantID)
	}
}

// 4. Tenant path junk → 400, never 500.
func item04(t *testing.T, p *idp, _ issuers) {
	app, secret := p.app(t)
	body := secretForm(app.AppID, secret, vaultRes+"/.default").Encode()
	cases := map[string]int{
		"/..%2F..%2F/oauth2/v2.0/token":                                  identity.AADSTSInvalidTenantID,
		"/" + strings.Repeat("a", 5000) + "/oauth2/v2.0/token":           identity.AADSTSInvalidTenantID,
		"/%C3%BC%E2%80%AE/oauth2/v2.0/token":                             identity.AADSTSInvalidTenantID,
		"/common/oauth2/v2.0/token":                                      identity.AADSTSNoTenant,
		"/organizations/oauth2/v2.0/token":                               identity.AADSTSNoTenant,
		"/consumers/oauth2/token":                                        identity.AADSTSNoTenant,
		"/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token":        identity.AADSTSTenantNotFound,
		"/%7B" + p.tenant.ID + "%7D/oauth2/v2.0/token":                   identity.AADSTSInvalidTenantID,
		"/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration": identity.AADSTSInvalidTenantID,
	}
	for path, code := range cases {
		var r response
		if strings.Contains(path, "openid-configuration") {
			req, _ := http.NewRequest(http.MethodGet, p.url+path, nil)
			r = p.do(t, req)
		} else {
			r = p.postRaw(t, path, formType, body, nil)
		}
		if r.status != http.StatusBadRequest || r.aadsts() != code {
			t.Errorf("%.60s: %s, want 400 AADSTS%d", path, r, code)
		}
	}
}

// 5. Scope without /.default, two resources, unknown resource.
func item05(t *testing.T, p *idp, _ issuers) {
	app, secret := p.app(t)
	for scope, want := range map[string]struct {
		oauth  string
		aadsts int
	}{
		"https://vault.azure.net":                                               {"invalid_scope", identity.AADSTSScopeNotDefault},
		"https://vault.azure.net/user_impersonation":                            {"invalid_scope", identity.AADSTSScopeNotDefault},
		"https://vault.azure.net/.default https://graph.microsoft.com/.default": {"invalid_scope", identity.AADSTSInvalidScope},
		"https://unknown.example/.default":                                      {"invalid_resource", identity.AADSTSResourceNotFound},
		"https://vault.azure.net.evil.example/.default":                         {"invalid_resource", identity.AADSTSResourceNotFound},
		"HTTPS://VAULT.AZURE.NET/.default":                                      {"invalid_resource", identity.AADSTSResourceNotFound},
	} {
		wantError(t, p.post(t, secretForm(app.AppID, secret, scope)), http.StatusBadRequest, want.oauth, want.aadsts)
	}
	// aud is the requested resource exactly, trailing slash and all.
	for scope, aud := range map[string]string{
		vaultRes + "/.default":                          vaultRes,
		vaultRes + "//.default":                         vaultRes + "/",
		"https://management.azure.com//.default":        armRes,
		"https://management.azure.com/.default":         "https://management.azure.com",
		"499b84ac-1321-427f-aa17-267ca6975798/.default": "499b84ac-1321-427f-aa17-267ca6975798",
	} {
		p.wantToken(t, p.post(t, secretForm(app.AppID, secret, scope)), aud)
	}
}

// 6. MSAL's extra scopes are tolerated; no refresh or id token is issued (wantToken checks).
func item06(t *testing.T, p *idp, _ issuers) {
	app, secret := p.app(t)
	c := p.wantToken(t, p.post(t, secretForm(app.AppID, secret, vaultRes+"/.default openid offline_access profile")), vaultRes)
	if c.AppIDACR != token.ACRSecret || c.IDType != "app" || c.ObjectID != app.ServicePrincipalID || c.AppID != app.AppID || c.Version != "1.0" {
		t.Errorf("claims = %+v", c)
	}
	// CAE's claims parameter and client_info are accepted and ignored.
	f := secretForm(app.AppID, secret, vaultRes+"/.default openid offline_access profile")
	f.Set("claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`)
	f.Set("client_info", "1")
	p.wantToken(t, p.post(t, f), vaultRes)
}

// 7. Missing or duplicated form parameters, both credentials → 400.
func item07(t *testing.T, p *idp, _ issuers) {
	app, secret := p.app(t)
	good := secretForm(app.AppID, secret, vaultRes+"/.default")
	for _, tc := range []struct {
		name   string
		body   string
		status int
		oauth  string
		aadsts int
	}{
		{"no grant_type", without(good, "grant_type"), 400, "invalid_request", identity.AADSTSMissingParameter},
		{"no client_id", without(good, "client_id"), 400, "invalid_request", identity.AADSTSMissingParameter},
		{"no scope", without(good, "scope"), 400, "invalid_request", identity.AADSTSMissingParameter},
		{"no credential", without(good, "client_secret"), 400, "invalid_client", identity.AADSTSMissingCredential},
		{"grant_type twice", good.Encode() + "&grant_type=client_credentials", 400, "invalid_request", identity.AADSTSDuplicateParameter},
		{"client_secret twice", good.Encode() + "&client_secret=x", 400, "invalid_request", identity.AADSTSDuplicateParameter},
		{"secret and assertion", good.Encode() + "&client_assertion_type=" + url.QueryEscape(identity.AssertionTypeJWTBearer) + "&client_assertion=a.b.c", 400, "invalid_request", identity.AADSTSMalformedRequest},
		{"password grant", strings.Replace(good.Encode(), "client_credentials", "password", 1), 400, "unsupported_grant_type", identity.AADSTSUnsupportedGrant},
		{"bad escape", good.Encode() + "&x=%zz", 400, "invalid_request", identity.AADSTSMalformedRequest},
		{"semicolon", good.Encode() + ";x=1", 400, "invalid_request", identity.AADSTSMalformedRequest},
		{"resource on v2", good.Encode() + "&resource=" + url.QueryEscape(vaultRes), 400, "invalid_request", 901002},
		{"assertion type without assertion", good.Encode() + "&client_assertion_type=x", 400, "invalid_request", identity.AADSTSMalformedRequest},
	} {
		r := p.postRaw(t, p.tokenPath(), formType, tc.body, nil)
		if r.status != tc.status || r.body["error"] != tc.oauth || r.aadsts() != tc.aadsts {
			t.Errorf("%s: %s, want %d %s AADSTS%d", tc.name, r, tc.status, tc.oauth, tc.aadsts)
		}
	}
	// Credentials in the query string, JSON bodies, GET and two Authorization headers.
	r := p.postRaw(t, p.tokenPath()+"?client_secret=x", formType, without(good, "client_secret"), nil)
	wantError(t, r, 400, "invalid_request", identity.AADSTSMalformedRequest)
	r = p.postRaw(t, p.tokenPath(), "application/json", `{"grant_type":"client_credentials"}`, nil)
	wantError(t, r, 400, "invalid_request", identity.AADSTSMalformedRequest)
	req, _ := http.NewRequest(http.MethodGet, p.url+p.tokenPath(), nil)
	wantError(t, p.do(t, req), http.StatusMethodNotAllowed, "invalid_request", 900561)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(app.AppID)+":"+url.QueryEscape(secret)))
	r = p.postRaw(t, p.tokenPath(), formType, without(without2(good, "client_secret"), "client_id"), http.Header{"Authorization": {basic, basic}})
	wantError(t, r, 400, "invalid_request", identity.AADSTSMalformedRequest)
	// client_secret_basic works alone, and not together with a body secret.
	p.wantToken(t, p.postRaw(t, p.tokenPath(), formType, without(without2(good, "client_secret"), "client_id"), http.Header{"Authorization": {basic}}), vaultRes)
	r = p.postRaw(t, p.tokenPath(), formType, good.Encode(), http.Header{"Authorization": {basic}})
	wantError(t, r, 400, "invalid_request", identity.AADSTSMalformedRequest)
}

func without(v url.Values, key string) string {
	c := url.Values{}
	for k, vs := range v {
		if k != key {
			c[k] = vs
		}
	}
	return c.Encode()
}

func without2(v url.Values, key string) url.Values {
	c := url.Values{}
	for k, vs := range v {
		if k != key {
			c[k] = vs
		}
	}
	return c
}

// 8. Oversized body (a 1 MB assertion) → 413; oversized header → rejected by the server.
func item08(t *testing.T, p *idp, _ issuers) {
	app, _ := p.app(t)
	big := strings.Repeat("A", 1<<20)
	r := p.post(t, assertionForm(app.AppID, big+"."+big+"."+big))
	wantError(t, r, http.StatusRequestEntityTooLarge, "invalid_request", identity.AADSTSRequestTooLarge)
	// Just under the body cap but over the assertion cap: 50027, not a 500.
	r = p.post(t, assertionForm(app.AppID, strings.Repeat("A", 20<<10)+".b.c"))
	wantError(t, r, http.StatusUnauthorized, "invalid_client", identity.AADSTSInvalidAssertion)
	// Go's server refuses headers over its 1 MB default before any handler runs.
	r = p.postRaw(t, p.tokenPath(), formType, "", http.Header{"X-Big": {strings.Repeat("h", 2<<20)}})
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("2 MB header: %d, want 431", r.status)
	}
}

// 9. alg none, HS256 keyed with the issuer's public key, PS256/ES256 → reject.
func item09(t *testing.T, p *idp, _ issuers) {
	const sub = "repo:org/app:ref:refs/heads/main"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	claims := p.issuer.Claims(sub, p.clock.Now())
	good := p.issuer.Sign(t, claims)
	_, payload, _ := fedtest.Segments(good)
	pubDER, _ := x509.MarshalPKIXPublicKey(&p.issuer.Key.PublicKey)
	hs := func() string {
		h := b64(`{"alg":"HS256","kid":"` + p.issuer.KeyID + `"}`)
		m := hmac.New(sha256.New, pubDER)
		m.Write([]byte(h + "." + payload))
		return h + "." + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	for name, raw := range map[string]string{
		"none":  b64(`{"alg":"none","kid":"`+p.issuer.KeyID+`"}`) + "." + payload + ".",
		"HS256": hs(),
		"PS256": fedtest.SignWith(t, p.issuer.Key, map[string]any{"alg": "PS256", "kid": p.issuer.KeyID}, claims),
		"ES256": fedtest.SignWith(t, p.issuer.Key, map[string]any{"alg": "ES256", "kid": p.issuer.KeyID}, claims),
	} {
		r := p.post(t, assertionForm(app.AppID, raw))
		if r.status != http.StatusUnauthorized || r.aadsts() != identity.AADSTSInvalidAssertion {
			t.Errorf("alg %s: %s, want 401 AADSTS50027", name, r)
		}
	}
	p.wantToken(t, p.post(t, assertionForm(app.AppID, good)), vaultRes)
}

// 10. Unknown kid; jku, x5u or an embedded jwk → header ignored, reject when kid unknown.
func item10(t *testing.T, p *idp, _ issuers) {
	const sub = "sc://org/proj/conn10"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	attacker := fedtest.Key(t, 1)
	claims := p.issuer.Claims(sub, p.clock.Now())
	for name, header := range map[string]map[string]any{
		"unknown kid":              {"alg": "RS256", "kid": "no-such-kid"},
		"jku":                      {"alg": "RS256", "kid": "attacker", "jku": p.url + "/attacker/keys"},
		"x5u":                      {"alg": "RS256", "kid": "attacker", "x5u": "https://attacker.example/c.pem"},
		"embedded jwk":             {"alg": "RS256", "kid": p.issuer.KeyID, "jwk": jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: p.issuer.KeyID}},
		"issuer kid, attacker key": {"alg": "RS256", "kid": p.issuer.KeyID},
	} {
		r := p.post(t, assertionForm(app.AppID, fedtest.SignWith(t, attacker, header, claims)))
		if r.status != http.StatusUnauthorized || r.aadsts() != identity.AADSTSAssertionSignature {
			t.Errorf("%s: %s, want 401 AADSTS700027", name, r)
		}
	}
}

// 11. Hostile kids are bounded and cause no lookups beyond the rate-limited refresh.
func item11(t *testing.T, p *idp, _ issuers) {
	const sub = "sc://org/proj/conn11"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	claims := p.issuer.Claims(sub, p.clock.Now())
	p.wantToken(t, p.post(t, assertionForm(app.AppID, p.issuer.Sign(t, claims))), vaultRes) // keys cached
	before := p.issuer.JWKSHits.Load()
	for kid, code := range map[string]int{
		"../../etc/passwd":          identity.AADSTSAssertionSignature,
		"x' OR '1'='1":              identity.AADSTSAssertionSignature,
		"%00":                       identity.AADSTSAssertionSignature,
		strings.Repeat("k", 10<<10): identity.AADSTSInvalidAssertion,
	} {
		r := p.post(t, assertionForm(app.AppID, fedtest.SignWith(t, p.issuer.Key, map[string]any{"alg": "RS256", "kid": kid}, claims)))
		if r.status != http.StatusUnauthorized || r.aadsts() != code {
			t.Errorf("kid %.20q: %s, want AADSTS%d", kid, r, code)
		}
	}
	if n := p.issuer.JWKSHits.Load() - before; n > 1 {
		t.Errorf("hostile kids caused %d JWKS fetches, want at most 1", n)
	}
}

// 12. iss variants never match (exact byte comparison).
func item12(t *testing.T, p *idp, _ issuers) {
	const sub = "sc://org/proj/conn12"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	for _, iss := range []string{
		p.issuer.URL() + "/", strings.ToUpper(p.issuer.URL()), " " + p.issuer.URL(), p.issuer.URL() + " ",
		strings.Replace(p.issuer.URL(), "https://", "http://", 1),
	} {
		c := p.issuer.Claims(sub, p.clock.Now())
		c["iss"] = iss
		wantError(t, p.post(t, assertionForm(app.AppID, p.issuer.Sign(t, c))), http.StatusUnauthorized, "invalid_client", identity.AADSTSFederatedIssuerMismatch)
	}
}

// 13. A discovery document naming another issuer is rejected before its JWKS is used.
func item13(t *testing.T, p *idp, is issuers) {
	const sub = "sc://org/proj/conn13"
	app := p.federatedApp(t, is.mixup.URL(), sub)
	is.mixup.SetDiscoveryIssuer(p.issuer.URL())
	wantError(t, p.post(t, assertionForm(app.AppID, is.mixup.Assertion(t, sub))), http.StatusUnauthorized, "invalid_client", identity.AADSTSExternalOIDCFailed)
	if n := is.mixup.JWKSHits.Load(); n != 0 {
		t.Errorf("JWKS fetched %d times after a mix-up", n)
	}
}

// 14. Issuer X's valid key signing a token with iss = X never satisfies issuer Y's FIC,
// even though X and Y publish the same keys (like vstoken's global JWKS).
func item14(t *testing.T, p *idp, is issuers) {
	const sub = "sc://org/proj/conn14"
	app := p.federatedApp(t, is.twin.URL(), sub) // trusts Y = twin
	// X = p.issuer, same key and kid as twin.
	wantError(t, p.post(t, assertionForm(app.AppID, p.issuer.Assertion(t, sub))), http.StatusUnauthorized, "invalid_client", identity.AADSTSFederatedIssuerMismatch)
	p.wantToken(t, p.post(t, assertionForm(app.AppID, is.twin.Assertion(t, sub))), vaultRes)
}

// 15. A subject differing only in case → AADSTS7002138; otherwise AADSTS700213.
func item15(t *testing.T, p *idp, _ issuers) {
	app := p.federatedApp(t, p.issuer.URL(), "sc://org/Project/conn15")
	r := p.post(t, assertionForm(app.AppID, p.issuer.Assertion(t, "sc://org/project/conn15")))
	wantError(t, r, http.StatusUnauthorized, "invalid_client", identity.AADSTSFederatedSubjectCase)
	if !strings.Contains(r.raw, "sc://org/project/conn15") {
		t.Error("the error does not name the presented subject")
	}
	wantError(t, p.post(t, assertionForm(app.AppID, p.issuer.Assertion(t, "sc://org/other/conn"))), http.StatusUnauthorized, "invalid_client", identity.AADSTSFederatedSubjectMismatch)
}

// 16. aud shapes: missing, trailing slash, object, number, [""] → reject; an array that
// contains the audience is accepted (decided: Entra checks that aud contains it).
func item16(t *testing.T, p *idp, _ issuers) {
	const sub = "sc://org/proj/conn16"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	for name, tc := range map[string]struct {
		aud  any
		code int
	}{
		"missing":         {nil, identity.AADSTSFederatedAudienceMismatch},
		"trailing slash":  {fedtest.Audience + "/", identity.AADSTSFederatedAudienceMismatch},
		"object":          {map[string]any{"x": fedtest.Audience}, identity.AADSTSInvalidAssertion},
		"number":          {7, identity.AADSTSInvalidAssertion},
		"array with \"\"": {[]string{"", fedtest.Audience}, identity.AADSTSInvalidAssertion},
		"other":           {"api://other", identity.AADSTSFederatedAudienceMismatch},
		"array with it":   {[]string{"x", fedtest.Audience}, 0},
	} {
		c := p.issuer.Claims(sub, p.clock.Now())
		if tc.aud == nil {
			delete(c, "aud")
		} else {
			c["aud"] = tc.aud
		}
		r := p.post(t, assertionForm(app.AppID, p.issuer.Sign(t, c)))
		if tc.code == 0 {
			p.wantToken(t, r, vaultRes)
			continue
		}
		if r.status != http.StatusUnauthorized || r.aadsts() != tc.code {
			t.Errorf("aud %s: %s, want AADSTS%d", name, r, tc.code)
		}
	}
}

// 17. exp/nbf/iat/lifetime → AADSTS700024, tested ±1 s around the 5-minute leeway.
func item17(t *testing.T, p *idp, _ issuers) {
	const sub = "sc://org/proj/conn17"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	now := p.clock.Now()
	const leeway = 5 * time.Minute
	for name, tc := range map[string]struct {
		set  map[string]any
		drop string
		code int
	}{
		"exp past beyond leeway": {map[string]any{"exp": now.Add(-leeway - time.Second).Unix(), "nbf": now.Add(-time.Hour).Unix(), "iat": now.Add(-time.Hour).Unix()}, "", identity.AADSTSAssertionTime},
		"exp past within leeway": {map[string]any{"exp": now.Add(-leeway + time.Second).Unix(), "nbf": now.Add(-time.Hour).Unix(), "iat": now.Add(-time.Hour).Unix()}, "", 0},
		"exp missing":            {nil, "exp", identity.AADSTSInvalidAssertion},
		"nbf beyond leeway":      {map[string]any{"nbf": now.Add(leeway + time.Second).Unix(), "exp": now.Add(time.Hour).Unix()}, "", identity.AADSTSAssertionTime},
		"nbf within leeway":      {map[string]any{"nbf": now.Add(leeway - time.Second).Unix(), "exp": now.Add(time.Hour).Unix()}, "", 0},
		"iat in the future":      {map[string]any{"iat": now.Add(leeway + time.Second).Unix()}, "", identity.AADSTSAssertionTime},
		"lifetime over 24h":      {map[string]any{"nbf": now.Unix(), "exp": now.Add(25 * time.Hour).Unix()}, "", identity.AADSTSAssertionTime},
	} {
		c := p.issuer.Claims(sub, now)
		for k, v := range tc.set {
			c[k] = v
		}
		if tc.drop != "" {
			delete(c, tc.drop)
		}
		r := p.post(t, assertionForm(app.AppID, p.issuer.Sign(t, c)))
		if tc.code == 0 {
			p.wantToken(t, r, vaultRes)
			continue
		}
		if r.status != http.StatusUnauthorized || r.aadsts() != tc.code {
			t.Errorf("%s: %s, want AADSTS%d", name, r, tc.code)
		}
	}
}

// 18. 100k dots, more than 16 KB, JWE, zip: DEF → fast reject.
func item18(t *testing.T, p *idp, _ issuers) {
	const sub = "sc://org/proj/conn18"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	claims := p.issuer.Claims(sub, p.clock.Now())
	claims["pad"] = strings.Repeat("p", 17<<10)
	for name, tc := range map[string]struct {
		raw    string
		status int
		code   int
	}{
		"100k dots":       {strings.Repeat(".", 100_000), 413, identity.AADSTSRequestTooLarge},
		"20k dots":        {strings.Repeat(".", 20_000), 401, identity.AADSTSInvalidAssertion},
		"over 16 KB":      {p.issuer.Sign(t, claims), 401, identity.AADSTSInvalidAssertion},
		"JWE":             {b64(`{"alg":"RSA-OAEP","enc":"A256GCM","zip":"DEF","p2c":99999999}`) + ".a.b.c.d", 401, identity.AADSTSInvalidAssertion},
		"zip DEF header":  {fedtest.SignWith(t, p.issuer.Key, map[string]any{"alg": "RS256", "kid": p.issuer.KeyID, "zip": "DEF"}, p.issuer.Claims(sub, p.clock.Now())), 401, identity.AADSTSInvalidAssertion},
		"JSON serialized": {`{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}]}`, 401, identity.AADSTSInvalidAssertion},
	} {
		r := p.post(t, assertionForm(app.AppID, tc.raw))
		if r.status != tc.status || r.aadsts() != tc.code {
			t.Errorf("%s: %.300s, want %d AADSTS%d", name, r, tc.status, tc.code)
		}
	}
}

// 19. Duplicate claims, non-UTF-8, an unknown crit extension → reject.
func item19(t *testing.T, p *idp, _ issuers) {
	const sub = "sc://org/proj/conn19"
	app := p.federatedApp(t, p.issuer.URL(), sub)
	now := p.clock.Now()
	body := func(extra string) []byte {
		return []byte(`{"iss":"` + p.issuer.URL() + `","sub":"` + sub + `","aud":"` + fedtest.Audience + `","exp":` +
			itoa(now.Add(5*time.Minute).Unix()) + extra + `}`)
	}
	hdr := []byte(`{"alg":"RS256","kid":"` + p.issuer.KeyID + `"}`)
	for name, raw := range map[string]string{
		"duplicate sub":  fedtest.SignRaw(t, p.issuer.Key, hdr, body(`,"sub":"sc://org/proj/other"`)),
		"duplicate kid":  fedtest.SignRaw(t, p.issuer.Key, []byte(`{"alg":"RS256","kid":"x","kid":"`+p.issuer.KeyID+`"}`), body("")),
		"non-UTF-8":      fedtest.SignRaw(t, p.issuer.Key, hdr, body(",\"x\":\"\xff\xfe\"")),
		"crit extension": fedtest.SignRaw(t, p.issuer.Key, []byte(`{"alg":"RS256","kid":"`+p.issuer.KeyID+`","crit":["urn:x"],"urn:x":1}`), body("")),
	} {
		r := p.post(t, assertionForm(app.AppID, raw))
		if r.status != http.StatusUnauthorized || r.aadsts() != identity.AADSTSInvalidAssertion {
			t.Errorf("%s: %s, want 401 AADSTS50027", name, r)
		}
	}
	p.wantToken(t, p.post(t, assertionForm(app.AppID, fedtest.SignRaw(t, p.issuer.Key, hdr, body("")))), vaultRes)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// 20. FIC CRUD rules: 21st FIC, duplicate issuer+subject, bad names, audiences, wildcards.
func item20(t *testing.T, p *idp, _ issuers) {
	ctx := context.Background()
	app, _ := p.app(t)
	iss := p.issuer.URL()
	mk := func(name, subject string, auds ...string) error {
		if auds == nil {
			auds = []string{fedtest.Audience}
		}
		_, err := p.svc.CreateFederatedCredential(ctx, p.tenant.ID, app.AppID, identity.FederatedCredential{Name: name, Issuer: iss, Subject: subject, Audiences: auds})
		return err
	}
	for i := range identity.MaxFederatedCredentials {
		if err := mk("fic"+itoa(int64(i)), "s"+itoa(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	bad := map[string]error{
		"21st":             mk("fic-21", "s21"),
		"dup issuer+sub":   mk("dup", "s1"),
		"name _bad":        mk("_bad", "x1"),
		"name 2 chars":     mk("ab", "x2"),
		"name 121 chars":   mk(strings.Repeat("n", 121), "x3"),
		"no audience":      mk("noaud", "x4", []string{}...),
		"two audiences":    mk("twoaud", "x5", "a", "b"),
		"wildcard subject": mk("wild", "repo:org/*"),
	}
	for name, err := range bad {
		if !fault.Is(err, fault.BadRequest) {
			t.Errorf("%s: %v, want BadRequest", name, err)
		}
	}
}

// 21. A deleted or edited FIC stops matching on the next exchange (no cache window).
func item21(t *testing.T, p *idp, _ issuers) {
	ctx := context.Background()
	const sub = "sc://org/proj/conn21"
	app, _ := p.app(t)
	f := identity.FederatedCredential{Name: "edit-me", Issuer: p.issuer.URL(), Subject: sub, Audiences: []string{fedtest.Audience}}
	if _, err := p.svc.CreateFederatedCredential(ctx, p.tenant.ID, app.AppID, f); err != nil {
		t.Fatal(err)
	}
	assertion := p.issuer.Assertion(t, sub)
	p.wantToken(t, p.post(t, assertionForm(app.AppID, assertion)), vaultRes)
	f.Subject = "sc://org/proj/renamed"
	if _, _, err := p.svc.PutFederatedCredential(ctx, p.tenant.ID, app.AppID, f); err != nil {
		t.Fatal(err)
	}
	wantError(t, p.post(t, assertionForm(app.AppID, assertion)), http.StatusUnauthorized, "invalid_client", identity.AADSTSFederatedSubjectMismatch)
	if err := p.svc.DeleteFederatedCredential(ctx, p.tenant.ID, app.AppID, "edit-me"); err != nil {
		t.Fatal(err)
	}
	wantError(t, p.post(t, assertionForm(app.AppID, assertion)), http.StatusUnauthorized, "invalid_client", identity.AADSTSNoFederatedCredential)
}

// 22. An assertion valid for a UAMI's FIC, presented with another app's client_id → reject.
func item22(t *testing.T, p *idp, _ issuers) {
	ctx := context.Background()
	const sub = "system:serviceaccount:ns:sa22"
	mi, err := p.svc.CreateManagedIdentity(ctx, p.tenant.ID, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi22")
	if err != nil {
		t.Fatal(err)
	}
	p.addFIC(t, mi.ClientID, p.issuer.URL(), sub)
	assertion := p.issuer.Assertion(t, sub)
	c := p.wantToken(t, p.post(t, assertionForm(mi.ClientID, assertion)), vaultRes)
	if c.ObjectID != mi.PrincipalID || c.AppIDACR != token.ACRAssertion || c.ManagedIdentityResourceID != mi.ResourceID {
		t.Errorf("UAMI claims = %+v", c)
	}
	other, _ := p.app(t)
	wantError(t, p.post(t, assertionForm(other.AppID, assertion)), http.StatusUnauthorized, "invalid_client", identity.AADSTSNoFederatedCredential)
	withFIC := p.federatedApp(t, p.issuer.URL(), "sc://unrelated")
	wantError(t, p.post(t, assertionForm(withFIC.AppID, assertion)), http.StatusUnauthorized, "invalid_client", identity.AADSTSFederatedSubjectMismatch)
}

// 23. Slow, failing, huge or redirecting issuer endpoints → bounded, fail closed (50166).
func item23(t *testing.T, p *idp, is issuers) {
	big := strings.Repeat(" ", 10<<20)
	set := map[*fedtest.Issuer]http.HandlerFunc{
		is.slow: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		},
		is.fail:     func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) },
		is.huge:     func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big)) },
		is.redirect: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.String(), http.StatusFound) },
	}
	for iss, h := range set {
		iss.SetHandler(h)
		const sub = "sc://org/proj/conn23"
		app := p.federatedApp(t, iss.URL(), sub)
		start := time.Now()
		wantError(t, p.post(t, assertionForm(app.AppID, iss.Assertion(t, sub))), http.StatusUnauthorized, "invalid_client", identity.AADSTSExternalOIDCFailed)
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("issuer %s: rejection took %s", iss.URL(), d)
		}
	}
	// Once an issuer is back, the rate limit still caps refreshes: a second failure
	// within the interval does not refetch.
	hits := is.fail.DiscoveryHits.Load()
	app := p.federatedApp(t, is.fail.URL(), "sc://org/proj/again")
	wantError(t, p.post(t, assertionForm(app.AppID, is.fail.Assertion(t, "sc://org/proj/again"))), http.StatusUnauthorized, "invalid_client", identity.AADSTSExternalOIDCFailed)
	if is.fail.DiscoveryHits.Load() != hits {
		t.Error("a failing issuer was refetched within the refresh interval")
	}
}

// 24. FIC issuers pointing at metadata, loopback or private addresses → rejected at creation.
func item24(t *testing.T, p *idp, _ issuers) {
	app, _ := p.app(t)
	for _, iss := range []string{"http://169.254.169.254/", "https://169.254.169.254", "https://localhost", "https://127.0.0.1:9",
		"https://10.1.2.3", "https://192.168.1.10", "https://[::1]", "https://[fe80::1]", "https://metadata.google.internal.localhost"} {
		_, err := p.svc.CreateFederatedCredential(context.Background(), p.tenant.ID, app.AppID,
			identity.FederatedCredential{Name: "ssrf", Issuer: iss, Subject: "s", Audiences: []string{fedtest.Audience}})
		if !fault.Is(err, fault.BadRequest) {
			t.Errorf("issuer %s: %v, want BadRequest", iss, err)
		}
	}
}

// 43. Managed identity endpoint: X-Forwarded-For → 400; wrong X-IDENTITY-HEADER → 401;
// an identity not bound to the header → 400. (Keystage serves no IMDS endpoint, so the
// IMDS "no Metadata: true" case does not arise.)
func item43(t *testing.T, p *idp, _ issuers) {
	ctx := context.Background()
	mk := func(name string) identity.ManagedIdentity {
		mi, err := p.svc.CreateManagedIdentity(ctx, p.tenant.ID, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return mi
	}
	mine, theirs := mk("mine43"), mk("theirs43")
	cred, err := p.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: p.tenant.ID, ClientID: mine.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(query string, hdr http.Header) response {
		req, _ := http.NewRequest(http.MethodGet, p.url+"/msi/token?"+query, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		return p.do(t, req)
	}
	q := "api-version=2019-08-01&resource=" + url.QueryEscape(vaultRes)
	ok := http.Header{"X-Identity-Header": {cred.Header}}
	r := get(q, ok)
	if r.status != 200 || r.body["token_type"] != "Bearer" || r.body["client_id"] != mine.ClientID || r.body["resource"] != vaultRes {
		t.Fatalf("MSI token: %s", r)
	}
	if _, isString := r.body["expires_on"].(string); !isString {
		t.Errorf("expires_on is not a string: %s", r.raw)
	}
	c, err := p.svc.Verifier().Verify(ctx, r.body["access_token"].(string), token.Expect{Audiences: []string{vaultRes}})
	if err != nil || c.ObjectID != mine.PrincipalID {
		t.Fatalf("MSI token verification: %+v, %v", c, err)
	}
	for name, tc := range map[string]struct {
		r      response
		status int
	}{
		"X-Forwarded-For":    {get(q, http.Header{"X-Identity-Header": {cred.Header}, "X-Forwarded-For": {"10.0.0.1"}}), 400},
		"Forwarded":          {get(q, http.Header{"X-Identity-Header": {cred.Header}, "Forwarded": {"for=10.0.0.1"}}), 400},
		"wrong header":       {get(q, http.Header{"X-Identity-Header": {cred.Header + "x"}}), 401},
		"no header":          {get(q, nil), 401},
		"two headers":        {get(q, http.Header{"X-Identity-Header": {cred.Header, cred.Header}}), 401},
		"other identity":     {get(q+"&client_id="+theirs.ClientID, ok), 400},
		"other object id":    {get(q+"&object_id="+theirs.PrincipalID, ok), 400},
		"other resource id":  {get(q+"&mi_res_id="+url.QueryEscape(theirs.ResourceID), ok), 400},
		"no api-version":     {get("resource="+url.QueryEscape(vaultRes), ok), 400},
		"old api-version":    {get("api-version=2017-09-01&resource="+url.QueryEscape(vaultRes), ok), 400},
		"unknown resource":   {get("api-version=2019-08-01&resource=https://evil.example", ok), 400},
		"duplicate resource": {get(q+"&resource=x", ok), 400},
		"POST":               {p.postRaw(t, "/msi/token?"+q, "", "", ok), 405},
	} {
		if tc.r.status != tc.status {
			t.Errorf("%s: %s, want %d", name, tc.r, tc.status)
		}
		if strings.Contains(tc.r.raw, cred.Header) {
			t.Errorf("%s: the response echoes the identity header", name)
		}
	}
	if r := get(q+"&client_id="+mine.ClientID, ok); r.status != 200 {
		t.Errorf("by client_id: %s", r)
	}
}
