// Package oidctest serves, for tests, Keystage's identity provider and the organizations'
// OIDC issuers (discovery and JWKS) on one real HTTPS server whose certificate also covers
// vault host names, so workload identity federation can be exercised end to end.
package oidctest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/idphttp"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/keyvault"
	"github.com/keystage/keystage/internal/keyvault/kvhttp"
	"github.com/keystage/keystage/internal/pki"
)

// VaultSuffix is the DNS suffix of vault host names the server's certificate covers.
const VaultSuffix = "vault.localhost"

// World is the running server. Tests add handlers to Mux (the identity provider answers
// every path no other pattern matches) and may route by host with Handler.
type World struct {
	Server   *httptest.Server
	URL      string // https://localhost:{port}
	Port     int
	Store    *identitytest.Store
	Identity *identity.Service
	Tenant   string
	Issuer   *oidc.Issuer
	Mux      *http.ServeMux
	// Client trusts the server and dials it for every host name.
	Client *http.Client
	Pool   *x509.CertPool
	// CAFile is the CA certificate (PEM), for SSL_CERT_FILE of child processes.
	CAFile string
	// ChallengeResource is the resource vaults on this server challenge with:
	// https://vault.localhost:{port}.
	ChallengeResource string
	// Handler, when set, sees every request first and returns false to pass it on to Mux.
	Handler func(w http.ResponseWriter, r *http.Request) bool
}

// Resources the identity provider accepts besides the vault challenge resource.
const (
	VaultResource = "https://vault.azure.net"
	ARMResource   = "https://management.azure.com/"
)

// Start starts the server and stops it when the test ends. The identity provider issues
// tokens for Key Vault (VaultResource and the vault challenge resource of VaultSuffix and
// the server's port) and ARM (ARMResource).
func Start(t testing.TB) *World {
	t.Helper()
	ctx := context.Background()
	w := &World{Store: identitytest.Open(t, "sqlite"), Mux: http.NewServeMux()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.Port = ln.Addr().(*net.TCPAddr).Port
	w.URL = "https://localhost:" + strconv.Itoa(w.Port)
	ca, err := pki.LoadOrCreate(ctx, w.Store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate(ctx, w.Store, []string{"localhost", "127.0.0.1", VaultSuffix, "*." + VaultSuffix}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.Pool = ca.Pool()
	w.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(w.CAFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	w.ChallengeResource = kvhttp.ChallengeResource(VaultSuffix, w.Port)
	w.Identity, err = identity.New(w.Store, w.Store, identity.Config{
		Authority: w.URL,
		Resources: []string{VaultResource, w.ChallengeResource, ARMResource},
		Federation: federation.Config{
			TrustedIssuerPrefixes: []string{w.URL},
			RootCAs:               w.Pool,
			Timeout:               5 * time.Second,
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := w.Identity.Bootstrap(ctx, identity.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Tenant = boot.Tenant.ID
	idp, err := idphttp.New(w.Identity, idphttp.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Issuer, err = oidc.New(w.Store, oidc.Config{ServerURL: w.URL}, nil); err != nil {
		t.Fatal(err)
	}
	w.Mux.Handle("/", idp)
	w.Mux.HandleFunc("GET "+oidc.PathPrefix+"{org}"+oidc.DiscoveryPath, func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, w.Issuer.Discovery(r.PathValue("org")))
	})
	w.Mux.HandleFunc("GET "+oidc.PathPrefix+"{org}"+oidc.JWKSPath, func(rw http.ResponseWriter, r *http.Request) {
		set, err := w.Issuer.JWKS(r.Context(), r.PathValue("org"))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(rw, set)
	})
	w.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.Handler != nil && w.Handler(rw, r) {
			return
		}
		w.Mux.ServeHTTP(rw, r)
	}))
	_ = w.Server.Listener.Close()
	w.Server.Listener = ln
	w.Server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	w.Server.StartTLS()
	t.Cleanup(w.Server.Close)
	addr := ln.Addr().String()
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.Pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(transport.CloseIdleConnections)
	w.Client = &http.Client{Timeout: 30 * time.Second, Transport: transport}
	return w
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}

// App creates an application with a client secret in the tenant.
func (w *World) App(t testing.TB, name string) (identity.Application, string) {
	t.Helper()
	ctx := context.Background()
	app, err := w.Identity.CreateApplication(ctx, w.Tenant, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.Identity.AddClientSecret(ctx, w.Tenant, app.AppID, identity.SecretOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return app, s.SecretText
}

// Federate adds a federated credential (issuer, subject, the token exchange audience) to
// the application or managed identity clientID.
func (w *World) Federate(t testing.TB, clientID, name, issuer, subject string) {
	t.Helper()
	_, err := w.Identity.CreateFederatedCredential(context.Background(), w.Tenant, clientID, identity.FederatedCredential{
		Name: name, Issuer: issuer, Subject: subject, Audiences: []string{oidc.Audience},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ManagedIdentity creates a user-assigned managed identity named name.
func (w *World) ManagedIdentity(t testing.TB, name string) identity.ManagedIdentity {
	t.Helper()
	mi, err := w.Identity.CreateManagedIdentity(context.Background(), w.Tenant,
		"/subscriptions/9b0f2a34-8f5e-4d3c-9a1b-2c3d4e5f6a7b/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return mi
}

// Vaults serves the Key Vault data plane for vault host names {name}.vault.localhost:{port}
// of the server, with vaults and per-principal permissions kept in memory.
type Vaults struct {
	Service *keyvault.Service
	dir     *vaultDirectory
}

// ServeVaults mounts the vault data plane on the server (every request to a vault host
// name goes to it) and returns it. intercept, when not nil, sees vault requests first and
// returns true when it answered.
func (w *World) ServeVaults(t testing.TB, intercept func(rw http.ResponseWriter, r *http.Request) bool) *Vaults {
	t.Helper()
	v := &Vaults{
		Service: keyvault.New(w.Store, nil, keyvault.Config{CacheEntries: -1}),
		dir:     &vaultDirectory{vaults: map[string]kvhttp.Vault{}, grants: map[string]map[authz.SecretOperation]bool{}},
	}
	h, err := kvhttp.New(v.Service, nil, v.dir, w.Identity.Verifier(), kvhttp.Config{Authority: w.URL, Resource: w.ChallengeResource})
	if err != nil {
		t.Fatal(err)
	}
	next := w.Handler
	w.Handler = func(rw http.ResponseWriter, r *http.Request) bool {
		host, _, _ := net.SplitHostPort(r.Host)
		if !strings.HasSuffix(host, "."+VaultSuffix) {
			return next != nil && next(rw, r)
		}
		if intercept == nil || !intercept(rw, r) {
			h.ServeHTTP(rw, r)
		}
		return true
	}
	return v
}

// Create creates the vault name in the world's tenant.
func (v *Vaults) Create(w *World, name string) {
	v.dir.mu.Lock()
	defer v.dir.mu.Unlock()
	v.dir.vaults[name] = kvhttp.Vault{Vault: keyvault.Vault{ID: "id-" + name, Name: name, TenantID: w.Tenant, RetentionDays: 7}, Location: "westeurope"}
}

// Grant lets the principal objectID perform ops on every vault's secrets (an access
// policy); it replaces the principal's earlier grant.
func (v *Vaults) Grant(objectID string, ops ...authz.SecretOperation) {
	v.dir.mu.Lock()
	defer v.dir.mu.Unlock()
	g := map[authz.SecretOperation]bool{}
	for _, op := range ops {
		g[op] = true
	}
	v.dir.grants[objectID] = g
}

// Set sets a secret of vault.
func (v *Vaults) Set(t testing.TB, vault, name, value string, p keyvault.SetParams) {
	t.Helper()
	p.Value = value
	kv, ok := v.dir.LookupVault(vault)
	if !ok {
		t.Fatalf("oidctest: no vault %s", vault)
	}
	if _, err := v.Service.Set(context.Background(), kv.Vault, name, p); err != nil {
		t.Fatal(err)
	}
}

// Vault returns the vault name as the data plane sees it.
func (v *Vaults) Vault(name string) (keyvault.Vault, bool) {
	kv, ok := v.dir.LookupVault(name)
	return kv.Vault, ok
}

// vaultDirectory serves vaults from a map and grants secret operations per object id,
// refusing with Key Vault's access-policy 403.
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

// TutorialPipeline is the pipeline of tutorial-flow.md §4 (AzureKeyVault@2, CmdLine@2,
// CopyFiles@2, PublishBuildArtifacts@1) for a connection and a vault; the secret it echoes
// is SECRET-NAME.
func TutorialPipeline(connection, vault string) string {
	return `trigger:
- main

pool:
  vmImage: ubuntu-latest

steps:
- task: AzureKeyVault@2
  displayName: Azure Key Vault
  inputs:
    azureSubscription: '` + connection + `'
    KeyVaultName: '` + vault + `'
    SecretsFilter: '*'
    RunAsPreJob: false

- task: CmdLine@2
  displayName: Create file
  inputs:
    script: 'echo $(SECRET-NAME) > secret.txt'

- task: CopyFiles@2
  displayName: Copy file
  inputs:
    Contents: secret.txt
    targetFolder: '$(Build.ArtifactStagingDirectory)'

- task: PublishBuildArtifacts@1
  displayName: Publish Artifact
  inputs:
    PathtoPublish: '$(Build.ArtifactStagingDirectory)'
    ArtifactName: 'drop'
    publishLocation: 'Container'
`
}
