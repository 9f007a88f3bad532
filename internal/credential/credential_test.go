package credential_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/credential"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/devops/oidc/oidctest"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/token"
)

const (
	vaultResource = "https://vault.azure.net"
	armResource   = "https://management.azure.com/"
	orgID         = "0f8fad5b-d9cb-469f-a165-70867728950e"
)

// idp is Keystage's identity provider and an organization's OIDC issuer on one HTTPS
// server, with a stand-in for a job's OIDC endpoint at /job/oidctoken.
type idp struct {
	*oidctest.World
	issuer *oidc.Issuer
	tenant string
	svc    *identity.Service

	mu          sync.Mutex
	oidcHandler http.HandlerFunc
}

func newIDP(t testing.TB) *idp {
	t.Helper()
	w := oidctest.Start(t)
	p := &idp{World: w, issuer: w.Issuer, tenant: w.Tenant, svc: w.Identity}
	w.Mux.HandleFunc("/job/oidctoken", func(rw http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		h := p.oidcHandler
		p.mu.Unlock()
		h(rw, r)
	})
	return p
}

func (p *idp) client() *http.Client { return p.Client }

func (p *idp) app(t testing.TB) (identity.Application, string) { return p.App(t, "pipeline") }

// verify checks that an access token is Keystage's for the app and resource.
func (p *idp) verify(t testing.TB, tok credential.Token, appID, resource string) {
	t.Helper()
	c, err := p.svc.Verifier().Verify(context.Background(), tok.Value, token.Expect{Audiences: []string{resource}, TenantID: p.tenant})
	if err != nil {
		t.Fatalf("access token does not verify: %v", err)
	}
	if c.AppID != appID {
		t.Errorf("token appid = %s, want %s", c.AppID, appID)
	}
	if time.Until(tok.ExpiresOn) < time.Minute {
		t.Errorf("token expires on %v", tok.ExpiresOn)
	}
}

func TestServicePrincipal(t *testing.T) {
	p := newIDP(t)
	app, secret := p.app(t)
	cred, err := credential.New(credential.Connection{
		Scheme: "ServicePrincipal", Authority: p.URL + "/", TenantID: p.tenant, ClientID: app.AppID, Secret: secret,
	}, p.client())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []string{vaultResource, armResource} {
		tok, err := cred.Token(context.Background(), res)
		if err != nil {
			t.Fatal(err)
		}
		p.verify(t, tok, app.AppID, res)
	}

	wrong, _ := credential.New(credential.Connection{
		Scheme: "serviceprincipal", Authority: p.URL, TenantID: p.tenant, ClientID: app.AppID, Secret: "not-the-secret",
	}, p.client())
	_, err = wrong.Token(context.Background(), vaultResource)
	var ee *credential.EntraError
	if !errors.As(err, &ee) || ee.AADSTS != identity.AADSTSInvalidSecret || ee.Code != "invalid_client" {
		t.Fatalf("wrong secret: error %#v, want AADSTS%d invalid_client", err, identity.AADSTSInvalidSecret)
	}
	if strings.Contains(err.Error(), "Trace ID") || strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("error text %q carries trace lines or the secret", err)
	}
}

func TestWorkloadIdentityFederation(t *testing.T) {
	p := newIDP(t)
	app, _ := p.app(t)
	ctx := context.Background()
	subject := oidc.Subject("fabrikam", "web", "conn")
	p.Federate(t, app.AppID, "pipeline", p.issuer.IssuerURL(orgID), subject)
	const jobToken = "job-token-value"
	p.oidcHandler = func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+jobToken ||
			r.URL.Query().Get("serviceConnectionId") != "sc-id" || r.URL.Query().Get("api-version") != "7.1" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"Pipeline 7 is not authorized to use service connection conn.","typeKey":"ResourceNotAuthorizedException"}`))
			return
		}
		tok, err := p.issuer.Mint(r.Context(), orgID, subject)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"oidcToken": tok.Raw})
	}
	assertion, err := credential.JobAssertion(p.client(), p.URL+"/job/oidctoken", jobToken, "sc-id")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := credential.New(credential.Connection{
		Scheme: "WorkloadIdentityFederation", Authority: p.URL, TenantID: p.tenant, ClientID: app.AppID, Assertion: assertion,
	}, p.client())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.Token(ctx, vaultResource)
	if err != nil {
		t.Fatal(err)
	}
	p.verify(t, tok, app.AppID, vaultResource)

	// A refused OIDC request surfaces the endpoint's message.
	refused, _ := credential.JobAssertion(p.client(), p.URL+"/job/oidctoken", "other", "sc-id")
	cred, _ = credential.New(credential.Connection{Scheme: "WorkloadIdentityFederation", Authority: p.URL, TenantID: p.tenant, ClientID: app.AppID, Assertion: refused}, p.client())
	_, err = cred.Token(ctx, vaultResource)
	var oe *credential.OIDCError
	if !errors.As(err, &oe) || oe.StatusCode != 403 || !strings.Contains(oe.Message, "not authorized") {
		t.Fatalf("refused OIDC request: error %v", err)
	}

	// A subject the credential does not name is AADSTS700213.
	other, _ := p.app(t)
	_, _ = p.svc.CreateFederatedCredential(ctx, p.tenant, other.AppID, identity.FederatedCredential{
		Name: "old", Issuer: p.issuer.IssuerURL(orgID), Subject: oidc.Subject("fabrikam", "web", "renamed"), Audiences: []string{oidc.Audience},
	})
	cred, _ = credential.New(credential.Connection{Scheme: "WorkloadIdentityFederation", Authority: p.URL, TenantID: p.tenant, ClientID: other.AppID, Assertion: assertion}, p.client())
	_, err = cred.Token(ctx, vaultResource)
	var ee *credential.EntraError
	if !errors.As(err, &ee) || ee.AADSTS != identity.AADSTSFederatedSubjectMismatch {
		t.Fatalf("subject mismatch: error %v, want AADSTS700213", err)
	}
}

func TestManagedIdentity(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	mi := p.ManagedIdentity(t, "pipeline")
	hdr, err := p.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: p.tenant, ClientID: mi.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := credential.New(credential.Connection{
		Scheme: "ManagedServiceIdentity", ClientID: mi.ClientID, IdentityEndpoint: p.URL + "/msi/token", IdentityHeader: hdr.Header,
	}, p.client())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.Token(ctx, vaultResource)
	if err != nil {
		t.Fatal(err)
	}
	p.verify(t, tok, mi.ClientID, vaultResource)

	bad, _ := credential.New(credential.Connection{Scheme: "ManagedServiceIdentity", ClientID: mi.ClientID, IdentityEndpoint: p.URL + "/msi/token", IdentityHeader: "x.y"}, p.client())
	_, err = bad.Token(ctx, vaultResource)
	var me *credential.ManagedIdentityError
	if !errors.As(err, &me) || me.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(err.Error(), "Could not fetch access token for Managed Service Principal. Status code: 401") {
		t.Fatalf("wrong identity header: error %v", err)
	}
}

func TestNewRefusesIncompleteConnections(t *testing.T) {
	tests := []struct {
		name string
		conn credential.Connection
	}{
		{"unknown scheme", credential.Connection{Scheme: "PublishProfile"}},
		{"no secret", credential.Connection{Scheme: "ServicePrincipal", TenantID: "t", ClientID: "c"}},
		{"no assertion", credential.Connection{Scheme: "WorkloadIdentityFederation", TenantID: "t", ClientID: "c"}},
		{"bad tenant", credential.Connection{Scheme: "ServicePrincipal", TenantID: "../x", ClientID: "c", Secret: "s"}},
		{"no client", credential.Connection{Scheme: "ServicePrincipal", TenantID: "t", Secret: "s"}},
		{"http authority", credential.Connection{Scheme: "ServicePrincipal", Authority: "http://x", TenantID: "t", ClientID: "c", Secret: "s"}},
		{"no identity endpoint", credential.Connection{Scheme: "ManagedServiceIdentity"}},
		{"http identity endpoint", credential.Connection{Scheme: "ManagedServiceIdentity", IdentityEndpoint: "http://x/msi", IdentityHeader: "h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := credential.New(tc.conn, nil); err == nil {
				t.Fatal("New succeeded")
			} else if strings.Contains(err.Error(), "s\"") {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
	if _, err := credential.JobAssertion(nil, "http://x/oidctoken", "t", "c"); err == nil {
		t.Error("JobAssertion accepted an http URL")
	}
}

// A managed identity endpoint URL that names its own api-version keeps it (Keystage's
// job-scoped endpoints name the DevOps surface's version).
func TestManagedIdentityEndpointKeepsItsVersion(t *testing.T) {
	p := newIDP(t)
	var got string
	p.Mux.HandleFunc("/job/token", func(rw http.ResponseWriter, r *http.Request) {
		got = r.URL.RawQuery
		_, _ = rw.Write([]byte(`{"access_token":"x","expires_on":"4102444800"}`))
	})
	cred, err := credential.New(credential.Connection{Scheme: "ManagedServiceIdentity", ClientID: "c",
		IdentityEndpoint: p.URL + "/job/token?api-version=7.1", IdentityHeader: "h"}, p.client())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.Token(context.Background(), vaultResource); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "api-version=7.1") || strings.Contains(got, "2019-08-01") || !strings.Contains(got, "resource=") {
		t.Errorf("query = %q", got)
	}
}
