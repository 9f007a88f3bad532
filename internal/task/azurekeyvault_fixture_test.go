package task_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/keyvault"
	"github.com/keystage/keystage/internal/keyvault/kvhttp"
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
	kv      *keyvault.Service
	dir     *vaultDirectory
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
	w.kv = keyvault.New(ow.Store, nil, keyvault.Config{CacheEntries: -1})
	w.dir = &vaultDirectory{vaults: map[string]kvhttp.Vault{}, grants: map[string]map[authz.SecretOperation]bool{}}
	kvHandler, err := kvhttp.New(w.kv, nil, w.dir, w.idp.Verifier(), kvhttp.Config{Authority: w.url, Resource: ow.ChallengeResource})
	if err != nil {
		t.Fatal(err)
	}
	w.conns = &fakeConnections{conns: map[string]oidc.Connection{}, authorized: map[string]bool{}}
	jobs := fakeJobTokens{kvJobToken: {OrgID: kvOrgID, ProjectID: kvProjectID, DefinitionID: 7, RunID: 1, PlanID: kvPlanID, JobID: kvJobID}}
	if w.oidcSvc, err = oidc.NewService(w.issuer, jobs, w.conns, nil); err != nil {
		t.Fatal(err)
	}
	ow.Mux.HandleFunc("POST /fabrikam/{project}/_apis/distributedtask/hubs/{hub}/plans/{plan}/jobs/{job}/oidctoken", w.oidcToken)
	ow.Handler = func(rw http.ResponseWriter, r *http.Request) bool {
		host, _, _ := net.SplitHostPort(r.Host)
		if !strings.HasSuffix(host, "."+oidctest.VaultSuffix) {
			return false
		}
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
			return true
		}
		kvHandler.ServeHTTP(rw, r)
		return true
	}
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

// vault creates a vault the principal objectID may use with ops.
func (w *kvWorld) vault(name string) {
	w.dir.mu.Lock()
	defer w.dir.mu.Unlock()
	w.dir.vaults[name] = kvhttp.Vault{Vault: keyvault.Vault{ID: "id-" + name, Name: name, TenantID: w.tenant, RetentionDays: 7}, Location: "westeurope"}
}

func (w *kvWorld) grant(objectID string, ops ...authz.SecretOperation) {
	w.dir.mu.Lock()
	defer w.dir.mu.Unlock()
	g := map[authz.SecretOperation]bool{}
	for _, op := range ops {
		g[op] = true
	}
	w.dir.grants[objectID] = g
}

func (w *kvWorld) setSecret(vault, name, value string, p keyvault.SetParams) {
	w.t.Helper()
	p.Value = value
	w.dir.mu.Lock()
	v := w.dir.vaults[vault].Vault
	w.dir.mu.Unlock()
	if _, err := w.kv.Set(context.Background(), v, name, p); err != nil {
		w.t.Fatal(err)
	}
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

// vaultDirectory serves vaults from a map and grants secret operations per object id.
type vaultDirectory struct {
	mu     sync.Mutex
	vaults map[string]kvhttp.Vault
	grants map[string]map[authz.SecretOperation]bool
}

func (d *vaultDirectory) LookupVault(name string) (kvhttp.Vault, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vaults[strings.ToLower(name)]
	return v, ok
}

func (d *vaultDirectory) AuthorizeSecret(_ context.Context, v *kvhttp.Vault, c *token.Claims, op authz.SecretOperation, _ string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.grants[c.ObjectID][op] {
		return nil
	}
	perm := "get"
	if op == authz.SecretList {
		perm = "list"
	}
	return fault.New(fault.Forbidden, "Forbidden",
		"The user, group or application 'appid=%s;oid=%s;iss=%s' does not have secrets %s permission on key vault '%s;location=%s'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
		c.AppID, c.ObjectID, c.Issuer, perm, v.Name, v.Location).WithInner("AccessDenied")
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
