package devops

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/fault"
)

func TestEndpointWorkloadIdentity(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "Fabrikam")
	p := f.project(t, org, "Website")
	e, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("my-sc", "website"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != TypeAzureRM || e.Scheme != SchemeWorkloadIdentityFederation || e.Owner != OwnerLibrary || e.URL != "https://keystage.test:8443/" {
		t.Errorf("endpoint = %+v", e)
	}
	if e.Data[DataScopeLevel] != "Subscription" || e.Data[DataEnvironment] != "AzureCloud" || e.Data[DataCreationMode] != "Manual" {
		t.Errorf("data defaults = %v", e.Data)
	}
	if len(e.Projects) != 1 || e.Projects[0].ProjectID != p.ID || e.Projects[0].ProjectName != "Website" || e.Projects[0].Name != "my-sc" {
		t.Errorf("projects = %+v", e.Projects)
	}
	if got := WorkloadIdentitySubject(org, e); got != "sc://Fabrikam/Website/my-sc" {
		t.Errorf("subject = %q", got)
	}
	if got := f.svc.WorkloadIdentityIssuer(org); got != "https://keystage.test:8443/_oidc/"+org.ID {
		t.Errorf("issuer = %q", got)
	}
	// Values a client echoes back are computed, never stored.
	in := wifInput("my-sc")
	in.Parameters[ParamWIFSubject] = "sc://evil/x/y"
	up, err := f.svc.UpdateEndpoint(ctx, org, owner, e.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := up.Parameters[ParamWIFSubject]; ok {
		t.Errorf("stored a client-supplied subject: %v", up.Parameters)
	}
	// Renaming the project changes the subject.
	name := "Site"
	if _, _, err := f.svc.UpdateProject(ctx, org, p.ID, ProjectUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Endpoint(ctx, org, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := WorkloadIdentitySubject(org, got); s != "sc://Fabrikam/Site/my-sc" {
		t.Errorf("subject after rename = %q", s)
	}
}

func TestEndpointSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	in := EndpointInput{
		Name: "spn", Type: "AzureRM", Scheme: "serviceprincipal",
		Parameters: map[string]string{"TenantId": testTenant, "serviceprincipalid": "22222222-2222-2222-2222-222222222222", "serviceprincipalkey": "s3cr3t-canary"},
		Data:       map[string]string{"subscriptionId": "33333333-3333-3333-3333-333333333333", "scopeLevel": "ResourceGroup"},
		Projects:   []EndpointProjectInput{{Project: p.ID}},
	}
	if _, err := f.svc.CreateEndpoint(ctx, org, owner, in); !fault.Is(err, fault.BadRequest) {
		t.Fatalf("resource group scope without scope: %v", err)
	}
	in.Parameters["scope"] = "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg"
	e, err := f.svc.CreateEndpoint(ctx, org, owner, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Parameters[ParamServicePrincipal]; ok || len(e.SecretNames) != 1 || e.SecretNames[0] != ParamServicePrincipal {
		t.Fatalf("secret handling: params %v, secret names %v", e.Parameters, e.SecretNames)
	}
	if e.Parameters[ParamTenantID] != testTenant || e.Parameters[ParamAuthenticationType] != "spnKey" || e.Scheme != SchemeServicePrincipal {
		t.Errorf("canonical spelling: %+v", e)
	}
	secrets, err := f.svc.EndpointSecrets(ctx, org, e.ID)
	if err != nil || secrets[ParamServicePrincipal] != "s3cr3t-canary" {
		t.Fatalf("EndpointSecrets = %v, %v", secrets, err)
	}
	raw, err := f.store.Phys.List(ctx, "devops/", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range raw {
		if bytes.Contains(r.Value, []byte("s3cr3t-canary")) {
			t.Fatalf("%s holds the secret in clear", r.Key)
		}
	}
	// An update without the secret keeps it; with a new one replaces it.
	delete(in.Parameters, "serviceprincipalkey")
	in.Description = "changed"
	if _, err := f.svc.UpdateEndpoint(ctx, org, owner, e.ID, in); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.svc.EndpointSecrets(ctx, org, e.ID); s[ParamServicePrincipal] != "s3cr3t-canary" {
		t.Errorf("secret lost on update: %v", s)
	}
	in.Parameters["serviceprincipalkey"] = "new"
	if _, err := f.svc.UpdateEndpoint(ctx, org, owner, e.ID, in); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.svc.EndpointSecrets(ctx, org, e.ID); s[ParamServicePrincipal] != "new" {
		t.Errorf("secret not replaced: %v", s)
	}
	// Switching to federation drops the secret.
	w := wifInput("spn")
	if _, err := f.svc.UpdateEndpoint(ctx, org, owner, e.ID, w); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.svc.EndpointSecrets(ctx, org, e.ID); len(s) != 0 {
		t.Errorf("secrets after switching to federation: %v", s)
	}
	// Switching back needs a secret again.
	delete(in.Parameters, "serviceprincipalkey")
	if _, err := f.svc.UpdateEndpoint(ctx, org, owner, e.ID, in); !fault.Is(err, fault.BadRequest) {
		t.Errorf("service principal without a key: %v", err)
	}
}

func TestEndpointValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	f.project(t, org, "website")
	mod := func(m func(*EndpointInput)) EndpointInput { in := wifInput("sc", "website"); m(&in); return in }
	tests := []struct {
		name string
		in   EndpointInput
		kind fault.Kind
	}{
		{"no projects", mod(func(in *EndpointInput) { in.Projects = nil }), fault.BadRequest},
		{"unknown project", mod(func(in *EndpointInput) { in.Projects = []EndpointProjectInput{{Project: "nope"}} }), fault.NotFound},
		{"other type", mod(func(in *EndpointInput) { in.Type = "GitHub" }), fault.NotImplemented},
		{"other scheme", mod(func(in *EndpointInput) { in.Scheme = "UsernamePassword" }), fault.BadRequest},
		{"tenant not guid", mod(func(in *EndpointInput) { in.Parameters["tenantid"] = "contoso" }), fault.BadRequest},
		{"automatic", mod(func(in *EndpointInput) { in.Data["creationMode"] = "Automatic" }), fault.NotImplemented},
		{"management group", mod(func(in *EndpointInput) { in.Data["scopeLevel"] = "ManagementGroup" }), fault.NotImplemented},
		{"china", mod(func(in *EndpointInput) { in.Data["environment"] = "AzureChinaCloud" }), fault.NotImplemented},
		{"secret on wif", mod(func(in *EndpointInput) { in.Parameters["serviceprincipalkey"] = "x" }), fault.BadRequest},
		{"unknown parameter", mod(func(in *EndpointInput) { in.Parameters["password"] = "x" }), fault.BadRequest},
		{"wrong subscription scope", mod(func(in *EndpointInput) { in.Parameters["scope"] = "/subscriptions/other" }), fault.BadRequest},
		{"http url", mod(func(in *EndpointInput) { in.URL = "http://management.azure.com/" }), fault.BadRequest},
		{"bad owner", mod(func(in *EndpointInput) { in.Owner = "agentcloud" }), fault.BadRequest},
		{"bad name", mod(func(in *EndpointInput) { in.Name = " x" }), fault.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateEndpoint(ctx, org, owner, tc.in)
			wantKind(t, err, tc.kind, "")
		})
	}
	msi := EndpointInput{Name: "msi", Type: "AzureRM", Scheme: "ManagedServiceIdentity",
		Parameters: map[string]string{"tenantid": testTenant, "serviceprincipalid": ownedMI},
		Data:       map[string]string{"subscriptionId": "33333333-3333-3333-3333-333333333333", "custom": "kept"},
		Projects:   []EndpointProjectInput{{Project: "website"}}}
	e, err := f.svc.CreateEndpoint(ctx, org, owner, msi)
	if err != nil {
		t.Fatal(err)
	}
	if e.Data["custom"] != "kept" {
		t.Errorf("unknown data keys are kept: %v", e.Data)
	}
}

func TestEndpointSharingAndDeletion(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	a := f.project(t, org, "alpha")
	b := f.project(t, org, "beta")
	e, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("sc", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	if e.IsShared() {
		t.Error("shared with one project")
	}
	if _, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("SC", "alpha")); !fault.Is(err, fault.Conflict) {
		t.Errorf("duplicate name in a project: %v", err)
	}
	if err := f.svc.ShareEndpoint(ctx, org, e.ID, []EndpointProjectInput{{Project: b.ID, Name: "sc-in-beta"}}); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Endpoint(ctx, org, e.ID)
	if err != nil || !got.IsShared() {
		t.Fatalf("after share: %+v, %v", got, err)
	}
	for _, tc := range []struct{ project, name string }{{a.ID, "sc"}, {b.ID, "SC-IN-BETA"}} {
		if byName, err := f.svc.EndpointByName(ctx, org, tc.project, tc.name); err != nil || byName.ID != e.ID {
			t.Errorf("EndpointByName(%s) = %v", tc.name, err)
		}
	}
	list, err := f.svc.Endpoints(ctx, org, b.ID, EndpointFilter{Names: []string{"sc-in-beta"}, Type: "azurerm"})
	if err != nil || len(list) != 1 {
		t.Fatalf("Endpoints by name = %v, %v", list, err)
	}
	if list, _ := f.svc.Endpoints(ctx, org, b.ID, EndpointFilter{AuthSchemes: []string{"ServicePrincipal"}}); len(list) != 0 {
		t.Errorf("filter by scheme kept %d", len(list))
	}
	if err := f.svc.DeleteEndpoint(ctx, org, e.ID, nil); !fault.Is(err, fault.BadRequest) {
		t.Errorf("delete without projects: %v", err)
	}
	if err := f.svc.DeleteEndpoint(ctx, org, e.ID, []string{"alpha"}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.Endpoint(ctx, org, e.ID); err != nil || len(got.Projects) != 1 || got.Projects[0].ProjectID != b.ID {
		t.Fatalf("after removing alpha: %+v, %v", got, err)
	}
	if list, _ := f.svc.Endpoints(ctx, org, a.ID, EndpointFilter{}); len(list) != 0 {
		t.Errorf("alpha still lists %d endpoints", len(list))
	}
	if err := f.svc.DeleteEndpoint(ctx, org, e.ID, []string{b.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Endpoint(ctx, org, e.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("endpoint survived: %v", err)
	}
	left, _ := f.store.List(ctx, OrgPrefix(org.ID)+"endpoint", "", 0)
	for _, l := range left {
		if strings.Contains(l.Key, e.ID) {
			t.Errorf("left %s", l.Key)
		}
	}
	// The name can be used again.
	if _, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("sc", "alpha")); err != nil {
		t.Fatal(err)
	}
}

// TestManagedIdentityConnectionsNeedTheRightToAssign guards against borrowing an identity:
// a ManagedServiceIdentity connection hands its identity's tokens to every permitted run, so
// creating or changing one needs the right to assign that identity.
func TestManagedIdentityConnectionsNeedTheRightToAssign(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	f.project(t, org, "website")
	msi := func(clientID string) EndpointInput {
		return EndpointInput{Name: "msi", Type: "AzureRM", Scheme: "ManagedServiceIdentity",
			Parameters: map[string]string{"tenantid": testTenant, "serviceprincipalid": clientID},
			Data:       map[string]string{"subscriptionId": "33333333-3333-3333-3333-333333333333"},
			Projects:   []EndpointProjectInput{{Project: "website"}}}
	}
	const victim = "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee"
	if _, err := f.svc.CreateEndpoint(ctx, org, owner, msi(victim)); !fault.Is(err, fault.Forbidden) {
		t.Fatalf("connection to an identity the caller may not assign: %v, want Forbidden", err)
	}
	noIdentity := msi("")
	delete(noIdentity.Parameters, "serviceprincipalid")
	if _, err := f.svc.CreateEndpoint(ctx, org, owner, noIdentity); !fault.Is(err, fault.BadRequest) {
		t.Fatalf("connection naming no identity: %v, want BadRequest", err)
	}
	e, err := f.svc.CreateEndpoint(ctx, org, owner, msi(ownedMI))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateEndpoint(ctx, org, owner, e.ID, msi(victim)); !fault.Is(err, fault.Forbidden) {
		t.Fatalf("switching a connection to another identity: %v, want Forbidden", err)
	}
	other := IdentityRef{ID: otherOID, TenantID: testTenant}
	if _, err := f.svc.UpdateEndpoint(ctx, org, other, e.ID, msi(ownedMI)); !fault.Is(err, fault.Forbidden) {
		t.Fatalf("an updater without the right kept the identity: %v, want Forbidden", err)
	}
	got, err := f.svc.Endpoint(ctx, org, e.ID)
	if err != nil || got.Parameters["serviceprincipalid"] != ownedMI {
		t.Errorf("after refused updates the connection is %+v, %v", got.Parameters, err)
	}

	f2 := newFixture(t, func(c *Config) { c.ManagedIdentityUse = nil })
	org2 := f2.org(t, "contoso")
	f2.project(t, org2, "website")
	if _, err := f2.svc.CreateEndpoint(ctx, org2, owner, msi(ownedMI)); !fault.Is(err, fault.Forbidden) {
		t.Errorf("without a policy a managed identity connection was created: %v", err)
	}
}
