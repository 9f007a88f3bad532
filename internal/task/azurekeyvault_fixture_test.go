package task_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/devops/oidc/oidctest"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/keyvault"
	"github.com/keystage/keystage/internal/pipeline/job"
)

const (
	kvOrgID     = "0f8fad5b-d9cb-469f-a165-70867728950e"
	kvProjectID = "5a8bd2ad-34d2-4e6d-bbc0-b1bfe0b8d2ac"
	kvPlanID    = "b7bbd0ba-8c7f-4c5a-9e84-d56fb52cf1b1"
	kvJobID     = "0d8ec07e-1f5a-44e5-a3b8-4f1e5e6e9a17"
	kvJobToken  = "job-access-token-of-this-job-not-52-characters-long-at-all"
)

// kvWorld is an identity provider, a Key Vault data plane and an organization's OIDC
// endpoint on one HTTPS server, with vault host names {name}.vault.localhost:{port}.
type kvWorld struct {
	*oidctest.World
	t       testing.TB
	url     string
	port    int
	client  *http.Client
	idp     *identity.Service
	tenant  string
	vaults  *oidctest.Vaults
	issuer  *oidc.Issuer
	oidcSvc *oidc.Service
	conns   *fakeConnections

	// requests counts vault requests by path (for retry and paging tests).
	mu       sync.Mutex
	requests map[string]int
	// failNext makes the next n vault requests answer failStatus.
	failNext   int
	failStatus int
}

func newKVWorld(t testing.TB) *kvWorld {
	t.Helper()
	ow := oidctest.Start(t)
	w := &kvWorld{World: ow, t: t, url: ow.URL, port: ow.Port, client: ow.Client, idp: ow.Identity, tenant: ow.Tenant,
		issuer: ow.Issuer, requests: map[string]int{}}
	w.vaults = ow.ServeVaults(t, func(rw http.ResponseWriter, r *http.Request) bool {
		w.mu.Lock()
		w.requests[r.URL.Path]++
		fail := w.failNext > 0
		if fail {
			w.failNext--
		}
		status := w.failStatus
		w.mu.Unlock()
		if fail {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(status)
			_, _ = fmt.Fprintf(rw, `{"error":{"code":"Throttled","message":"injected %d"}}`, status)
		}
		return fail
	})
	w.conns = &fakeConnections{conns: map[string]oidc.Connection{}, authorized: map[string]bool{}}
	jobs := fakeJobTokens{kvJobToken: {OrgID: kvOrgID, ProjectID: kvProjectID, DefinitionID: 7, RunID: 1, PlanID: kvPlanID, JobID: kvJobID}}
	var err error
	if w.oidcSvc, err = oidc.NewService(w.issuer, jobs, w.conns, nil); err != nil {
		t.Fatal(err)
	}
	ow.Mux.HandleFunc("POST /fabrikam/{project}/_apis/distributedtask/hubs/{hub}/plans/{plan}/jobs/{job}/oidctoken", w.oidcToken)
	return w
}

// oidcToken serves the job OIDC endpoint the way the DevOps surface does.
func (w *kvWorld) oidcToken(rw http.ResponseWriter, r *http.Request) {
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, err := w.oidcSvc.CreateToken(r.Context(), oidc.TokenRequest{
		OrgID: kvOrgID, ProjectID: r.PathValue("project"), Hub: r.PathValue("hub"), PlanID: r.PathValue("plan"), JobID: r.PathValue("job"),
		ServiceConnectionID: r.URL.Query().Get("serviceConnectionId"), JobToken: bearer,
	})
	rw.Header().Set("Content-Type", "application/json")
	if err != nil {
		fe, _ := fault.As(err)
		rw.WriteHeader(fe.Kind.Status())
		_ = json.NewEncoder(rw).Encode(map[string]string{"message": fe.Message, "typeKey": fe.Code})
		return
	}
	_ = json.NewEncoder(rw).Encode(map[string]string{"oidcToken": tok.Raw})
}

func (w *kvWorld) oidcRequestURI() string {
	return w.url + "/fabrikam/" + kvProjectID + "/_apis/distributedtask/hubs/build/plans/" + kvPlanID + "/jobs/" + kvJobID + "/oidctoken"
}

func (w *kvWorld) vault(name string) { w.vaults.Create(w.World, name) }

func (w *kvWorld) grant(objectID string, ops ...authz.SecretOperation) {
	w.vaults.Grant(objectID, ops...)
}

func (w *kvWorld) setSecret(vault, name, value string, p keyvault.SetParams) {
	w.t.Helper()
	w.vaults.Set(w.t, vault, name, value, p)
}

// spApp creates an app registration with a secret and returns its client id, its service
// principal's object id (the oid of its tokens) and the secret.
func (w *kvWorld) spApp(name string) (string, string, string) {
	w.t.Helper()
	app, secret := w.App(w.t, name)
	return app.AppID, app.ServicePrincipalID, secret
}

// endpoint returns an AzureRM endpoint of scheme for the world's vault suffix.
func (w *kvWorld) endpoint(id, scheme string, params map[string]string) job.Endpoint {
	p := map[string]string{"tenantid": w.tenant}
	for k, v := range params {
		p[k] = v
	}
	return job.Endpoint{
		ID: id, Name: "conn-" + id[:4], Type: "AzureRM", URL: w.url + "/", Scheme: scheme, Parameters: p,
		Data: map[string]string{
			"subscriptionId":                         "9b0f2a34-8f5e-4d3c-9a1b-2c3d4e5f6a7b",
			"environmentAuthorityUrl":                w.url + "/",
			"AzureKeyVaultDnsSuffix":                 oidctest.VaultSuffix + ":" + strconv.Itoa(w.port),
			"AzureKeyVaultServiceEndpointResourceId": w.ChallengeResource,
		},
	}
}

type fakeJobTokens map[string]oidc.Job

func (f fakeJobTokens) ValidateJobToken(_ context.Context, raw string) (oidc.Job, error) {
	j, ok := f[raw]
	if !ok {
		return oidc.Job{}, errors.New("unknown job token")
	}
	return j, nil
}

type fakeConnections struct {
	mu         sync.Mutex
	conns      map[string]oidc.Connection
	authorized map[string]bool
}

func (f *fakeConnections) add(c oidc.Connection, authorized bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns[c.ID] = c
	f.authorized[c.ID] = authorized
}

func (f *fakeConnections) Connection(_ context.Context, _, _, id string) (oidc.Connection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conns[id]
	if !ok {
		return oidc.Connection{}, fmt.Errorf("connection %s: %w", id, devops.ErrNotFound)
	}
	return c, nil
}

func (f *fakeConnections) PipelineAuthorized(_ context.Context, _, _, id string, _ int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authorized[id], nil
}
