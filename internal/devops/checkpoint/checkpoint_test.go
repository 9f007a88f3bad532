package checkpoint_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/checkpoint"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

var admin = devops.IdentityRef{ID: "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", TenantID: "11111111-1111-1111-1111-111111111111"}

// fakeOrch keeps the checkpoints Checkpoints returned, per run, like the orchestrator.
type fakeOrch struct {
	mu       sync.Mutex
	runs     map[int64][]orchestrator.CheckpointInfo
	resolved chan string
}

func (f *fakeOrch) add(runID int64, reqs []orchestrator.CheckpointRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range reqs {
		f.runs[runID] = append(f.runs[runID], orchestrator.CheckpointInfo{
			ID: r.Resource + "#" + string(rune('a'+i)), Stage: r.Stage, Kind: r.Kind, Name: r.Name, Message: r.Message, Resource: r.Resource, Pending: true})
	}
}

func (f *fakeOrch) Checkpoints(_ context.Context, _ orchestrator.Project, id int64) ([]orchestrator.CheckpointInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cps, ok := f.runs[id]
	if !ok {
		return nil, fault.New(fault.NotFound, "BuildNotFoundException", "no run %d", id)
	}
	return append([]orchestrator.CheckpointInfo(nil), cps...), nil
}

func (f *fakeOrch) ResolveCheckpoint(_ context.Context, _ orchestrator.Project, id int64, cpID string, approved bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, cp := range f.runs[id] {
		if cp.ID == cpID && cp.Pending {
			f.runs[id][i].Pending, f.runs[id][i].Approved = false, approved
			verdict := "rejected"
			if approved {
				verdict = "approved"
			}
			f.resolved <- cpID + " " + verdict
			return nil
		}
	}
	return fault.New(fault.NotFound, "CheckpointNotFound", "no checkpoint %s", cpID)
}

type fixture struct {
	st     *identitytest.Store
	devops *devops.Service
	org    devops.Organization
	proj   devops.Project
	def    devops.Definition
	conn   devops.ServiceEndpoint
	orch   *fakeOrch
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: identitytest.Open(t, "sqlite"), orch: &fakeOrch{runs: map[int64][]orchestrator.CheckpointInfo{}, resolved: make(chan string, 10)}}
	var err error
	f.devops, err = devops.New(f.st, f.st, devops.Config{ServerURL: "https://keystage.test", Administrators: []devops.PrincipalRef{{TenantID: admin.TenantID, ObjectID: admin.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.org, err = f.devops.CreateOrganization(ctx, admin, devops.NewOrganization{Name: "fabrikam"}); err != nil {
		t.Fatal(err)
	}
	if f.proj, _, err = f.devops.CreateProject(ctx, f.org, admin, devops.NewProject{Name: "webapp"}); err != nil {
		t.Fatal(err)
	}
	if f.def, err = f.devops.CreateDefinition(ctx, f.org, f.proj, admin, devops.DefinitionInput{
		Name: "ci", Kind: devops.DefinitionYAML, YAMLPath: "/azure-pipelines.yml",
		Repository: devops.Repository{Kind: devops.RepositoryGit, URL: "https://example.com/r.git", DefaultBranch: "main"},
	}); err != nil {
		t.Fatal(err)
	}
	f.conn, err = f.devops.CreateEndpoint(ctx, f.org, admin, devops.EndpointInput{
		Name: "kv-conn", Type: "AzureRM", Scheme: "WorkloadIdentityFederation",
		Parameters: map[string]string{"tenantid": admin.TenantID, "serviceprincipalid": "3e0f6d5a-56c4-4b7b-95e3-2e8d9d4a4c33"},
		Data:       map[string]string{"subscriptionId": "9b0f2a34-8f5e-4d3c-9a1b-2c3d4e5f6a7b"},
		Projects:   []devops.EndpointProjectInput{{Project: f.proj.ID, Name: "kv-conn"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) service(t *testing.T) *checkpoint.Service {
	t.Helper()
	s, err := checkpoint.New(f.st, f.devops, checkpoint.Config{Interval: 20 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) runContext(runID int64) orchestrator.RunContext {
	step := plan.Step{Task: plan.Task{Name: "AzureKeyVault", Version: 2}, Enabled: true,
		Inputs: map[string]string{"azureSubscription": "$(conn)", "KeyVaultName": "kv"}}
	return orchestrator.RunContext{
		Project:  orchestrator.Project{OrgID: f.org.ID, OrgName: f.org.Name, ID: f.proj.ID, Name: f.proj.Name},
		Pipeline: orchestrator.PipelineRef{ID: f.def.ID, Name: f.def.Name},
		RunID:    runID,
		Plan: &plan.Plan{
			Variables: []plan.Variable{{Name: "conn", Value: "kv-conn"}},
			Stages: []plan.Stage{
				{Name: "Build", Jobs: []plan.Job{{Name: "Job", Steps: []plan.Step{{Task: plan.Task{Name: "CmdLine", Version: 2}, Enabled: true}}}}},
				{Name: "Deploy", DisplayName: "Deploy to prod", Jobs: []plan.Job{{Name: "Job", Steps: []plan.Step{step}}}},
			},
		},
	}
}

func (f *fixture) queue(t *testing.T, s *checkpoint.Service, runID int64) []orchestrator.CheckpointRequest {
	t.Helper()
	reqs, err := s.Checkpoints(context.Background(), f.runContext(runID))
	if err != nil {
		t.Fatal(err)
	}
	f.orch.add(runID, reqs)
	return reqs
}

func waitResolved(t *testing.T, f *fixture, want string) {
	t.Helper()
	select {
	case got := <-f.orch.resolved:
		if got != want {
			t.Fatalf("resolved %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing resolved within 5s, want %q", want)
	}
}

func TestRunWaitsUntilPermitted(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := f.service(t)
	if err := s.Start(ctx, f.orch); err != nil {
		t.Fatal(err)
	}
	reqs := f.queue(t, s, 1)
	want := orchestrator.CheckpointRequest{Stage: "Deploy", Kind: "Checkpoint.Authorization", Name: "Authorization",
		Message:  "This pipeline needs permission to access a resource before this run can continue to Deploy to prod",
		Resource: "endpoint/" + f.conn.ID}
	if len(reqs) != 1 || reqs[0] != want {
		t.Fatalf("checkpoints = %+v, want %+v", reqs, want)
	}
	if p := s.Pending(); len(p) != 1 || p[0].RunID != 1 || p[0].ResourceName != "kv-conn" {
		t.Fatalf("pending = %+v", p)
	}
	// Still waiting while nothing changed.
	select {
	case got := <-f.orch.resolved:
		t.Fatalf("resolved %q before the pipeline was permitted", got)
	case <-time.After(100 * time.Millisecond):
	}
	// Permitting another pipeline does not release this run.
	other, err := f.devops.CreateDefinition(ctx, f.org, f.proj, admin, devops.DefinitionInput{
		Name: "other", Kind: devops.DefinitionYAML, YAMLPath: "/x.yml",
		Repository: devops.Repository{Kind: devops.RepositoryGit, URL: "https://example.com/r.git", DefaultBranch: "main"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.devops.UpdatePipelinePermissions(ctx, f.org, f.proj.ID, "endpoint", f.conn.ID, admin,
		devops.PermissionUpdate{Pipelines: []devops.PipelineAuthorization{{PipelineID: other.ID, Authorized: true}}}); err != nil {
		t.Fatal(err)
	}
	s.Notify()
	select {
	case got := <-f.orch.resolved:
		t.Fatalf("resolved %q when another pipeline was permitted", got)
	case <-time.After(100 * time.Millisecond):
	}
	// The pipelinePermissions PATCH of Permit.
	if _, err := f.devops.UpdatePipelinePermissions(ctx, f.org, f.proj.ID, "endpoint", f.conn.ID, admin,
		devops.PermissionUpdate{Pipelines: []devops.PipelineAuthorization{{PipelineID: f.def.ID, Authorized: true}}}); err != nil {
		t.Fatal(err)
	}
	waitResolved(t, f, "endpoint/"+f.conn.ID+"#a approved")
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Pending()) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(s.Pending()) != 0 {
		t.Error("the wait was not dropped after the run continued")
	}
	// Remembered: the next run does not wait.
	if reqs := f.queue(t, s, 2); len(reqs) != 0 {
		t.Errorf("second run waits again: %+v", reqs)
	}
}

func TestAllPipelinesSkipsTheWait(t *testing.T) {
	f := newFixture(t)
	s := f.service(t)
	yes := true
	if _, err := f.devops.UpdatePipelinePermissions(context.Background(), f.org, f.proj.ID, "endpoint", f.conn.ID, admin,
		devops.PermissionUpdate{AllPipelines: &yes}); err != nil {
		t.Fatal(err)
	}
	if reqs := f.queue(t, s, 1); len(reqs) != 0 {
		t.Errorf("checkpoints = %+v, want none", reqs)
	}
}

func TestWaitsSurviveRestart(t *testing.T) {
	f := newFixture(t)
	first := f.service(t)
	f.queue(t, first, 7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second := f.service(t) // a new server process over the same storage
	if err := second.Start(ctx, f.orch); err != nil {
		t.Fatal(err)
	}
	if p := second.Pending(); len(p) != 1 || p[0].RunID != 7 {
		t.Fatalf("pending after restart = %+v", p)
	}
	yes := true
	if _, err := f.devops.UpdatePipelinePermissions(ctx, f.org, f.proj.ID, "endpoint", f.conn.ID, admin, devops.PermissionUpdate{AllPipelines: &yes}); err != nil {
		t.Fatal(err)
	}
	waitResolved(t, f, "endpoint/"+f.conn.ID+"#a approved")
}

func TestApprovals(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := checkpoint.New(f.st, f.devops, checkpoint.Config{Interval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, f.orch); err != nil {
		t.Fatal(err)
	}
	f.queue(t, s, 1)
	f.queue(t, s, 2)
	list, err := s.Approvals(ctx, f.org, f.proj.ID, nil)
	if err != nil || len(list) != 2 {
		t.Fatalf("approvals = %+v, %v", list, err)
	}
	id := list[0].ID
	if _, err := s.Decide(ctx, f.org, f.proj.ID, "nope", true, admin); !fault.Is(err, fault.NotFound) {
		t.Errorf("unknown approval: %v", err)
	}
	ap, err := s.Decide(ctx, f.org, f.proj.ID, id, false, admin)
	if err != nil || ap.Status != checkpoint.StatusRejected {
		t.Fatalf("reject: %+v, %v", ap, err)
	}
	waitResolved(t, f, id+" rejected")
	ok, _ := f.devops.IsPipelineAuthorized(ctx, f.org, f.proj.ID, "endpoint", f.conn.ID, f.def.ID)
	if ok {
		t.Error("rejecting permitted the pipeline")
	}
	list, _ = s.Approvals(ctx, f.org, f.proj.ID, nil)
	if len(list) != 1 {
		t.Fatalf("approvals after the rejection = %+v", list)
	}
	ap, err = s.Decide(ctx, f.org, f.proj.ID, list[0].ID, true, admin)
	if err != nil || ap.Status != checkpoint.StatusApproved {
		t.Fatalf("approve: %+v, %v", ap, err)
	}
	waitResolved(t, f, list[0].ID+" approved")
	ok, _ = f.devops.IsPipelineAuthorized(ctx, f.org, f.proj.ID, "endpoint", f.conn.ID, f.def.ID)
	if !ok {
		t.Error("approving did not remember the permission")
	}
}
