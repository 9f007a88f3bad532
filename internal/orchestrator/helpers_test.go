package orchestrator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
)

const (
	testOrg     = "0f0f0f0f-0000-4000-8000-000000000001"
	testProject = "0f0f0f0f-0000-4000-8000-000000000002"
)

var proj = Project{OrgID: testOrg, OrgName: "fabrikam", ID: testProject, Name: "web"}

// fakePools serves two pools: 1 "Default" (queue 11) and 2 "Azure Pipelines" (queue 12).
type fakePools struct {
	mu     sync.Mutex
	agents map[int]*AgentInfo
	online map[int]bool
	nextID int
}

func newFakePools() *fakePools {
	return &fakePools{agents: map[int]*AgentInfo{}, online: map[int]bool{}}
}

var testQueues = []QueueRef{
	{ID: 11, Name: "Default", PoolID: 1, PoolName: "Default"},
	{ID: 12, Name: "Azure Pipelines", PoolID: 2, PoolName: "Azure Pipelines"},
}

func (f *fakePools) ResolvePool(ctx context.Context, p Project, ref PoolRef) (QueueRef, error) {
	for _, q := range testQueues {
		if ref.QueueID == q.ID || ref.Name != "" && strings.EqualFold(ref.Name, q.Name) {
			return q, nil
		}
	}
	if ref.QueueID == 0 && ref.Name == "" {
		return testQueues[1], nil // vmImage and default: the hosted pool
	}
	return QueueRef{}, fault.New(fault.BadRequest, "x", "Could not find a pool with name %s.", ref.Name)
}

func (f *fakePools) Agents(ctx context.Context, orgID string, poolID int) ([]AgentInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []AgentInfo
	for _, a := range f.agents {
		if a.PoolID == poolID {
			out = append(out, *a)
		}
	}
	return out, nil
}

func (f *fakePools) Agent(ctx context.Context, orgID string, poolID, agentID int) (AgentInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.agents[agentID]
	if a == nil || a.PoolID != poolID {
		return AgentInfo{}, fault.New(fault.NotFound, "x", "no agent %d", agentID)
	}
	return *a, nil
}

func (f *fakePools) RegisterAgent(ctx context.Context, orgID string, poolID int, reg agentproto.Registration) (AgentInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.agents {
		if a.PoolID == poolID && strings.EqualFold(a.Name, reg.Name) {
			a.Capabilities = MergeCapabilities(reg.SystemCapabilities, reg.UserCapabilities)
			return *a, nil
		}
	}
	f.nextID++
	a := &AgentInfo{ID: f.nextID, PoolID: poolID, PoolName: fmt.Sprint(poolID), Name: reg.Name, Enabled: true,
		Capabilities: MergeCapabilities(reg.SystemCapabilities, reg.UserCapabilities)}
	f.agents[a.ID] = a
	return *a, nil
}

func (f *fakePools) SetAgentStatus(ctx context.Context, orgID string, poolID, agentID int, online bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.online[agentID] = online
	return nil
}

// fixture is a Service over fresh encrypted storage with a repository directory.
type fixture struct {
	t     *testing.T
	store *identitytest.Store
	pools *fakePools
	repo  string
	cfg   Config
	svc   *Service
}

func newFixture(t *testing.T, mod ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, store: identitytest.Open(t, "sqlite"), pools: newFakePools(), repo: t.TempDir()}
	f.cfg = Config{
		Store: f.store, MAC: f.store, Pools: f.pools, ServerURL: "https://keystage.test:8443",
		LeaseDuration: 2 * time.Second, HeartbeatInterval: 500 * time.Millisecond, PollTimeout: 5 * time.Second,
	}
	for _, m := range mod {
		m(&f.cfg)
	}
	f.start()
	return f
}

func (f *fixture) start() {
	f.t.Helper()
	svc, err := New(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	f.svc = svc
	f.t.Cleanup(func() { _ = svc.Close() })
}

// restart closes the service and starts a new one on the same storage.
func (f *fixture) restart() {
	f.t.Helper()
	_ = f.svc.Close()
	f.start()
}

func (f *fixture) writeYAML(text string) Pipeline {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.repo, "azure-pipelines.yml"), []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return Pipeline{ID: 7, Name: "web-ci", Revision: 3, YAMLPath: "/azure-pipelines.yml",
		Repository: PipelineRepository{Kind: RepositoryLocal, Name: "web", Location: f.repo, DefaultBranch: "refs/heads/main"}}
}

func (f *fixture) queue(pl Pipeline, o QueueOptions) Run {
	f.t.Helper()
	r, err := f.svc.Queue(context.Background(), proj, pl, o)
	if err != nil {
		f.t.Fatalf("Queue: %v", err)
	}
	return r
}

// waitRun waits until run id satisfies cond.
func (f *fixture) waitRun(id int64, what string, cond func(Run) bool) Run {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := f.svc.Run(context.Background(), proj, id)
		if err != nil {
			f.t.Fatalf("Run(%d): %v", id, err)
		}
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("run %d: timed out waiting for %s; last status %s result %s", id, what, r.Status, r.Result)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) waitDone(id int64) Run {
	f.t.Helper()
	return f.waitRun(id, "completion", func(r Run) bool { return r.Done() })
}

// fakeAgent drives the agent protocol through the Service's methods, running each job with
// a script.
type fakeAgent struct {
	f       *fixture
	a       Agent
	session string
	name    string
}

func (f *fixture) agent(name string, pool int, caps map[string]string) *fakeAgent {
	f.t.Helper()
	ctx := context.Background()
	reg, err := f.svc.RegisterAgent(ctx, testOrg, pool, agentproto.Registration{Name: name, Version: "4.260.0", UserCapabilities: caps})
	if err != nil {
		f.t.Fatal(err)
	}
	a, err := f.svc.AuthenticateAgent(ctx, reg.Token)
	if err != nil {
		f.t.Fatal(err)
	}
	sess, err := f.svc.OpenSession(ctx, a, agentproto.SessionRequest{OwnerName: name})
	if err != nil {
		f.t.Fatal(err)
	}
	return &fakeAgent{f: f, a: a, session: sess.SessionID, name: name}
}

func (fa *fakeAgent) poll(wait time.Duration) *agentproto.JobMessage {
	fa.f.t.Helper()
	msg, err := fa.f.svc.Poll(context.Background(), fa.a, fa.session, wait)
	if err != nil {
		fa.f.t.Fatalf("Poll: %v", err)
	}
	return msg
}

func (fa *fakeAgent) mustPoll() *agentproto.JobMessage {
	fa.f.t.Helper()
	msg := fa.poll(10 * time.Second)
	if msg == nil {
		fa.f.t.Fatal("no job for agent " + fa.name)
	}
	return msg
}

// run accepts msg and reports one step printing lines, then completes with result.
func (fa *fakeAgent) run(msg *agentproto.JobMessage, result job.Result, lines ...string) {
	fa.f.t.Helper()
	ctx := context.Background()
	if _, err := fa.f.svc.Accept(ctx, fa.a, msg.JobID, agentproto.Accept{LockToken: msg.LockToken}); err != nil {
		fa.f.t.Fatalf("Accept: %v", err)
	}
	step := &agentproto.Step{Index: 1, Name: "CmdLine", DisplayName: "Run a script", Task: "CmdLine@2"}
	ev := agentproto.Events{LockToken: msg.LockToken, Seq: 1, Events: []agentproto.Event{
		{Kind: agentproto.JobLines, Lines: string(agentproto.FormatChunk([]string{"Agent name: '" + fa.name + "'"}))},
		{Kind: agentproto.StepStarted, Step: step},
		{Kind: agentproto.StepLines, Step: step, Lines: string(agentproto.FormatChunk(lines))},
		{Kind: agentproto.StepFinished, Step: step, Report: &job.StepReport{DisplayName: step.DisplayName, Result: result}},
	}}
	if len(lines) == 0 {
		ev.Events[2].Lines = ""
	}
	if err := fa.f.svc.JobEvents(ctx, fa.a, msg.JobID, ev); err != nil {
		fa.f.t.Fatalf("JobEvents: %v", err)
	}
	fa.complete(msg, result, 2)
}

func (fa *fakeAgent) complete(msg *agentproto.JobMessage, result job.Result, seq int64) {
	fa.f.t.Helper()
	c := agentproto.Completion{LockToken: msg.LockToken, Report: job.Report{Result: result},
		Events: agentproto.Events{LockToken: msg.LockToken, Seq: seq, Events: []agentproto.Event{
			{Kind: agentproto.JobLines, Lines: "Cleaning up.\n"},
		}}}
	if err := fa.f.svc.CompleteJob(context.Background(), fa.a, msg.JobID, c); err != nil {
		fa.f.t.Fatalf("CompleteJob: %v", err)
	}
}

// variable returns a variable of a job message.
func variable(msg *agentproto.JobMessage, name string) (job.Variable, bool) {
	var out job.Variable
	found := false
	for _, v := range msg.Request.Variables {
		if strings.EqualFold(v.Name, name) {
			out, found = v, true
		}
	}
	return out, found
}
