package identity_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

func fic(name, issuer, subject string) identity.FederatedCredential {
	return identity.FederatedCredential{Name: name, Issuer: issuer, Subject: subject, Audiences: []string{identity.DefaultFederatedAudience}}
}

func TestFederatedCredentialRules(t *testing.T) {
	e := newSQLiteEnv(t)
	ctx := context.Background()
	const iss = "https://token.actions.githubusercontent.com"
	mut := func(f func(*identity.FederatedCredential)) identity.FederatedCredential {
		c := fic("good-name_1", iss, "repo:org/repo:ref:refs/heads/main")
		f(&c)
		return c
	}
	cases := []struct {
		name string
		fic  identity.FederatedCredential
		ok   bool
	}{
		{"valid", mut(func(*identity.FederatedCredential) {}), true},
		{"name 3 chars", mut(func(c *identity.FederatedCredential) { c.Name = "abc" }), true},
		{"name 120 chars", mut(func(c *identity.FederatedCredential) { c.Name = strings.Repeat("a", 120) }), true},
		{"name 2 chars", mut(func(c *identity.FederatedCredential) { c.Name = "ab" }), false},
		{"name 121 chars", mut(func(c *identity.FederatedCredential) { c.Name = strings.Repeat("a", 121) }), false},
		{"name starts with _", mut(func(c *identity.FederatedCredential) { c.Name = "_bad" }), false},
		{"name starts with -", mut(func(c *identity.FederatedCredential) { c.Name = "-bad" }), false},
		{"name with dot", mut(func(c *identity.FederatedCredential) { c.Name = "a.b.c" }), false},
		{"name with space", mut(func(c *identity.FederatedCredential) { c.Name = "a b c" }), false},
		{"name non-ASCII", mut(func(c *identity.FederatedCredential) { c.Name = "ñame" }), false},
		{"no audience", mut(func(c *identity.FederatedCredential) { c.Audiences = nil }), false},
		{"two audiences", mut(func(c *identity.FederatedCredential) { c.Audiences = []string{"a", "b"} }), false},
		{"empty audience", mut(func(c *identity.FederatedCredential) { c.Audiences = []string{""} }), false},
		{"audience 601 chars", mut(func(c *identity.FederatedCredential) { c.Audiences = []string{strings.Repeat("a", 601)} }), false},
		{"no subject", mut(func(c *identity.FederatedCredential) { c.Subject = "" }), false},
		{"subject 600 chars", mut(func(c *identity.FederatedCredential) { c.Subject = strings.Repeat("s", 600) }), true},
		{"subject 601 chars", mut(func(c *identity.FederatedCredential) { c.Subject = strings.Repeat("s", 601) }), false},
		{"subject wildcard", mut(func(c *identity.FederatedCredential) { c.Subject = "repo:org/*" }), false},
		{"subject trailing space", mut(func(c *identity.FederatedCredential) { c.Subject = "repo:org/repo " }), false},
		{"subject newline", mut(func(c *identity.FederatedCredential) { c.Subject = "a\nb" }), false},
		{"issuer leading space", mut(func(c *identity.FederatedCredential) { c.Issuer = " " + iss }), false},
		{"issuer trailing space", mut(func(c *identity.FederatedCredential) { c.Issuer = iss + " " }), false},
		{"issuer http", mut(func(c *identity.FederatedCredential) { c.Issuer = "http://token.actions.githubusercontent.com" }), false},
		{"issuer wildcard", mut(func(c *identity.FederatedCredential) { c.Issuer = "https://*.example.com" }), false},
		{"description 601 chars", mut(func(c *identity.FederatedCredential) { c.Description = strings.Repeat("d", 601) }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app, err := e.svc.CreateApplication(ctx, e.tenant.ID, "app") // fresh owner: no uniqueness interplay
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.CreateFederatedCredential(ctx, e.tenant.ID, app.AppID, tc.fic)
			if tc.ok && err != nil {
				t.Fatalf("Create: %v", err)
			}
			if !tc.ok && !fault.Is(err, fault.BadRequest) {
				t.Fatalf("Create = %v, want BadRequest", err)
			}
		})
	}
}

// TestFederatedCredentialSSRF is item 24 of the security checklist: issuers pointing at
// metadata, loopback or private addresses are refused when the credential is created.
func TestFederatedCredentialSSRF(t *testing.T) {
	e := newSQLiteEnv(t)
	ctx := context.Background()
	app, _ := e.svc.CreateApplication(ctx, e.tenant.ID, "app")
	for i, issuer := range []string{
		"http://169.254.169.254/", "https://169.254.169.254/metadata/identity", "https://localhost", "https://localhost:9999/x",
		"https://127.0.0.1", "https://[::1]:8443", "https://10.0.0.8", "https://192.168.0.1/oidc", "https://172.20.0.1",
		"https://[fd12::1]", "https://metadata", "https://kubernetes.default.svc.localhost",
	} {
		_, err := e.svc.CreateFederatedCredential(ctx, e.tenant.ID, app.AppID, fic(fmt.Sprintf("ssrf-%d", i), issuer, "s"))
		if !fault.Is(err, fault.BadRequest) {
			t.Errorf("issuer %s: %v, want BadRequest", issuer, err)
		}
	}
	// Keystage's own URL and the test issuer are trusted prefixes.
	for i, issuer := range []string{authority + "/_oidc/org", e.issuer.URL()} {
		if _, err := e.svc.CreateFederatedCredential(ctx, e.tenant.ID, app.AppID, fic(fmt.Sprintf("trusted-%d", i), issuer, "s")); err != nil {
			t.Errorf("trusted issuer %s: %v", issuer, err)
		}
	}
}

func TestFederatedCredentialLimits(t *testing.T) {
	e := newSQLiteEnv(t)
	ctx := context.Background()
	mi, err := e.svc.CreateManagedIdentity(ctx, e.tenant.ID, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1")
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://vstoken.dev.azure.com/org"
	for i := range identity.MaxFederatedCredentials {
		if _, err := e.svc.CreateFederatedCredential(ctx, e.tenant.ID, mi.ClientID, fic(fmt.Sprintf("fic-%02d", i), iss, fmt.Sprintf("sc://o/p/c%d", i))); err != nil {
			t.Fatalf("FIC %d: %v", i, err)
		}
	}
	_, err = e.svc.CreateFederatedCredential(ctx, e.tenant.ID, mi.ClientID, fic("fic-21", iss, "sc://o/p/c21"))
	if !fault.Is(err, fault.BadRequest) {
		t.Errorf("21st FIC: %v, want BadRequest", err)
	}
	// Replacing one of the 20 is allowed.
	if _, created, err := e.svc.PutFederatedCredential(ctx, e.tenant.ID, mi.ClientID, fic("FIC-00", iss, "sc://o/p/renamed")); err != nil || created {
		t.Fatalf("Put replacing fic-00: created=%v, %v", created, err)
	}
	got, err := e.svc.FederatedCredential(ctx, e.tenant.ID, mi.ClientID, "fic-00")
	if err != nil || got.Name != "fic-00" || got.Subject != "sc://o/p/renamed" {
		t.Errorf("after replace: %+v, %v (the name keeps its first spelling)", got, err)
	}
	// Duplicate issuer+subject under another name.
	if err := e.svc.DeleteFederatedCredential(ctx, e.tenant.ID, mi.ClientID, "fic-19"); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateFederatedCredential(ctx, e.tenant.ID, mi.ClientID, fic("dup", iss, "sc://o/p/c1"))
	if !fault.Is(err, fault.BadRequest) || !strings.Contains(err.Error(), "Issuer and subject combination already exists") {
		t.Errorf("duplicate issuer+subject: %v", err)
	}
	// The same subject under a different case is another credential.
	if _, err := e.svc.CreateFederatedCredential(ctx, e.tenant.ID, mi.ClientID, fic("case", iss, "SC://o/p/c1")); err != nil {
		t.Errorf("subject differing in case: %v", err)
	}
	// Create refuses an existing name (any case).
	_, err = e.svc.CreateFederatedCredential(ctx, e.tenant.ID, mi.ClientID, fic("CASE", iss, "sc://o/p/other"))
	if !fault.Is(err, fault.Conflict) {
		t.Errorf("Create over an existing name: %v, want Conflict", err)
	}
	list, err := e.svc.FederatedCredentials(ctx, e.tenant.ID, mi.ClientID)
	if err != nil || len(list) != identity.MaxFederatedCredentials {
		t.Errorf("FederatedCredentials = %d, %v", len(list), err)
	}
	if err := e.svc.DeleteFederatedCredential(ctx, e.tenant.ID, mi.ClientID, "nope"); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
	if _, err := e.svc.CreateFederatedCredential(ctx, e.tenant.ID, "00000000-0000-4000-8000-000000000000", fic("x-1", iss, "s")); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unknown owner: %v", err)
	}
}

func TestManagedIdentities(t *testing.T) {
	e := newSQLiteEnv(t)
	ctx := context.Background()
	const rid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Build-Id"
	mi, err := e.svc.CreateManagedIdentity(ctx, e.tenant.ID, rid)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Name != "Build-Id" || mi.ClientID == mi.PrincipalID {
		t.Errorf("identity = %+v", mi)
	}
	if _, err := e.svc.CreateManagedIdentity(ctx, e.tenant.ID, strings.ToUpper(rid)); !fault.Is(err, fault.Conflict) {
		t.Errorf("same resource id in other case: %v, want Conflict", err)
	}
	got, err := e.svc.ManagedIdentityByResourceID(ctx, strings.ToLower(rid))
	if err != nil || got != mi {
		t.Errorf("ByResourceID = %+v, %v", got, err)
	}
	p, err := e.svc.Principal(ctx, e.tenant.ID, mi.PrincipalID)
	if err != nil || p.Kind != identity.KindManagedIdentity || p.ResourceID != rid || p.ClientID != mi.ClientID {
		t.Errorf("Principal = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "subscriptions/x", "/a b", "/x/"} {
		if _, err := e.svc.CreateManagedIdentity(ctx, e.tenant.ID, bad); !fault.Is(err, fault.BadRequest) {
			t.Errorf("resource id %q: %v", bad, err)
		}
	}
	if err := e.svc.DeleteManagedIdentity(ctx, e.tenant.ID, mi.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ManagedIdentityByResourceID(ctx, rid); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if _, err := e.svc.CreateManagedIdentity(ctx, e.tenant.ID, rid); err != nil {
		t.Errorf("recreate after delete: %v", err)
	}
}

func TestIdentityEndpointCredentials(t *testing.T) {
	e := newSQLiteEnv(t)
	ctx := context.Background()
	mk := func(name string) identity.ManagedIdentity {
		mi, err := e.svc.CreateManagedIdentity(ctx, e.tenant.ID, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return mi
	}
	a, b, c := mk("a"), mk("b"), mk("c")
	one, err := e.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: e.tenant.ID, ClientID: a.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	two, err := e.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: e.tenant.ID, ClientID: a.ClientID}, {TenantID: e.tenant.ID, ClientID: upper(b.ClientID)}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprint(one), one.Header) {
		t.Error("fmt output contains the header")
	}
	req := func(header string, mut func(*identity.ManagedIdentityTokenRequest)) error {
		r := identity.ManagedIdentityTokenRequest{Header: header, Resource: vaultRes}
		if mut != nil {
			mut(&r)
		}
		_, err := e.svc.ManagedIdentityToken(ctx, r)
		return err
	}
	tok, err := e.svc.ManagedIdentityToken(ctx, identity.ManagedIdentityTokenRequest{Header: one.Header, Resource: vaultRes})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Claims.ObjectID != a.PrincipalID || tok.Claims.AppID != a.ClientID || tok.Claims.ManagedIdentityResourceID != a.ResourceID {
		t.Errorf("claims = %+v", tok.Claims)
	}
	if got := tok.Claims.ExpiresOn().Sub(tok.Claims.IssuedAtTime()); got != 24*time.Hour {
		t.Errorf("managed identity token lifetime = %s, want 24h", got)
	}
	cases := []struct {
		name string
		err  error
		kind fault.Kind
	}{
		{"wrong header", req(one.Header+"x", nil), fault.Unauthorized},
		{"other id, right secret", req("AAAAAAAAAAAAAAAA"+one.Header[16:], nil), fault.Unauthorized},
		{"empty header", req("", nil), fault.Unauthorized},
		{"garbage header", req(strings.Repeat("\xff", 300), nil), fault.Unauthorized},
		{"unbound client_id", req(one.Header, func(r *identity.ManagedIdentityTokenRequest) { r.ClientID = b.ClientID }), fault.BadRequest},
		{"unbound object_id", req(one.Header, func(r *identity.ManagedIdentityTokenRequest) { r.ObjectID = c.PrincipalID }), fault.BadRequest},
		{"unbound mi_res_id", req(one.Header, func(r *identity.ManagedIdentityTokenRequest) { r.ResourceID = c.ResourceID }), fault.BadRequest},
		{"two selectors", req(two.Header, func(r *identity.ManagedIdentityTokenRequest) { r.ClientID = a.ClientID; r.ObjectID = a.PrincipalID }), fault.BadRequest},
		{"ambiguous without selector", req(two.Header, nil), fault.BadRequest},
		{"unknown resource", req(one.Header, func(r *identity.ManagedIdentityTokenRequest) { r.Resource = "https://evil.example" }), fault.BadRequest},
		{"no resource", req(one.Header, func(r *identity.ManagedIdentityTokenRequest) { r.Resource = "" }), fault.BadRequest},
	}
	for _, tc := range cases {
		if !fault.Is(tc.err, tc.kind) {
			t.Errorf("%s: %v, want kind %v", tc.name, tc.err, tc.kind)
		}
	}
	for name, mut := range map[string]func(*identity.ManagedIdentityTokenRequest){
		"by client_id":    func(r *identity.ManagedIdentityTokenRequest) { r.ClientID = b.ClientID },
		"by object_id":    func(r *identity.ManagedIdentityTokenRequest) { r.ObjectID = upper(b.PrincipalID) },
		"by mi_res_id":    func(r *identity.ManagedIdentityTokenRequest) { r.ResourceID = strings.ToLower(b.ResourceID) },
		"resource +slash": func(r *identity.ManagedIdentityTokenRequest) { r.ClientID = b.ClientID; r.Resource = vaultRes + "/" },
		"ARM without slash ": func(r *identity.ManagedIdentityTokenRequest) {
			r.ClientID = b.ClientID
			r.Resource = "https://management.azure.com"
		},
	} {
		if err := req(two.Header, mut); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Deleting the identity or the credential stops the header working for it.
	if err := e.svc.DeleteManagedIdentity(ctx, e.tenant.ID, a.ClientID); err != nil {
		t.Fatal(err)
	}
	if err := req(one.Header, nil); !fault.Is(err, fault.BadRequest) {
		t.Errorf("deleted identity: %v", err)
	}
	if err := e.svc.DeleteIdentityEndpointCredential(ctx, two.ID); err != nil {
		t.Fatal(err)
	}
	if err := req(two.Header, func(r *identity.ManagedIdentityTokenRequest) { r.ClientID = b.ClientID }); !fault.Is(err, fault.Unauthorized) {
		t.Errorf("deleted credential: %v", err)
	}
	list, err := e.svc.IdentityEndpointCredentials(ctx)
	if err != nil || len(list) != 1 || list[0].ID != one.ID {
		t.Errorf("IdentityEndpointCredentials = %+v, %v", list, err)
	}
	if _, err := e.svc.CreateIdentityEndpointCredential(ctx, nil); !fault.Is(err, fault.BadRequest) {
		t.Errorf("no identities: %v", err)
	}
	if _, err := e.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: e.tenant.ID, ClientID: a.ClientID}}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("deleted identity: %v", err)
	}
}
