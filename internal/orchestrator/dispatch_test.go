package orchestrator

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
)

const twoJobs = `
pool: Default
steps:
- script: echo hello
`

func TestRunOnAgent(t *testing.T) {
	f := newFixture(t)
	pl := f.writeYAML(twoJobs)
	run := f.queue(pl, QueueOptions{Variables: []job.Variable{{Name: "who", Value: "me"}, {Name: "pw", Value: "s3cret", Secret: true}},
		RequestedBy: IdentityRef{ID: "u1", DisplayName: "User One"}})
	if run.ID < 1 || run.PlanID == "" || run.SourceBranch != "refs/heads/main" {
		t.Fatalf("queued run = %+v", run)
	}
	a := f.agent("agent-1", 1, nil)
	msg := a.mustPoll()
	if msg.RunID != run.ID || msg.PlanID != run.PlanID || msg.OrgName != "fabrikam" || msg.ProjectID != testProject {
		t.Errorf("job message identity = run %d plan %s org %s project %s", msg.RunID, msg.PlanID, msg.OrgName, msg.ProjectID)
	}
	wantVars := map[string]string{
		"System.CollectionUri":   "https://keystage.test:8443/fabrikam/",
		"System.TeamProject":     "web",
		"System.TeamProjectId":   testProject,
		"System.HostType":        "build",
		"System.PlanId":          run.PlanID,
		"System.JobId":           msg.JobID,
		"System.DefinitionId":    "7",
		"System.OidcRequestUri":  "https://keystage.test:8443/fabrikam/" + testProject + "/_apis/distributedtask/hubs/build/plans/" + run.PlanID + "/jobs/" + msg.JobID + "/oidctoken",
		"Build.BuildId":          itoa(run.ID),
		"Build.DefinitionName":   "web-ci",
		"Build.Repository.Name":  "web",
		"Build.Repository.Uri":   f.repo,
		"Build.SourceBranch":     "refs/heads/main",
		"Build.SourceBranchName": "main",
		"Build.QueuedBy":         "User One",
		"who":                    "me",
	}
	for name, want := range wantVars {
		if v, ok := variable(msg, name); !ok || v.Value != want {
			t.Errorf("variable %s = %q (found %v), want %q", name, v.Value, ok, want)
		}
	}
	tok, ok := variable(msg, "System.AccessToken")
	if !ok || !tok.Secret || len(tok.Value) == 52 || !LooksLikeJobToken(tok.Value) {
		t.Errorf("System.AccessToken = secret %v, length %d", tok.Secret, len(tok.Value))
	}
	if pw, _ := variable(msg, "pw"); !pw.Secret || pw.Value != "s3cret" {
		t.Errorf("secret queue variable = %+v", pw)
	}
	a.run(msg, job.Succeeded, "hello", "##[warning]careful")
	done := f.waitDone(run.ID)
	if done.Result != ResultSucceeded || done.FinishTime.IsZero() || done.StartTime.IsZero() {
		t.Errorf("completed run = status %s result %s", done.Status, done.Result)
	}

	tl, err := f.svc.Timeline(context.Background(), proj, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types, names []string
	byID := map[string]TimelineRecord{}
	for _, r := range tl.Records {
		types = append(types, r.Type)
		names = append(names, r.Name)
		byID[r.ID] = r
	}
	if diff := cmp.Diff([]string{"Stage", "Phase", "Job", "Task", "Task", "Task"}, types); diff != "" {
		t.Errorf("record types (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"__default", "Job", "Job", "Initialize job", "Run a script", "Finalize Job"}, names); diff != "" {
		t.Errorf("record names (-want +got):\n%s", diff)
	}
	for _, r := range tl.Records {
		if r.State != StateCompleted || r.Result != "succeeded" {
			t.Errorf("record %s %s: state %s result %s", r.Type, r.Name, r.State, r.Result)
		}
		if r.ParentID != "" && byID[r.ParentID].ID == "" {
			t.Errorf("record %s has unknown parent %s", r.Name, r.ParentID)
		}
	}
	jobRec, step := tl.Records[2], tl.Records[4]
	if jobRec.ID != msg.JobID || jobRec.WorkerName != "agent-1" || jobRec.LogID == 0 {
		t.Errorf("job record = id %s worker %s log %d", jobRec.ID, jobRec.WorkerName, jobRec.LogID)
	}
	if step.Task == nil || step.Task.Name != "CmdLine" || step.LogID == 0 || step.WarningCount != 0 && len(step.Issues) != 1 {
		t.Errorf("step record = %+v", step)
	}
	if len(step.Issues) != 1 || step.Issues[0] != (Issue{Type: "warning", Message: "careful"}) {
		t.Errorf("step issues = %+v", step.Issues)
	}
	lines, err := f.svc.LogLines(context.Background(), proj, run.ID, step.LogID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"hello", "##[warning]careful"}, lines); diff != "" {
		t.Errorf("step log (-want +got):\n%s", diff)
	}
	all, err := f.svc.LogLines(context.Background(), proj, run.ID, jobRec.LogID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Agent name: 'agent-1'", "hello", "##[warning]careful", "Cleaning up."}, all); diff != "" {
		t.Errorf("job log (-want +got):\n%s", diff)
	}
	part, _ := f.svc.LogLines(context.Background(), proj, run.ID, jobRec.LogID, 2, 3)
	if diff := cmp.Diff([]string{"hello", "##[warning]careful"}, part); diff != "" {
		t.Errorf("job log lines 2-3 (-want +got):\n%s", diff)
	}
	// The job is gone: its token is useless and its record deleted.
	if _, err := f.svc.ValidateJobToken(context.Background(), tok.Value); err == nil {
		t.Error("the job token still validates after the job ended")
	}
	if _, err := f.store.Get(context.Background(), jobKey(msg.JobID)); err == nil {
		t.Error("the job record outlived the job")
	}
	// Run list.
	runs, next, err := f.svc.List(context.Background(), proj, RunFilter{})
	if err != nil || len(runs) != 1 || next != 0 || runs[0].ID != run.ID {
		t.Errorf("List = %d runs, next %d, err %v", len(runs), next, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestJobTokenLifetime(t *testing.T) {
	f := newFixture(t)
	run := f.queue(f.writeYAML(twoJobs), QueueOptions{})
	a := f.agent("a", 1, nil)
	msg := a.mustPoll()
	tok, _ := variable(msg, "System.AccessToken")
	c, err := f.svc.ValidateJobToken(context.Background(), tok.Value)
	if err != nil {
		t.Fatalf("ValidateJobToken during the job: %v", err)
	}
	want := JobClaims{OrgID: testOrg, OrgName: "fabrikam", ProjectID: testProject, ProjectName: "web", DefinitionID: 7,
		RunID: run.ID, PlanID: run.PlanID, JobID: msg.JobID}
	c.Expiry = time.Time{}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	for name, bad := range map[string]string{
		"garbage":   "x.y.z",
		"tampered":  tok.Value[:len(tok.Value)-4] + "AAAA",
		"truncated": tok.Value[:60],
	} {
		if _, err := f.svc.ValidateJobToken(context.Background(), bad); !fault.Is(err, fault.Unauthorized) {
			t.Errorf("%s token: err = %v, want Unauthorized", name, err)
		}
	}
	a.run(msg, job.Succeeded)
	f.waitDone(run.ID)
	if _, err := f.svc.ValidateJobToken(context.Background(), tok.Value); !fault.Is(err, fault.Unauthorized) {
		t.Errorf("after the job: err = %v, want Unauthorized", err)
	}
}

func TestDemandsRouting(t *testing.T) {
	f := newFixture(t)
	pl := f.writeYAML(`
jobs:
- job: linux
  pool:
    name: Default
    demands: [ "os -equals LINUX" ]
  steps: [ { script: echo } ]
- job: gpu
  pool:
    name: Default
    demands: [ gpu ]
  steps: [ { script: echo } ]
`)
	linux := f.agent("linux-box", 1, map[string]string{"OS": "Linux"})
	gpu := f.agent("gpu-box", 1, map[string]string{"os": "windows", "GPU": "yes"})
	run := f.queue(pl, QueueOptions{})
	m1 := gpu.mustPoll()
	m2 := linux.mustPoll()
	if m1.Request.PhaseName != "gpu" || m2.Request.PhaseName != "linux" {
		t.Fatalf("gpu agent got %s, linux agent got %s", m1.Request.PhaseName, m2.Request.PhaseName)
	}
	gpu.run(m1, job.Succeeded)
	linux.run(m2, job.Succeeded)
	if r := f.waitDone(run.ID); r.Result != ResultSucceeded {
		t.Errorf("result %s", r.Result)
	}

	// A demand no registered agent satisfies fails the job at once, with Azure's message.
	pl = f.writeYAML(`
pool: { name: Default, demands: [ "fpga" ] }
steps: [ { script: echo } ]
`)
	run = f.queue(pl, QueueOptions{})
	r := f.waitDone(run.ID)
	tl, _ := f.svc.Timeline(context.Background(), proj, run.ID)
	if r.Result != ResultFailed || !strings.Contains(issues(tl), "No agent found in pool Default which satisfies the following demand: fpga") {
		t.Errorf("result %s, issues %q", r.Result, issues(tl))
	}

	if _, err := f.svc.Queue(context.Background(), proj, f.writeYAML("pool: { name: Default, demands: [ 'x -gtVersion 2' ] }\nsteps: [ { script: echo } ]\n"), QueueOptions{}); err == nil || !strings.Contains(err.Error(), "-gtVersion") {
		t.Errorf("unsupported demand operator: err = %v", err)
	}
}

func issues(tl Timeline) string {
	var b strings.Builder
	for _, r := range tl.Records {
		for _, is := range r.Issues {
			b.WriteString(r.Type + ": " + is.Message + "\n")
		}
	}
	return b.String()
}

func TestLostAgentFailsJob(t *testing.T) {
	f := newFixture(t)
	run := f.queue(f.writeYAML(twoJobs), QueueOptions{})
	a := f.agent("doomed", 1, nil)
	msg := a.mustPoll()
	if _, err := f.svc.Accept(context.Background(), a.a, msg.JobID, agentproto.Accept{LockToken: msg.LockToken}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := f.waitDone(run.ID) // no heartbeat: the lease (2s) expires
	if took := time.Since(start); took > 2*f.cfg.LeaseDuration+time.Second {
		t.Errorf("the lost job took %v to fail (lease %v)", took, f.cfg.LeaseDuration)
	}
	tl, _ := f.svc.Timeline(context.Background(), proj, run.ID)
	if r.Result != ResultFailed || !strings.Contains(issues(tl), "We stopped hearing from agent doomed") {
		t.Errorf("result %s issues %q", r.Result, issues(tl))
	}
	// The agent comes back: the job is gone.
	ans, err := f.svc.Heartbeat(context.Background(), a.a, msg.JobID, msg.LockToken, 0)
	if err == nil || !ans.Gone {
		t.Errorf("heartbeat after loss = %+v, %v; want gone", ans, err)
	}
}

func TestUnacceptedJobIsRequeued(t *testing.T) {
	f := newFixture(t)
	run := f.queue(f.writeYAML(twoJobs), QueueOptions{})
	slow := f.agent("slow", 1, nil)
	msg := slow.mustPoll() // never accepted
	other := f.agent("other", 1, nil)
	msg2 := other.mustPoll() // waits for the lease to expire, then gets it
	if msg2.JobID != msg.JobID || msg2.LockToken == msg.LockToken {
		t.Fatalf("requeued job = %s (lock changed %v)", msg2.JobID, msg2.LockToken != msg.LockToken)
	}
	if _, err := f.svc.Accept(context.Background(), slow.a, msg.JobID, agentproto.Accept{LockToken: msg.LockToken}); err == nil {
		t.Error("the first agent could still accept the job")
	}
	other.run(msg2, job.Succeeded)
	if r := f.waitDone(run.ID); r.Result != ResultSucceeded {
		t.Errorf("result %s", r.Result)
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t)
	pl := f.writeYAML(twoJobs)

	// A queued job ends at once.
	run := f.queue(pl, QueueOptions{})
	f.waitRun(run.ID, "a queued job", func(r Run) bool { return r.Status == StatusInProgress })
	if _, err := f.svc.Cancel(context.Background(), proj, run.ID); err != nil {
		t.Fatal(err)
	}
	if r := f.waitDone(run.ID); r.Result != ResultCanceled {
		t.Errorf("canceled queued run: result %s", r.Result)
	}

	// A running job learns it from its heartbeat, which returns at once.
	run = f.queue(pl, QueueOptions{})
	a := f.agent("a", 1, nil)
	msg := a.mustPoll()
	if _, err := f.svc.Accept(context.Background(), a.a, msg.JobID, agentproto.Accept{LockToken: msg.LockToken}); err != nil {
		t.Fatal(err)
	}
	got := make(chan agentproto.Lease, 1)
	go func() {
		ans, _ := f.svc.Heartbeat(context.Background(), a.a, msg.JobID, msg.LockToken, 10*time.Second)
		got <- ans
	}()
	time.Sleep(50 * time.Millisecond)
	r, err := f.svc.Cancel(context.Background(), proj, run.ID)
	if err != nil || r.Status != StatusCancelling {
		t.Fatalf("Cancel = %s, %v", r.Status, err)
	}
	select {
	case ans := <-got:
		if !ans.Cancel || ans.Reason != "canceled" {
			t.Errorf("heartbeat answer = %+v", ans)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting heartbeat did not return on cancel")
	}
	a.run(msg, job.Canceled)
	if r := f.waitDone(run.ID); r.Result != ResultCanceled {
		t.Errorf("canceled running run: result %s", r.Result)
	}
}

func TestRestart(t *testing.T) {
	f := newFixture(t)
	pl := f.writeYAML(twoJobs)
	finished := f.queue(pl, QueueOptions{})
	a := f.agent("a", 1, nil)
	a.run(a.mustPoll(), job.Succeeded)
	f.waitDone(finished.ID)
	queued := f.queue(pl, QueueOptions{})
	running := f.queue(pl, QueueOptions{})
	msg := a.mustPoll()
	if msg.RunID != queued.ID {
		t.Fatalf("agent got run %d, want %d", msg.RunID, queued.ID)
	}
	if _, err := f.svc.Accept(context.Background(), a.a, msg.JobID, agentproto.Accept{LockToken: msg.LockToken}); err != nil {
		t.Fatal(err)
	}

	f.restart()

	if r, err := f.svc.Run(context.Background(), proj, finished.ID); err != nil || r.Result != ResultSucceeded {
		t.Errorf("finished run after restart = %+v, %v", r, err)
	}
	// The running job's agent carries on with the same lock token.
	if _, err := f.svc.Heartbeat(context.Background(), a.a, msg.JobID, msg.LockToken, 0); err != nil {
		t.Errorf("heartbeat after restart: %v", err)
	}
	a.session = mustSession(t, f, a)
	a.run2(msg)
	if r := f.waitDone(queued.ID); r.Result != ResultSucceeded {
		t.Errorf("resumed running run: result %s", r.Result)
	}
	// The queued run is still queued and runs.
	m2 := a.mustPoll()
	if m2.RunID != running.ID {
		t.Fatalf("after restart the agent got run %d, want %d", m2.RunID, running.ID)
	}
	a.run(m2, job.Succeeded)
	if r := f.waitDone(running.ID); r.Result != ResultSucceeded {
		t.Errorf("queued run after restart: result %s", r.Result)
	}
}

func mustSession(t *testing.T, f *fixture, a *fakeAgent) string {
	t.Helper()
	s, err := f.svc.OpenSession(context.Background(), a.a, agentproto.SessionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return s.SessionID
}

// run2 finishes an accepted job (events from seq 1).
func (fa *fakeAgent) run2(msg *agentproto.JobMessage) {
	fa.f.t.Helper()
	step := &agentproto.Step{Index: 1, DisplayName: "s"}
	ev := agentproto.Events{LockToken: msg.LockToken, Seq: 1, Events: []agentproto.Event{
		{Kind: agentproto.StepStarted, Step: step},
		{Kind: agentproto.StepFinished, Step: step, Report: &job.StepReport{DisplayName: "s", Result: job.Succeeded}},
	}}
	if err := fa.f.svc.JobEvents(context.Background(), fa.a, msg.JobID, ev); err != nil {
		fa.f.t.Fatal(err)
	}
	fa.complete(msg, job.Succeeded, 2)
}

func TestEventBatches(t *testing.T) {
	f := newFixture(t)
	run := f.queue(f.writeYAML(twoJobs), QueueOptions{})
	a := f.agent("a", 1, nil)
	msg := a.mustPoll()
	ctx := context.Background()
	if _, err := f.svc.Accept(ctx, a.a, msg.JobID, agentproto.Accept{LockToken: msg.LockToken}); err != nil {
		t.Fatal(err)
	}
	step := &agentproto.Step{Index: 0, DisplayName: "one"}
	b1 := agentproto.Events{LockToken: msg.LockToken, Seq: 1, Events: []agentproto.Event{
		{Kind: agentproto.StepStarted, Step: step},
		{Kind: agentproto.StepLines, Step: step, Lines: "a\n"},
	}}
	for range 2 { // a resent batch is applied once
		if err := f.svc.JobEvents(ctx, a.a, msg.JobID, b1); err != nil {
			t.Fatal(err)
		}
	}
	b3 := agentproto.Events{LockToken: msg.LockToken, Seq: 3, Events: []agentproto.Event{{Kind: agentproto.StepLines, Step: step, Lines: "c\n"}}}
	if err := f.svc.JobEvents(ctx, a.a, msg.JobID, b3); !fault.Is(err, fault.BadRequest) {
		t.Errorf("out-of-order batch: err = %v", err)
	}
	wrongLock := b1
	wrongLock.LockToken = "nope"
	if err := f.svc.JobEvents(ctx, a.a, msg.JobID, wrongLock); !fault.Is(err, fault.Conflict) {
		t.Errorf("wrong lock token: err = %v", err)
	}
	b2 := agentproto.Events{LockToken: msg.LockToken, Seq: 2, Events: []agentproto.Event{{Kind: agentproto.StepLines, Step: step, Lines: "b\n"}}}
	if err := f.svc.JobEvents(ctx, a.a, msg.JobID, b2); err != nil {
		t.Fatal(err)
	}
	tl, _ := f.svc.Timeline(ctx, proj, run.ID)
	var logID int
	for _, r := range tl.Records {
		if r.Name == "one" {
			logID = r.LogID
		}
	}
	lines, _ := f.svc.LogLines(ctx, proj, run.ID, logID, 0, 0)
	if diff := cmp.Diff([]string{"a", "b"}, lines); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	// Follow sees the next lines as they come, and ends when the job does.
	followed := make(chan []string, 1)
	go func() {
		var got []string
		err := f.svc.FollowLog(ctx, proj, run.ID, logID, 2, func(l []string) error { got = append(got, l...); return nil })
		if err != nil {
			t.Errorf("FollowLog: %v", err)
		}
		followed <- got
	}()
	time.Sleep(50 * time.Millisecond)
	if err := f.svc.JobEvents(ctx, a.a, msg.JobID, agentproto.Events{LockToken: msg.LockToken, Seq: 3, Events: []agentproto.Event{{Kind: agentproto.StepLines, Step: step, Lines: "c\n"}}}); err != nil {
		t.Fatal(err)
	}
	a.complete(msg, job.Succeeded, 4)
	select {
	case got := <-followed:
		if diff := cmp.Diff([]string{"b", "c"}, got); diff != "" {
			t.Errorf("followed lines (-want +got):\n%s", diff)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FollowLog did not end with the job")
	}
	f.waitDone(run.ID)
}

func TestQueueErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, yaml string
		opts       QueueOptions
		want       string
	}{
		{"syntax", "steps:\n- script: [\n", QueueOptions{}, "pipeline is not valid"},
		{"unknown pool", "pool: Nope\nsteps: [ { script: x } ]\n", QueueOptions{}, "Could not find a pool with name Nope"},
		{"override outside preview", twoJobs, QueueOptions{YAMLOverride: "steps: []"}, "preview"},
		{"skip unknown stage", twoJobs, QueueOptions{StagesToSkip: []string{"nope"}}, "stagesToSkip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Queue(context.Background(), proj, f.writeYAML(tt.yaml), tt.opts)
			if !fault.Is(err, fault.BadRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Queue error = %v, want a 400 mentioning %q", err, tt.want)
			}
		})
	}
	pl := f.writeYAML(twoJobs)
	pl.Variables = []DefinitionVariable{{Name: "fixed", Value: "1"}}
	if _, err := f.svc.Queue(context.Background(), proj, pl, QueueOptions{Variables: []job.Variable{{Name: "FIXED", Value: "2"}}}); err == nil || !strings.Contains(err.Error(), "cannot be set at queue time") {
		t.Errorf("overriding a fixed variable: err = %v", err)
	}
	if _, err := f.svc.Run(context.Background(), proj, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Run(999) = %v, want not found", err)
	}
}

func TestPreview(t *testing.T) {
	f := newFixture(t)
	pl := f.writeYAML(`
parameters:
- name: greeting
  default: hi
steps:
- script: echo ${{ parameters.greeting }}
`)
	y, err := f.svc.Preview(context.Background(), proj, pl, QueueOptions{Parameters: map[string]string{"greeting": "hello"}})
	if err != nil || !strings.Contains(y, "echo hello") {
		t.Errorf("Preview = %q, %v", y, err)
	}
	y, err = f.svc.Preview(context.Background(), proj, pl, QueueOptions{YAMLOverride: "steps:\n- script: echo override\n"})
	if err != nil || !strings.Contains(y, "echo override") {
		t.Errorf("Preview with override = %q, %v", y, err)
	}
	if runs, _, _ := f.svc.List(context.Background(), proj, RunFilter{}); len(runs) != 0 {
		t.Errorf("preview created %d runs", len(runs))
	}
}
