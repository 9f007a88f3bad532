package azurerm_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/azurerm"
	"github.com/keystage/keystage/internal/devops/checkpoint"
	"github.com/keystage/keystage/internal/devops/devopshttp"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/devops/oidc/oidctest"
	"github.com/keystage/keystage/internal/listener"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/task"
)

// stack is Keystage's pipeline side wired as the server wires it — the DevOps surface,
// the run orchestrator with this package's endpoint resolver and the pipeline-permission
// checker, the OIDC token endpoint and issuers, the connection routes — on the same
// HTTPS server as the identity provider and the vault data plane, with in-process agents.
type stack struct {
	*oidctest.World
	t       *testing.T
	devops  *devops.Service
	runs    *orchestrator.Service
	arm     *azurerm.Service
	checks  *checkpoint.Service
	vaults  *oidctest.Vaults
	armAPI  *armStandIn
	org     devops.Organization
	proj    devops.Project
	pat     string
	orgURL  string
	stopped atomic.Bool
}

var owner = devops.IdentityRef{ID: "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", TenantID: "11111111-1111-4111-8111-111111111111", DisplayName: "Owner"}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w := oidctest.Start(t)
	s := &stack{World: w, t: t, orgURL: w.URL + "/fabrikam"}
	s.vaults = w.ServeVaults(t, nil)
	s.armAPI = newARMStandIn(w)
	var err error
	s.devops, err = devops.New(w.Store, w.Store, devops.Config{ServerURL: w.URL, ManagedIdentityUse: anyIdentity}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.org, err = s.devops.CreateOrganization(ctx, owner, devops.NewOrganization{Name: "fabrikam",
		Owners: []devops.PrincipalRef{{TenantID: owner.TenantID, ObjectID: owner.ID}}}); err != nil {
		t.Fatal(err)
	}
	if s.proj, _, err = s.devops.CreateProject(ctx, s.org, owner, devops.NewProject{Name: "webapp"}); err != nil {
		t.Fatal(err)
	}
	pat, err := s.devops.CreatePAT(ctx, owner, devops.NewPAT{DisplayName: "tests"})
	if err != nil {
		t.Fatal(err)
	}
	s.pat = pat.Token

	runs := func() *orchestrator.Service { return s.runs }
	jobs := azurerm.JobTokensOf(runs)
	s.arm, err = azurerm.New(w.Store, s.devops, w.Identity, w.Issuer, jobs, azurerm.Config{
		ServerURL: w.URL, VaultSuffix: oidctest.VaultSuffix, VaultPort: w.Port, HTTPClient: w.Client,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.checks, err = checkpoint.New(w.Store, s.devops, checkpoint.Config{Interval: 50 * time.Millisecond}, nil); err != nil {
		t.Fatal(err)
	}
	s.runs, err = orchestrator.New(orchestrator.Config{
		Store: w.Store, MAC: w.Store, Pools: orchestrator.DevOpsPools{Svc: s.devops}, ServerURL: w.URL,
		ProjectPrefix: func(orgID, projectID string) string { return devops.ProjectPrefix(orgID, projectID) + "runs/" },
		OrgPrefix:     func(orgID string) string { return devops.OrgPrefix(orgID) + "orch/" },
		Endpoints:     s.arm, Checks: s.checks,
		LeaseDuration: 5 * time.Second, HeartbeatInterval: time.Second, PollTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.runs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.runs.Close() })
	if err := s.checks.Start(ctx, s.runs); err != nil {
		t.Fatal(err)
	}
	oidcSvc, err := oidc.NewService(w.Issuer, jobs, s.arm, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := devopshttp.New(s.devops, devopshttp.Config{Tokens: w.Identity.Verifier(), JobTokens: devopshttp.OrchestratorJobTokens(s.runs)})
	for _, a := range []devopshttp.Area{
		devopshttp.RunsArea(h, s.runs), devopshttp.AgentArea(h, s.runs),
		devopshttp.OIDCArea(h, oidcSvc), devopshttp.ServiceConnectionArea(h, s.arm, azurerm.RunResultsOf(runs)),
		devopshttp.ApprovalsArea(h, s.checks),
	} {
		if err := h.Register(a); err != nil {
			t.Fatal(err)
		}
	}
	next := w.Handler
	w.Handler = func(rw http.ResponseWriter, r *http.Request) bool {
		if next != nil && next(rw, r) {
			return true
		}
		seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if strings.EqualFold(seg, "fabrikam") || strings.HasPrefix(seg, "_") {
			h.ServeHTTP(rw, r)
			return true
		}
		return false
	}
	return s
}

// agent starts an in-process agent in pool with Keystage's built-in tasks, AzureKeyVault@2
// reaching this server.
func (s *stack) agent(pool, name string) {
	s.t.Helper()
	tasks := task.Builtins()
	for i, tk := range tasks {
		if _, ok := tk.(task.AzureKeyVault); ok {
			tasks[i] = task.AzureKeyVault{Client: s.Client, RetryDelay: 10 * time.Millisecond}
		}
	}
	l, err := listener.New(listener.Config{URL: s.orgURL, Pool: pool, Token: s.pat, Name: name, WorkDir: s.t.TempDir(),
		Tasks: tasks, HTTPClient: s.Client})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.Run(ctx); err != nil && ctx.Err() == nil {
			s.t.Errorf("agent %s: %v", name, err)
		}
	}()
	s.t.Cleanup(func() { cancel(); <-done })
}

// conn is a Go client connection with the owner's PAT.
func (s *stack) conn() *azuredevops.Connection {
	c := azuredevops.NewPatConnection(s.orgURL, s.pat)
	c.TlsConfig = &tls.Config{RootCAs: s.Pool}
	return c
}

// pipeline creates a YAML pipeline from a local repository holding azure-pipelines.yml.
func (s *stack) pipeline(name, yaml string) devops.Definition {
	s.t.Helper()
	dir := s.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "azure-pipelines.yml"), []byte(yaml), 0o644); err != nil {
		s.t.Fatal(err)
	}
	d, err := s.devops.CreateDefinition(context.Background(), s.org, s.proj, owner, devops.DefinitionInput{
		Name: name, Kind: devops.DefinitionYAML, YAMLPath: "/azure-pipelines.yml",
		Repository: devops.Repository{Kind: devops.RepositoryLocal, Name: name, Path: dir, DefaultBranch: "refs/heads/main"},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// connection creates an AzureRM service connection in the project.
func (s *stack) connection(name, scheme string, params map[string]string) devops.ServiceEndpoint {
	s.t.Helper()
	p := map[string]string{"tenantid": s.Tenant}
	for k, v := range params {
		p[k] = v
	}
	e, err := s.devops.CreateEndpoint(context.Background(), s.org, owner, devops.EndpointInput{
		Name: name, Type: "AzureRM", Scheme: scheme, Parameters: p,
		Data:     map[string]string{"subscriptionId": subscriptionID, "subscriptionName": "Keystage Subscription"},
		Projects: []devops.EndpointProjectInput{{Project: s.proj.ID, Name: name}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return e
}

func (s *stack) permitAll(endpointID string) {
	s.t.Helper()
	yes := true
	if _, err := s.devops.UpdatePipelinePermissions(context.Background(), s.org, s.proj.ID, devops.ResourceEndpoint, endpointID, owner,
		devops.PermissionUpdate{AllPipelines: &yes}); err != nil {
		s.t.Fatal(err)
	}
}

// queue runs pipeline id through the Pipelines API and returns the run id.
func (s *stack) queue(id int) int {
	s.t.Helper()
	ctx := context.Background()
	run, err := pipelines.NewClient(ctx, s.conn()).RunPipeline(ctx, pipelines.RunPipelineArgs{
		Project: ptr("webapp"), PipelineId: &id, RunParameters: &pipelines.RunPipelineParameters{}})
	if err != nil {
		s.t.Fatalf("RunPipeline: %v", err)
	}
	return *run.Id
}

func (s *stack) build(id int) *build.Build {
	s.t.Helper()
	ctx := context.Background()
	bc, err := build.NewClient(ctx, s.conn())
	if err != nil {
		s.t.Fatal(err)
	}
	b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &id})
	if err != nil {
		s.t.Fatalf("GetBuild: %v", err)
	}
	return b
}

// wait polls run id until cond holds.
func (s *stack) wait(id int, limit time.Duration, cond func(*build.Build) bool) *build.Build {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b := s.build(id)
		if cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run %d: condition not met within %v (status %s, result %v)\n%s", id, limit, *b.Status, b.Result, s.logs(id))
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func completed(b *build.Build) bool { return *b.Status == build.BuildStatusValues.Completed }

// logs returns every log of run id, concatenated.
func (s *stack) logs(id int) string {
	s.t.Helper()
	ctx := context.Background()
	bc, err := build.NewClient(ctx, s.conn())
	if err != nil {
		s.t.Fatal(err)
	}
	list, err := bc.GetBuildLogs(ctx, build.GetBuildLogsArgs{Project: ptr("webapp"), BuildId: &id})
	if err != nil {
		return "(logs: " + err.Error() + ")"
	}
	var b strings.Builder
	for _, l := range *list {
		lines, err := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: &id, LogId: l.Id})
		if err != nil {
			continue
		}
		for _, line := range *lines {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// timeline returns the run's timeline records.
func (s *stack) timeline(id int) []build.TimelineRecord {
	s.t.Helper()
	ctx := context.Background()
	bc, err := build.NewClient(ctx, s.conn())
	if err != nil {
		s.t.Fatal(err)
	}
	tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: &id})
	if err != nil {
		s.t.Fatalf("GetBuildTimeline: %v", err)
	}
	return *tl.Records
}

func ptr[T any](v T) *T { return &v }

// artifactFile returns a file of a run's artifact.
func (s *stack) artifactFile(id int, artifact, path string) string {
	s.t.Helper()
	var b strings.Builder
	p := orchestrator.Project{OrgID: s.org.ID, OrgName: s.org.Name, ID: s.proj.ID, Name: s.proj.Name}
	if err := s.runs.WriteArtifactFile(context.Background(), p, int64(id), artifact, path, &b); err != nil {
		s.t.Fatalf("artifact %s/%s: %v", artifact, path, err)
	}
	return b.String()
}
