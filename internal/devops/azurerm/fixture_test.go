package azurerm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/azurerm"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/devops/oidc/oidctest"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/token"
)

const subscriptionID = "9b0f2a34-8f5e-4d3c-9a1b-2c3d4e5f6a7b"

// world is the DevOps domain, the identity provider, an organization's OIDC issuer and a
// stand-in management API (GET subscription and resource group) on one HTTPS server.
type world struct {
	*oidctest.World
	t      testing.TB
	srv    *httptest.Server
	st     *identitytest.Store
	devops *devops.Service
	idp    *identity.Service
	tenant string
	issuer *oidc.Issuer
	arm    *azurerm.Service
	jobs   *jobTable
	org    devops.Organization
	proj   devops.Project
	def    devops.Definition

	armAPI *armStandIn
}

var admin = devops.IdentityRef{ID: "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", TenantID: "11111111-1111-1111-1111-111111111111"}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	ow := oidctest.Start(t)
	w := &world{World: ow, t: t, srv: ow.Server, st: ow.Store, idp: ow.Identity, tenant: ow.Tenant, issuer: ow.Issuer,
		jobs: &jobTable{jobs: map[string]oidc.Job{}}}
	var err error
	w.devops, err = devops.New(w.st, w.st, devops.Config{ServerURL: ow.URL, Administrators: []devops.PrincipalRef{{TenantID: admin.TenantID, ObjectID: admin.ID}}, ManagedIdentityUse: anyIdentity}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.arm, err = azurerm.New(w.st, w.devops, w.idp, w.issuer, w.jobs, azurerm.Config{
		ServerURL: ow.URL, VaultSuffix: "vault.localhost", VaultPort: 8443, HTTPClient: ow.Client,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.armAPI = newARMStandIn(ow)

	if w.org, err = w.devops.CreateOrganization(ctx, admin, devops.NewOrganization{Name: "fabrikam"}); err != nil {
		t.Fatal(err)
	}
	if w.proj, _, err = w.devops.CreateProject(ctx, w.org, admin, devops.NewProject{Name: "Web App"}); err != nil {
		t.Fatal(err)
	}
	w.def, err = w.devops.CreateDefinition(ctx, w.org, w.proj, admin, devops.DefinitionInput{
		Name: "ci", Kind: devops.DefinitionYAML, YAMLPath: "/azure-pipelines.yml",
		Repository: devops.Repository{Kind: devops.RepositoryGit, URL: "https://example.com/repo.git", DefaultBranch: "main"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// armStandIn answers GET subscription and resource group like ARM, to the principals it
// was told may read them.
type armStandIn struct {
	w       *oidctest.World
	mu      sync.Mutex
	readers map[string]bool
}

func newARMStandIn(w *oidctest.World) *armStandIn {
	a := &armStandIn{w: w, readers: map[string]bool{}}
	w.Mux.HandleFunc("GET /subscriptions/{sub}", a.serve)
	w.Mux.HandleFunc("GET /subscriptions/{sub}/resourcegroups/{rg}", a.serve)
	return a
}

func (a *armStandIn) reader(objectID string) {
	a.mu.Lock()
	a.readers[objectID] = true
	a.mu.Unlock()
}

func (a *armStandIn) serve(rw http.ResponseWriter, r *http.Request) {
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	c, err := a.w.Identity.Verifier().Verify(r.Context(), raw, token.Expect{Audiences: []string{azurerm.ARMResource}})
	rw.Header().Set("Content-Type", "application/json")
	if err != nil {
		rw.WriteHeader(401)
		_, _ = rw.Write([]byte(`{"error":{"code":"InvalidAuthenticationToken","message":"The access token is invalid."}}`))
		return
	}
	a.mu.Lock()
	reader := a.readers[c.ObjectID]
	a.mu.Unlock()
	sub := r.PathValue("sub")
	if rg := r.PathValue("rg"); rg != "" {
		if !reader {
			rw.WriteHeader(403)
			_, _ = rw.Write([]byte(`{"error":{"code":"AuthorizationFailed","message":"The client '` + c.ObjectID + `' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/read'."}}`))
			return
		}
		_ = json.NewEncoder(rw).Encode(map[string]string{"name": rg, "id": "/subscriptions/" + sub + "/resourceGroups/" + rg})
		return
	}
	if !reader || sub != subscriptionID {
		rw.WriteHeader(404)
		_, _ = rw.Write([]byte(`{"error":{"code":"SubscriptionNotFound","message":"The subscription '` + sub + `' could not be found."}}`))
		return
	}
	_ = json.NewEncoder(rw).Encode(map[string]string{"subscriptionId": sub, "displayName": "Keystage Subscription"})
}

func (w *world) reader(objectID string) { w.armAPI.reader(objectID) }

// connection creates an AzureRM connection in the project.
func (w *world) connection(name, scheme string, params map[string]string, data map[string]string) devops.ServiceEndpoint {
	w.t.Helper()
	p := map[string]string{"tenantid": w.tenant}
	for k, v := range params {
		p[k] = v
	}
	d := map[string]string{"subscriptionId": subscriptionID, "subscriptionName": "Keystage Subscription"}
	for k, v := range data {
		d[k] = v
	}
	e, err := w.devops.CreateEndpoint(context.Background(), w.org, admin, devops.EndpointInput{
		Name: name, Type: "AzureRM", Scheme: scheme, Parameters: p, Data: d,
		Projects: []devops.EndpointProjectInput{{Project: w.proj.ID, Name: name}},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) permit(endpointID string) {
	w.t.Helper()
	_, err := w.devops.UpdatePipelinePermissions(context.Background(), w.org, w.proj.ID, devops.ResourceEndpoint, endpointID, admin,
		devops.PermissionUpdate{Pipelines: []devops.PipelineAuthorization{{PipelineID: w.def.ID, Authorized: true}}})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) app(name string) (identity.Application, string) { return w.App(w.t, name) }

// jobTable is a stand-in for the orchestrator's job tokens.
type jobTable struct {
	mu   sync.Mutex
	jobs map[string]oidc.Job
}

func (j *jobTable) add(raw string, job oidc.Job) {
	j.mu.Lock()
	j.jobs[raw] = job
	j.mu.Unlock()
}

func (j *jobTable) end(raw string) {
	j.mu.Lock()
	delete(j.jobs, raw)
	j.mu.Unlock()
}

func (j *jobTable) ValidateJobToken(_ context.Context, raw string) (oidc.Job, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[raw]
	if !ok {
		return oidc.Job{}, errors.New("job token unknown or its job ended")
	}
	return job, nil
}

// anyIdentity lets every caller create managed identity connections: these tests exercise
// connections at run time; who may create one is tested in internal/devops and in
// cmd/keystage's borrowed_identity script against the real server's rule.
func anyIdentity(context.Context, devops.IdentityRef, string, string) error { return nil }
