package devops

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/identitytest"
)

const (
	testTenant = "11111111-1111-1111-1111-111111111111"
	adminOID   = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
	ownerOID   = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
	otherOID   = "cccccccc-cccc-cccc-cccc-cccccccccccc"
	// ownedMI is the client id of the one managed identity the owner may assign.
	ownedMI = "dddddddd-dddd-dddd-dddd-dddddddddddd"
)

// testIdentityUse lets the owner assign ownedMI and nobody anything else.
func testIdentityUse(ctx context.Context, caller IdentityRef, tenantID, clientID string) error {
	if caller.ID == ownerOID && clientID == ownedMI {
		return nil
	}
	return fault.New(fault.Forbidden, "AuthorizationFailed", "%s may not assign identity %s", caller.ID, clientID)
}

var (
	admin = IdentityRef{ID: adminOID, TenantID: testTenant, DisplayName: "Keystage Administrator"}
	owner = IdentityRef{ID: ownerOID, TenantID: testTenant, DisplayName: "owner"}
)

type fixture struct {
	svc   *Service
	store *identitytest.Store
	clock *identitytest.Clock
}

func newFixture(t *testing.T, mod ...func(*Config)) *fixture {
	t.Helper()
	st := identitytest.Open(t, "sqlite")
	clock := identitytest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cfg := Config{
		ServerURL:          "https://keystage.test:8443",
		Administrators:     []PrincipalRef{{TenantID: testTenant, ObjectID: adminOID}},
		ReservedName:       func(n string) bool { return n == "healthz" || n == "subscriptions" },
		VMImagePools:       map[string]string{"windows-latest": "Windows"},
		Now:                clock.Now,
		ManagedIdentityUse: testIdentityUse,
	}
	for _, m := range mod {
		m(&cfg)
	}
	svc, err := New(st, st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, store: st, clock: clock}
}

func (f *fixture) org(t *testing.T, name string) Organization {
	t.Helper()
	org, err := f.svc.CreateOrganization(context.Background(), admin, NewOrganization{
		Name: name, Owners: []PrincipalRef{{TenantID: testTenant, ObjectID: ownerOID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return org
}

func (f *fixture) project(t *testing.T, org Organization, name string) Project {
	t.Helper()
	p, _, err := f.svc.CreateProject(context.Background(), org, owner, NewProject{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func yamlDef(name string) DefinitionInput {
	return DefinitionInput{
		Name: name, Kind: DefinitionYAML, YAMLPath: "/azure-pipelines.yml",
		Repository: Repository{Kind: RepositoryGit, URL: "https://example.com/repo.git", DefaultBranch: "main"},
	}
}

func (f *fixture) definition(t *testing.T, org Organization, p Project, name string) Definition {
	t.Helper()
	d, err := f.svc.CreateDefinition(context.Background(), org, p, owner, yamlDef(name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func wifInput(name string, projects ...string) EndpointInput {
	in := EndpointInput{
		Name: name, Type: "azurerm", Scheme: "WorkloadIdentityFederation",
		Parameters: map[string]string{"tenantid": testTenant, "serviceprincipalid": "22222222-2222-2222-2222-222222222222"},
		Data:       map[string]string{"subscriptionId": "33333333-3333-3333-3333-333333333333", "subscriptionName": "sub"},
	}
	for _, p := range projects {
		in.Projects = append(in.Projects, EndpointProjectInput{Project: p})
	}
	return in
}

// wantKind fails unless err is a fault of kind k (and, when code is set, of that code).
func wantKind(t *testing.T, err error, k fault.Kind, code string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got error %v, want a fault of kind %v", err, k)
	}
	if fe.Kind != k || code != "" && fe.Code != code {
		t.Fatalf("got %v/%s (%s), want %v/%s", fe.Kind, fe.Code, fe.Message, k, code)
	}
}
