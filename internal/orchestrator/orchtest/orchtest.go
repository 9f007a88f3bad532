// Package orchtest starts the Azure DevOps surface with the run orchestrator over real
// HTTPS, in-process, for tests of runs on agents: an organization, a project, a personal
// access token, pipelines in local repositories, and in-process agents (listeners).
package orchtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/devopshttp"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/orchestrator"
)

const (
	tenant   = "11111111-1111-4111-8111-111111111111"
	ownerOID = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
)

// Owner is the organization's owner, who queues runs and registers agents.
var Owner = devops.IdentityRef{ID: ownerOID, TenantID: tenant, DisplayName: "Owner"}

// Options configure Start.
type Options struct {
	// Backend is "sqlite" (default) or "postgres" (skipped without KEYSTAGE_TEST_POSTGRES).
	Backend string
	// Lease and Heartbeat set the orchestrator's lease duration and heartbeat interval
	// (defaults: 3s and 500ms, so that lost agents are detected quickly).
	Lease, Heartbeat time.Duration
}

// Server is a running in-process server.
type Server struct {
	t    testing.TB
	opts Options
	// URL is https://127.0.0.1:{port}; OrgURL is URL/{organization}.
	URL, OrgURL string
	// CAFile holds the server's certificate (PEM), for SSL_CERT_FILE of agent processes.
	CAFile  string
	CAPool  *x509.CertPool
	Client  *http.Client
	Store   *identitytest.Store
	DevOps  *devops.Service
	Org     devops.Organization
	Project devops.Project
	// PAT is the owner's personal access token.
	PAT string

	addr    string
	mu      sync.Mutex
	srv     *httptest.Server
	runs    *orchestrator.Service
	handler atomic.Pointer[http.Handler]
}

// Start starts a server with a fresh store, an organization "fabrikam" and a project
// "webapp"; it stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Backend == "" {
		opts.Backend = "sqlite"
	}
	if opts.Lease == 0 {
		opts.Lease = 3 * time.Second
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 500 * time.Millisecond
	}
	s := &Server{t: t, opts: opts, Store: identitytest.Open(t, opts.Backend)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.URL = "https://" + s.addr
	s.DevOps, err = devops.New(s.Store, s.Store, devops.Config{ServerURL: s.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if s.Org, err = s.DevOps.CreateOrganization(ctx, Owner, devops.NewOrganization{Name: "fabrikam",
		Owners: []devops.PrincipalRef{{TenantID: tenant, ObjectID: ownerOID}}}); err != nil {
		t.Fatal(err)
	}
	if s.Project, _, err = s.DevOps.CreateProject(ctx, s.Org, Owner, devops.NewProject{Name: "webapp"}); err != nil {
		t.Fatal(err)
	}
	pat, err := s.DevOps.CreatePAT(ctx, Owner, devops.NewPAT{DisplayName: "tests"})
	if err != nil {
		t.Fatal(err)
	}
	s.PAT = pat.Token
	s.OrgURL = s.URL + "/fabrikam"
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

// serve starts the orchestrator and the HTTPS server on ln.
func (s *Server) serve(ln net.Listener) {
	s.t.Helper()
	cfg := orchestrator.Config{
		Store: s.Store, MAC: s.Store, Pools: orchestrator.DevOpsPools{Svc: s.DevOps}, ServerURL: s.URL,
		ProjectPrefix: func(orgID, projectID string) string { return devops.ProjectPrefix(orgID, projectID) + "runs/" },
		OrgPrefix:     func(orgID string) string { return devops.OrgPrefix(orgID) + "orch/" },
		LeaseDuration: s.opts.Lease, HeartbeatInterval: s.opts.Heartbeat, PollTimeout: 10 * time.Second,
	}
	runs, err := orchestrator.New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := runs.Start(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	h := devopshttp.New(s.DevOps, devopshttp.Config{JobTokens: devopshttp.OrchestratorJobTokens(runs)})
	for _, a := range []devopshttp.Area{devopshttp.RunsArea(h, runs), devopshttp.AgentArea(h, runs)} {
		if err := h.Register(a); err != nil {
			s.t.Fatal(err)
		}
	}
	var hh http.Handler = h
	s.handler.Store(&hh)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.handler.Load()).ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = true
	srv.StartTLS()
	s.mu.Lock()
	s.srv, s.runs = srv, runs
	s.mu.Unlock()
	if s.CAPool == nil {
		s.CAPool = x509.NewCertPool()
		s.CAPool.AddCert(srv.Certificate())
		s.CAFile = filepath.Join(s.t.TempDir(), "ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		if err := os.WriteFile(s.CAFile, pemBytes, 0o644); err != nil {
			s.t.Fatal(err)
		}
		s.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CAPool}, MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: true}}
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	srv, runs := s.srv, s.runs
	s.srv, s.runs = nil, nil
	s.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
	if runs != nil {
		_ = runs.Close()
	}
}

// Restart stops the server (clients see refused connections), waits down, then starts a
// new orchestrator and HTTPS server on the same address and storage, as a server process
// restart would.
func (s *Server) Restart(down time.Duration) {
	s.t.Helper()
	s.stop()
	time.Sleep(down)
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("orchtest: listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Conn returns a Go client connection authenticated with the owner's PAT.
func (s *Server) Conn() *azuredevops.Connection {
	c := azuredevops.NewPatConnection(s.OrgURL, s.PAT)
	c.TlsConfig = &tls.Config{RootCAs: s.CAPool}
	return c
}

// Pipeline creates a YAML pipeline whose repository is a new local directory holding
// files (path -> content; the pipeline file is azure-pipelines.yml) and returns its id.
func (s *Server) Pipeline(name string, files map[string]string) int {
	s.t.Helper()
	dir := s.t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	d, err := s.DevOps.CreateDefinition(context.Background(), s.Org, s.Project, Owner, devops.DefinitionInput{
		Name: name, Kind: devops.DefinitionYAML, YAMLPath: "/azure-pipelines.yml",
		Repository: devops.Repository{Kind: devops.RepositoryLocal, Name: name, Path: dir, DefaultBranch: "refs/heads/main"},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return d.ID
}

// Pool returns the id of the organization's pool named name.
func (s *Server) Pool(name string) int {
	s.t.Helper()
	p, err := s.DevOps.PoolByName(context.Background(), s.Org, name)
	if err != nil {
		s.t.Fatal(err)
	}
	return p.ID
}
