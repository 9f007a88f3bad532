package orchestrator

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestServerSideTimeoutReachesAgent(t *testing.T) {
	clk := &clock{now: time.Now()}
	f := newFixture(t, func(c *Config) { c.Now = clk.Now; c.LeaseDuration = time.Hour; c.HeartbeatInterval = time.Minute })
	run := f.queue(f.writeYAML("pool: Default\njobs:\n- job: j\n  timeoutInMinutes: 2\n  steps: [ { script: sleep 999 } ]\n"), QueueOptions{})
	a := f.agent("a", 1, nil)
	msg := a.mustPoll()
	ctx := context.Background()
	if _, err := f.svc.Accept(ctx, a.a, msg.JobID, agentproto.Accept{LockToken: msg.LockToken}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Minute)
	// Any event of the run makes its loop look at the clock (in production the loop's timer
	// fires at State.Deadline).
	if err := f.svc.JobEvents(ctx, a.a, msg.JobID, agentproto.Events{LockToken: msg.LockToken, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	ans, err := f.svc.Heartbeat(ctx, a.a, msg.JobID, msg.LockToken, 0)
	if err != nil || !ans.Cancel || ans.Reason != "timeout" {
		t.Fatalf("heartbeat after the timeout = %+v, %v", ans, err)
	}
	a.complete(msg, job.Canceled, 2)
	r := f.waitDone(run.ID)
	tl, _ := f.svc.Timeline(ctx, proj, run.ID)
	if r.Result != ResultFailed || !strings.Contains(issues(tl), "maximum time of 2 minutes") {
		t.Errorf("timed-out run: result %s, issues %q", r.Result, issues(tl))
	}
}

// checker holds every run on one authorization checkpoint.
type checker struct{}

func (checker) Checkpoints(ctx context.Context, rc RunContext) ([]CheckpointRequest, error) {
	return []CheckpointRequest{{Kind: CheckpointAuthorization, Message: "needs permission", Resource: "endpoint/42"}}, nil
}

func TestCheckpoints(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Checks = checker{} })
	pl := f.writeYAML(twoJobs)
	ctx := context.Background()
	a := f.agent("a", 1, nil)

	// Approved: the run waits, then runs.
	run := f.queue(pl, QueueOptions{})
	if msg := a.poll(200 * time.Millisecond); msg != nil {
		t.Fatal("a run waiting on a checkpoint handed out a job")
	}
	r, _ := f.svc.Run(ctx, proj, run.ID)
	tl, _ := f.svc.Timeline(ctx, proj, run.ID)
	var kinds []string
	for _, rec := range tl.Records {
		kinds = append(kinds, rec.Type+"/"+rec.State)
	}
	if r.Status != StatusNotStarted || !strings.Contains(strings.Join(kinds, " "), "Checkpoint.Authorization/inProgress") {
		t.Fatalf("waiting run: status %s, records %v", r.Status, kinds)
	}
	cps, err := f.svc.Checkpoints(ctx, proj, run.ID)
	if err != nil || len(cps) != 1 || !cps[0].Pending || cps[0].Resource != "endpoint/42" {
		t.Fatalf("Checkpoints = %+v, %v", cps, err)
	}
	if n, err := f.svc.ResolveResource(ctx, proj, "endpoint/42", true); n != 1 || err != nil {
		t.Fatalf("ResolveResource = %d, %v", n, err)
	}
	a.run(a.mustPoll(), job.Succeeded)
	if r := f.waitDone(run.ID); r.Result != ResultSucceeded {
		t.Errorf("approved run: %s", r.Result)
	}

	// Rejected: the run fails without running.
	run = f.queue(pl, QueueOptions{})
	cps, _ = f.svc.Checkpoints(ctx, proj, run.ID)
	if err := f.svc.ResolveCheckpoint(ctx, proj, run.ID, cps[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if r := f.waitDone(run.ID); r.Result != ResultFailed || len(r.Issues) == 0 {
		t.Errorf("rejected run: %s, issues %v", r.Result, r.Issues)
	}

	// Survives a restart while waiting.
	run = f.queue(pl, QueueOptions{})
	f.restart()
	a = f.agent("a", 1, nil)
	if msg := a.poll(200 * time.Millisecond); msg != nil {
		t.Fatal("a waiting run started after a restart")
	}
	cps, _ = f.svc.Checkpoints(ctx, proj, run.ID)
	if err := f.svc.ResolveCheckpoint(ctx, proj, run.ID, cps[0].ID, true); err != nil {
		t.Fatal(err)
	}
	a.run(a.mustPoll(), job.Succeeded)
	f.waitDone(run.ID)

	// Canceled while waiting: the run ends canceled and its checkpoint records complete.
	run = f.queue(pl, QueueOptions{})
	if _, err := f.svc.Cancel(ctx, proj, run.ID); err != nil {
		t.Fatal(err)
	}
	if r := f.waitDone(run.ID); r.Result != ResultCanceled {
		t.Errorf("run canceled while waiting: %s", r.Result)
	}
	tl, _ = f.svc.Timeline(ctx, proj, run.ID)
	for _, rec := range tl.Records {
		if strings.HasPrefix(rec.Type, "Checkpoint") && (rec.State != StateCompleted || rec.Result != "canceled") {
			t.Errorf("record %s of a canceled waiting run: %s/%s, want completed/canceled", rec.Type, rec.State, rec.Result)
		}
	}
	if cps, _ := f.svc.Checkpoints(ctx, proj, run.ID); len(cps) != 1 || cps[0].Pending {
		t.Errorf("checkpoints of a canceled run = %+v, want one, not pending", cps)
	}
}

func TestClassicPipeline(t *testing.T) {
	f := newFixture(t)
	pl := Pipeline{ID: 9, Name: "classic", Revision: 1, QueueID: 11,
		Repository: PipelineRepository{Kind: RepositoryLocal, Location: f.repo, DefaultBranch: "main"},
		Classic: &devops.ClassicProcess{Phases: []devops.ClassicPhase{{
			Name: "Job_1", DisplayName: "Agent job 1",
			Steps: []devops.ClassicStep{
				{DisplayName: "Say hi", Task: devops.TaskRef{Name: "CmdLine", Version: 2}, Inputs: map[string]string{"script": "echo hi"}, Enabled: true},
				{DisplayName: "Always", Task: devops.TaskRef{Name: "CmdLine", Version: 2}, Inputs: map[string]string{"script": "echo bye"}, Enabled: true, AlwaysRun: true},
			},
		}}},
	}
	run := f.queue(pl, QueueOptions{})
	a := f.agent("a", 1, nil)
	msg := a.mustPoll()
	steps := msg.Request.Job.Steps
	if len(steps) != 3 || steps[0].Task.Name != "Checkout" || steps[1].Inputs["script"] != "echo hi" || steps[2].Condition != "always()" {
		t.Errorf("classic steps = %+v", steps)
	}
	if msg.Request.JobDisplayName != "Agent job 1" || msg.Request.Job.TimeoutInMinutes != 60 {
		t.Errorf("classic job = %q timeout %d", msg.Request.JobDisplayName, msg.Request.Job.TimeoutInMinutes)
	}
	a.run(msg, job.Succeeded)
	if r := f.waitDone(run.ID); r.Result != ResultSucceeded || r.Queue.ID != 11 {
		t.Errorf("classic run: %s queue %+v", r.Result, r.Queue)
	}
}

func TestDeleteProjectAndRun(t *testing.T) {
	f := newFixture(t)
	pl := f.writeYAML(twoJobs)
	ctx := context.Background()
	done := f.queue(pl, QueueOptions{})
	a := f.agent("a", 1, nil)
	a.run(a.mustPoll(), job.Succeeded)
	f.waitDone(done.ID)
	if err := f.svc.Delete(ctx, proj, done.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Run(ctx, proj, done.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted run: %v", err)
	}
	running := f.queue(pl, QueueOptions{})
	msg := a.mustPoll()
	if err := f.svc.Delete(ctx, proj, running.ID); err == nil {
		t.Error("deleting a running run succeeded")
	}
	if err := f.svc.DeleteProject(ctx, proj.OrgID, proj.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Run(ctx, proj, running.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("run of a deleted project: %v", err)
	}
	if ans, err := f.svc.Heartbeat(ctx, a.a, msg.JobID, msg.LockToken, 0); err == nil || !ans.Gone {
		t.Errorf("the job of a deleted project still heartbeats: %+v, %v", ans, err)
	}
	left, err := f.store.List(ctx, "orch/", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if !strings.HasPrefix(e.Key, "orch/runseq") && !strings.HasPrefix(e.Key, "orch/reqseq") && !strings.HasPrefix(e.Key, "orch/o/") {
			t.Errorf("left behind: %s", e.Key)
		}
	}
}
