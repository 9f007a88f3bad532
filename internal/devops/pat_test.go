package devops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/identitytest"
)

func TestPATLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	tok, err := f.svc.CreatePAT(ctx, owner, NewPAT{DisplayName: "ci", Scope: "vso.build_execute vso.project", OrgID: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.Token) != PATLength || !LooksLikePAT(tok.Token) {
		t.Fatalf("token %q does not look like a PAT", tok.Token)
	}
	if strings.Contains(tok.String(), tok.Token) {
		t.Error("String() reveals the token")
	}
	if tok.ValidTo != f.clock.Now().Add(DefaultPATLifetime).UTC() {
		t.Errorf("validTo = %v", tok.ValidTo)
	}
	c, err := f.svc.AuthenticatePAT(ctx, tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != CallerPAT || c.Principal.ObjectID != ownerOID || c.OrgID != org.ID || c.PATID != tok.ID || c.Administrator {
		t.Errorf("caller = %+v", c)
	}
	if !c.HasScope("build", Manage) || !c.HasScope("project", Read) || c.HasScope("project", Manage) || c.HasScope("serviceendpoint", Read) {
		t.Errorf("scopes %v evaluated wrongly", c.Scopes)
	}
	// Stored only as a MAC.
	entries, err := f.store.Phys.List(ctx, "devops/pat", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Key, tok.Token) {
			t.Fatalf("the token appears in key %s", e.Key)
		}
	}

	list, err := f.svc.PATs(ctx, PrincipalRef{TenantID: testTenant, ObjectID: ownerOID})
	if err != nil || len(list) != 1 || list[0].ID != tok.ID || list[0].Scope() != "vso.build_execute vso.project" {
		t.Fatalf("PATs = %+v, %v", list, err)
	}

	f.clock.Advance(DefaultPATLifetime)
	if _, err := f.svc.AuthenticatePAT(ctx, tok.Token); !fault.Is(err, fault.Unauthorized) {
		t.Errorf("expired token: %v", err)
	}
	if err := f.svc.RevokePAT(ctx, PrincipalRef{TenantID: testTenant, ObjectID: ownerOID}, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokePAT(ctx, PrincipalRef{TenantID: testTenant, ObjectID: ownerOID}, tok.ID); !fault.Is(err, fault.NotFound) {
		t.Errorf("second revoke: %v", err)
	}
	left, _ := f.store.List(ctx, "devops/pat", "", 0)
	if len(left) != 0 {
		t.Errorf("%d token keys left after revoking", len(left))
	}
}

func TestPATValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	tests := []struct {
		name string
		in   NewPAT
		kind fault.Kind
	}{
		{"no name", NewPAT{}, fault.BadRequest},
		{"bad scope", NewPAT{DisplayName: "x", Scope: "build"}, fault.BadRequest},
		{"past", NewPAT{DisplayName: "x", ValidTo: now.Add(-time.Second)}, fault.BadRequest},
		{"too long", NewPAT{DisplayName: "x", ValidTo: now.Add(MaxPATLifetime + time.Hour)}, fault.BadRequest},
		{"unknown org", NewPAT{DisplayName: "x", OrgID: "nope"}, fault.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreatePAT(ctx, owner, tc.in)
			wantKind(t, err, tc.kind, "")
		})
	}
	full, err := f.svc.CreatePAT(ctx, admin, NewPAT{DisplayName: "full", Scope: "app_token vso.build"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.AuthenticatePAT(ctx, full.Token)
	if err != nil || c.Scopes != nil || !c.Administrator {
		t.Fatalf("full-access admin token: %+v, %v", c, err)
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", PATLength), strings.Repeat("a", PATLength)} {
		if _, err := f.svc.AuthenticatePAT(ctx, bad); !fault.Is(err, fault.Unauthorized) {
			t.Errorf("AuthenticatePAT(%q) = %v", bad, err)
		}
	}
}

// BenchmarkAuthenticatePAT measures the per-request cost of a PAT: MAC, sealed read,
// expiry check.
func BenchmarkAuthenticatePAT(b *testing.B) {
	st := identitytest.Open(b, "sqlite")
	svc, err := New(st, st, Config{ServerURL: "https://keystage.test"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tok, err := svc.CreatePAT(ctx, owner, NewPAT{DisplayName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.AuthenticatePAT(ctx, tok.Token); err != nil {
			b.Fatal(err)
		}
	}
}
