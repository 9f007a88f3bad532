package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/federation/fedtest"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/token"
)

const (
	authority = "https://localhost:8443"
	vaultRes  = "https://vault.azure.net"
	armRes    = "https://management.azure.com/"
)

var resources = []string{vaultRes, armRes, "https://management.core.windows.net/", "https://graph.microsoft.com",
	"499b84ac-1321-427f-aa17-267ca6975798", "https://vault.localhost:8443", authority}

type env struct {
	svc    *identity.Service
	st     *identitytest.Store
	clock  *identitytest.Clock
	tenant identity.Tenant
	admin  identity.BootstrapResult
	issuer *fedtest.Issuer
}

// newEnv bootstraps a service on st whose federation trusts one test issuer.
func newEnv(t *testing.T, st *identitytest.Store) *env {
	t.Helper()
	is := fedtest.New(t)
	clock := identitytest.NewClock(time.Now())
	svc, err := identity.New(st, st, identity.Config{
		Authority: authority,
		Resources: resources,
		Federation: federation.Config{
			TrustedIssuerPrefixes: []string{is.URL(), authority},
			RootCAs:               is.CertPool(),
			Timeout:               2 * time.Second,
		},
		Now: clock.Now,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Bootstrap(context.Background(), identity.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, st: st, clock: clock, tenant: res.Tenant, admin: res, issuer: is}
}

func newSQLiteEnv(t *testing.T) *env { return newEnv(t, identitytest.Open(t, "sqlite")) }

// wantCode fails unless err is a *fault.Error of kind with the AADSTS number (0: any).
func wantCode(t *testing.T, err error, kind fault.Kind, aadsts int) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, want a *fault.Error", err)
	}
	if fe.Kind != kind {
		t.Errorf("kind = %v, want %v (%v)", fe.Kind, kind, err)
	}
	if aadsts != 0 && identity.AADSTS(err) != aadsts {
		t.Errorf("AADSTS = %d, want %d (%v)", identity.AADSTS(err), aadsts, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	st := identitytest.Open(t, "sqlite")
	for name, cfg := range map[string]identity.Config{
		"http authority":  {Authority: "http://localhost:8443", Resources: resources},
		"no resources":    {Authority: authority},
		"blank resource":  {Authority: authority, Resources: []string{""}},
		"bad trusted url": {Authority: authority, Resources: resources, Federation: federation.Config{TrustedIssuerPrefixes: []string{"http://x"}}},
	} {
		if _, err := identity.New(st, st, cfg, nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestBootstrap(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		first := e.admin
		if !first.Created || first.AdminSecret == nil || first.AdminSecret.SecretText == "" {
			t.Fatalf("first Bootstrap = %+v", first)
		}
		again, err := e.svc.Bootstrap(ctx, identity.BootstrapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Created || again.AdminSecret != nil || again.Tenant.ID != first.Tenant.ID || again.Admin.AppID != first.Admin.AppID {
			t.Errorf("second Bootstrap = %+v, want the same directory without a secret", again)
		}
		rotated, err := e.svc.Bootstrap(ctx, identity.BootstrapOptions{NewAdminSecret: true})
		if err != nil {
			t.Fatal(err)
		}
		if rotated.AdminSecret == nil || rotated.AdminSecret.SecretText == first.AdminSecret.SecretText {
			t.Errorf("NewAdminSecret gave %v", rotated.AdminSecret)
		}
		def, err := e.svc.DefaultTenant(ctx)
		if err != nil || def.ID != first.Tenant.ID || def.DisplayName != identity.DefaultTenantName {
			t.Errorf("DefaultTenant = %+v, %v", def, err)
		}
		// Both admin secrets authenticate.
		for _, secret := range []string{first.AdminSecret.SecretText, rotated.AdminSecret.SecretText} {
			tok, err := e.svc.ClientCredentials(ctx, identity.ClientCredentialsRequest{
				Tenant: first.Tenant.ID, ClientID: first.Admin.AppID, ClientSecret: secret, Scope: armRes + "/.default",
			})
			if err != nil {
				t.Fatalf("ClientCredentials with admin secret: %v", err)
			}
			if tok.Claims.ObjectID != first.Admin.ServicePrincipalID || tok.Claims.AppIDACR != token.ACRSecret {
				t.Errorf("claims = %+v", tok.Claims)
			}
		}
		has, err := e.svc.Keys().HasKey(ctx, first.Tenant.ID)
		if err != nil || !has {
			t.Errorf("default tenant has no signing key: %v", err)
		}
	})
}

func TestConcurrentBootstrapCreatesOneDirectory(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		svc, err := identity.New(st, st, identity.Config{Authority: authority, Resources: resources}, nil)
		if err != nil {
			t.Fatal(err)
		}
		results := make(chan identity.BootstrapResult, 3)
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				r, err := svc.Bootstrap(context.Background(), identity.BootstrapOptions{})
				results <- r
				errs <- err
			}()
		}
		tenants, created := map[string]bool{}, 0
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			r := <-results
			tenants[r.Tenant.ID] = true
			if r.Created {
				created++
			}
		}
		if len(tenants) != 1 || created != 1 {
			t.Errorf("3 concurrent bootstraps made %d tenants, %d reported created", len(tenants), created)
		}
		all, err := svc.Tenants(context.Background())
		if err != nil || len(all) != 1 {
			t.Errorf("Tenants = %d, %v", len(all), err)
		}
	})
}

func TestTenantsAndApplications(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		t2, err := e.svc.CreateTenant(ctx, "Second")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := identity.NormalizeGUID(t2.ID); !ok {
			t.Errorf("tenant id %q is not a GUID", t2.ID)
		}
		app, err := e.svc.CreateApplication(ctx, t2.ID, "my app")
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Application(ctx, t2.ID, upper(app.AppID))
		if err != nil || got != app {
			t.Errorf("Application (upper-case id) = %+v, %v", got, err)
		}
		if _, err := e.svc.Application(ctx, e.tenant.ID, app.AppID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("application of tenant 2 found in tenant 1: %v", err)
		}
		p, err := e.svc.Principal(ctx, t2.ID, app.ServicePrincipalID)
		if err != nil || p.Kind != identity.KindServicePrincipal || p.ClientID != app.AppID {
			t.Errorf("Principal(sp) = %+v, %v", p, err)
		}
		if _, err := e.svc.Principal(ctx, t2.ID, app.ObjectID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("application object resolved as a principal: %v", err)
		}
		if got, err := e.svc.ApplicationByObjectID(ctx, t2.ID, upper(app.ObjectID)); err != nil || got != app {
			t.Errorf("ApplicationByObjectID = %+v, %v; want %+v", got, err, app)
		}
		for _, id := range []string{app.AppID, app.ServicePrincipalID, "not-a-guid"} {
			if _, err := e.svc.ApplicationByObjectID(ctx, t2.ID, id); !errors.Is(err, identity.ErrNotFound) {
				t.Errorf("ApplicationByObjectID(%s) = %v; want not found", id, err)
			}
		}
		if _, err := e.svc.ApplicationByObjectID(ctx, e.tenant.ID, app.ObjectID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("application object of tenant 2 found in tenant 1: %v", err)
		}
		apps, err := e.svc.Applications(ctx, t2.ID)
		if err != nil || len(apps) != 1 {
			t.Errorf("Applications = %v, %v", apps, err)
		}
		if _, err := e.svc.CreateApplication(ctx, t2.ID, " "); !fault.Is(err, fault.BadRequest) {
			t.Errorf("blank display name: %v", err)
		}
		if _, err := e.svc.CreateApplication(ctx, "not-a-tenant", "x"); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("unknown tenant: %v", err)
		}
		if err := e.svc.DeleteApplication(ctx, t2.ID, app.AppID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Principal(ctx, t2.ID, app.ServicePrincipalID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("principal survives its application: %v", err)
		}
	})
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestResolveTenant(t *testing.T) {
	e := newSQLiteEnv(t)
	ctx := context.Background()
	cases := []struct {
		segment string
		aadsts  int
	}{
		{"common", identity.AADSTSNoTenant},
		{"Organizations", identity.AADSTSNoTenant},
		{"consumers", identity.AADSTSNoTenant},
		{"..%2F..%2F", identity.AADSTSInvalidTenantID},
		{"contoso.onmicrosoft.com", identity.AADSTSInvalidTenantID},
		{"ünïcødé", identity.AADSTSInvalidTenantID},
		{string(make([]byte, 5000)), identity.AADSTSInvalidTenantID},
		{"{" + e.tenant.ID + "}", identity.AADSTSInvalidTenantID},
		{"00000000-0000-4000-8000-000000000000", identity.AADSTSTenantNotFound},
	}
	for _, tc := range cases {
		_, err := e.svc.ResolveTenant(ctx, tc.segment)
		wantCode(t, err, fault.BadRequest, tc.aadsts)
	}
	got, err := e.svc.ResolveTenant(ctx, upper(e.tenant.ID))
	if err != nil || got.ID != e.tenant.ID {
		t.Errorf("ResolveTenant(upper) = %+v, %v", got, err)
	}
}

func TestResourceFromScope(t *testing.T) {
	cases := []struct {
		scope  string
		want   string
		aadsts int
	}{
		{"https://vault.azure.net/.default", "https://vault.azure.net", 0},
		{"https://vault.azure.net/.default openid offline_access profile", "https://vault.azure.net", 0},
		{"openid https://management.azure.com//.default", "https://management.azure.com/", 0},
		{"499b84ac-1321-427f-aa17-267ca6975798/.default", "499b84ac-1321-427f-aa17-267ca6975798", 0},
		{"https://vault.azure.net/.default https://vault.azure.net/.default", "https://vault.azure.net", 0},
		{"  https://vault.azure.net/.default  ", "https://vault.azure.net", 0},
		{"", "", identity.AADSTSMissingParameter},
		{"   ", "", identity.AADSTSMissingParameter},
		{"https://vault.azure.net", "", identity.AADSTSScopeNotDefault},
		{"https://vault.azure.net/user_impersonation", "", identity.AADSTSScopeNotDefault},
		{"openid profile", "", identity.AADSTSScopeNotDefault},
		{"https://vault.azure.net/.default https://graph.microsoft.com/.default", "", identity.AADSTSInvalidScope},
		{"/.default", "", identity.AADSTSInvalidScope},
	}
	for _, tc := range cases {
		got, err := identity.ResourceFromScope(tc.scope)
		if tc.aadsts == 0 {
			if err != nil || got != tc.want {
				t.Errorf("ResourceFromScope(%q) = %q, %v; want %q", tc.scope, got, err, tc.want)
			}
			continue
		}
		if identity.AADSTS(err) != tc.aadsts {
			t.Errorf("ResourceFromScope(%q) = %q, %v; want AADSTS%d", tc.scope, got, err, tc.aadsts)
		}
	}
}
