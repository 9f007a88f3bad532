package devops

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

func TestOrganizationNames(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.org(t, "Fabrikam")
	tests := []struct {
		name string
		kind fault.Kind // 0 (Internal) means success
	}{
		{"contoso", 0},
		{"a", 0},
		{"my-org-2", 0},
		{"FABRIKAM", fault.Conflict},
		{"", fault.BadRequest},
		{"-lead", fault.BadRequest},
		{"trail-", fault.BadRequest},
		{"has space", fault.BadRequest},
		{"_apis", fault.BadRequest},
		{"under_score", fault.BadRequest},
		{"healthz", fault.BadRequest},
		{"Subscriptions", fault.BadRequest},
		{"0f8fad5b-d9cb-469f-a165-70867728950e", fault.BadRequest},
		{"x123456789012345678901234567890123456789012345678901", fault.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateOrganization(ctx, admin, NewOrganization{Name: tc.name})
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("CreateOrganization(%q): %v", tc.name, err)
				}
				return
			}
			wantKind(t, err, tc.kind, "")
		})
	}
}

func TestOrganizationLookupAndDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "Fabrikam")
	for _, key := range []string{"fabrikam", "FABRIKAM", org.ID} {
		got, err := f.svc.Organization(ctx, key)
		if err != nil || got.ID != org.ID {
			t.Fatalf("Organization(%q) = %v, %v; want %s", key, got.ID, err, org.ID)
		}
	}
	pools, err := f.svc.Pools(ctx, org)
	if err != nil || len(pools) != 2 || pools[0].Name != DefaultPoolName || pools[1].Name != DefaultHostedPoolName || !pools[1].IsHosted {
		t.Fatalf("Pools = %+v, %v; want Default and the hosted pool", pools, err)
	}
	p := f.project(t, org, "website")
	f.definition(t, org, p, "ci")
	if _, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("sc", p.Name)); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteOrganization(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Organization(ctx, "fabrikam"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Organization after delete: %v, want not found", err)
	}
	left, err := f.store.List(ctx, "devops/", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d keys left after deleting the only organization, first %s", len(left), left[0].Key)
	}
	// The name is free again.
	f.org(t, "fabrikam")
}

func TestAuthorize(t *testing.T) {
	f := newFixture(t)
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	principal := func(oid string) PrincipalRef { return PrincipalRef{TenantID: testTenant, ObjectID: oid} }
	tests := []struct {
		name    string
		caller  Caller
		project string
		access  Access
		ok      bool
	}{
		{"admin manages", Caller{Kind: CallerToken, Principal: principal(adminOID), Administrator: true}, "", Manage, true},
		{"owner manages", Caller{Kind: CallerPAT, Principal: principal(ownerOID)}, p.ID, Manage, true},
		{"stranger reads nothing", Caller{Kind: CallerToken, Principal: principal(otherOID)}, "", Read, false},
		{"PAT of another org", Caller{Kind: CallerPAT, Principal: principal(ownerOID), OrgID: "00000000-0000-0000-0000-000000000001"}, "", Read, false},
		{"job reads its project", Caller{Kind: CallerJob, OrgID: org.ID, ProjectID: p.ID}, p.ID, Read, true},
		{"job cannot manage", Caller{Kind: CallerJob, OrgID: org.ID, ProjectID: p.ID}, p.ID, Manage, false},
		{"job cannot read the org", Caller{Kind: CallerJob, OrgID: org.ID, ProjectID: p.ID}, "", Read, false},
		{"job cannot read another project", Caller{Kind: CallerJob, OrgID: org.ID, ProjectID: p.ID}, "x", Read, false},
		{"unknown kind", Caller{Principal: principal(adminOID), Administrator: true}, "", Read, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.svc.Authorize(tc.caller, org, tc.project, tc.access)
			if tc.ok && err != nil {
				t.Fatalf("Authorize: %v, want allowed", err)
			}
			if !tc.ok {
				wantKind(t, err, fault.Forbidden, CodeAccessDenied)
			}
		})
	}
	if err := f.svc.AuthorizeServer(Caller{Kind: CallerToken, Principal: principal(ownerOID)}); !fault.Is(err, fault.Forbidden) {
		t.Errorf("AuthorizeServer(owner) = %v, want forbidden", err)
	}
	if err := f.svc.AuthorizeServer(Caller{Kind: CallerToken, Principal: principal(adminOID), Administrator: true}); err != nil {
		t.Errorf("AuthorizeServer(admin) = %v", err)
	}
}

func TestSetOrganizationOwners(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	other := PrincipalRef{TenantID: testTenant, ObjectID: otherOID}
	if org.IsOwner(other) {
		t.Fatal("stranger owns the organization")
	}
	got, err := f.svc.SetOrganizationOwners(ctx, org.ID, []PrincipalRef{other, other})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Owners) != 1 || !got.IsOwner(other) {
		t.Fatalf("owners = %v", got.Owners)
	}
	if _, err := f.svc.SetOrganizationOwners(ctx, org.ID, []PrincipalRef{{TenantID: "x", ObjectID: otherOID}}); !fault.Is(err, fault.BadRequest) {
		t.Fatalf("invalid owner: %v", err)
	}
}

func TestStorageIsSealed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	f.project(t, org, "plaintext-canary")
	entries, err := f.store.Phys.List(ctx, "devops/", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("nothing stored")
	}
	for _, e := range entries {
		if bytes.Contains(e.Value, []byte("plaintext-canary")) {
			t.Fatalf("%s holds the project name in clear", e.Key)
		}
	}
	var o Organization
	if err := storage.GetJSON(ctx, f.store, orgKey(org.ID), &o); err != nil || o.Name != "fabrikam" {
		t.Fatalf("read back through the barrier: %v %v", o, err)
	}
}
