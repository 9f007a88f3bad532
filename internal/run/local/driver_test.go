package local_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
	"github.com/keystage/keystage/internal/run/local"
	"github.com/keystage/keystage/internal/run/runtest"
)

func pjob(name string, kv ...string) plan.Job {
	j := plan.Job{Name: name, DependsOn: []string{}, TimeoutInMinutes: 60, CancelTimeoutInMinutes: 5,
		Steps: []plan.Step{{Task: plan.Task{Name: "CmdLine", Version: 2}, DisplayName: "Say hi", Inputs: map[string]string{"script": "echo hi"}, Enabled: true}}}
	for i := 0; i+1 < len(kv); i += 2 {
		j.Variables = append(j.Variables, plan.Variable{Name: kv[i], Value: kv[i+1]})
	}
	return j
}

func newState(t *testing.T, p plan.Plan) *run.State {
	t.Helper()
	st, err := run.New(p, run.Options{RunID: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pool hands out runtest executors and counts the slots asked for.
type pool struct {
	exe   *runtest.Executor
	mu    sync.Mutex
	slots []int
	fail  int // slot that fails to start
}

func (p *pool) newExecutor(slot int) (local.Executor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slots = append(p.slots, slot)
	if slot == p.fail {
		return nil, errors.New("no room for another work folder")
	}
	return p.exe, nil
}

func drive(t *testing.T, ctx context.Context, st *run.State, out local.Output, p *pool) {
	t.Helper()
	d, err := local.New(local.Config{NewExecutor: p.newExecutor, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(ctx, st); err != nil {
		t.Fatal(err)
	}
	if !st.Done() {
		t.Fatal("Run returned before the run completed")
	}
}

func twoStages() plan.Plan {
	build := plan.Stage{Name: "Build", DependsOn: []string{}, Jobs: []plan.Job{
		pjob("A", runtest.Sleep, "150ms"), pjob("B", runtest.Sleep, "150ms", runtest.Outputs, "s.v=hello"),
	}}
	matrix := pjob("T", runtest.Sleep, "10ms")
	matrix.DisplayName = "Test"
	matrix.Strategy = &plan.Strategy{Matrix: []plan.MatrixLeg{{Name: "x"}, {Name: "y", Variables: []plan.Variable{{Name: runtest.Result, Value: "SucceededWithIssues"}}}}}
	matrix.Variables = append(matrix.Variables, plan.Variable{Name: "fromB", Value: "$[ stageDependencies.Build.B.outputs['s.v'] ]"})
	test := plan.Stage{Name: "Test", DependsOn: []string{"Build"}, Jobs: []plan.Job{matrix}}
	return plan.Plan{Stages: []plan.Stage{build, test}}
}

func TestRunText(t *testing.T) {
	var buf bytes.Buffer
	p := &pool{exe: &runtest.Executor{}}
	st := newState(t, twoStages())
	drive(t, context.Background(), st, local.NewText(&buf), p)
	out := buf.String()
	for _, want := range []string{
		"Run ",
		"[Build] Stage started\n",
		"[Build/A] Job started\n",
		"[Build/A] fake executor: A\n",
		"[Build/A] Say hi: echo hi\n",
		"[Build/B] Job Succeeded\n",
		"[Build] Stage Succeeded\n",
		"[Test/Test x] Job Succeeded\n",
		"[Test/Test y] Job SucceededWithIssues\n",
		"[Test] Stage SucceededWithIssues\n",
		" SucceededWithIssues in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, re := range []string{`(?m)^  Build/A +Succeeded +\d+ms$`, `(?m)^  Test/Test y +SucceededWithIssues +\d+ms$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("summary lacks %s:\n%s", re, out)
		}
	}
	if st.Result != job.SucceededWithIssues {
		t.Errorf("result %s", st.Result)
	}
	if got := p.exe.MaxRunning(); got != 2 {
		t.Errorf("max running %d, want 2 (jobs of a stage run in parallel)", got)
	}
	if len(p.slots) != 2 {
		t.Errorf("executor slots %v, want 2: idle executors are reused", p.slots)
	}
	for _, req := range p.exe.Requests() {
		if req.StageName == "Test" {
			if v, _ := runtest.Lookup(req, "fromB"); v.Value != "hello" {
				t.Errorf("%s: fromB = %q, want the output of Build/B", req.JobDisplayName, v.Value)
			}
		}
	}
}

func TestRunJSON(t *testing.T) {
	var buf bytes.Buffer
	st := newState(t, twoStages())
	drive(t, context.Background(), st, local.NewJSON(&buf, nil), &pool{exe: &runtest.Executor{}})
	var events []local.Event
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var e local.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if e.Time.IsZero() {
			t.Errorf("event without time: %s", sc.Text())
		}
		events = append(events, e)
	}
	if len(events) == 0 || events[0].Event != "run.started" || events[len(events)-1].Event != "run.finished" {
		t.Fatalf("events do not start with run.started and end with run.finished: %+v", events)
	}
	if last := events[len(events)-1]; last.Result != job.SucceededWithIssues || last.Run != st.BuildNumber {
		t.Errorf("run.finished = %+v", last)
	}
	// For each job instance: job.started, step.started, log, step.finished, job.finished.
	order := map[string][]string{}
	for _, e := range events {
		if e.JobID != "" {
			order[e.JobID] = append(order[e.JobID], e.Event)
		}
		if e.Event == "log" && e.Step != "" && (e.StepIndex == nil || *e.StepIndex != 0 || e.StepDisplayName != "Say hi") {
			t.Errorf("step log line without its step: %+v", e)
		}
	}
	if len(order) != 4 {
		t.Errorf("%d job instances in events, want 4", len(order))
	}
	want := "job.started log step.started log step.finished job.finished"
	for id, seq := range order {
		if got := strings.Join(seq, " "); got != want {
			t.Errorf("job %s events %q, want %q", id, got, want)
		}
	}
}

func TestRunCancel(t *testing.T) {
	cleanup := pjob("Cleanup")
	cleanup.DependsOn, cleanup.Condition = []string{"Slow"}, "always()"
	next := pjob("Next")
	next.DependsOn = []string{"Slow"}
	p := plan.Plan{Stages: []plan.Stage{{Name: "S", DependsOn: []string{}, Jobs: []plan.Job{
		pjob("Slow", runtest.Sleep, "1m"), next, cleanup,
	}}}}
	st := newState(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	var buf bytes.Buffer
	start := time.Now()
	drive(t, ctx, st, local.NewText(&buf), &pool{exe: &runtest.Executor{}})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %s", d)
	}
	if st.Result != job.Canceled {
		t.Errorf("result %s, want Canceled", st.Result)
	}
	for _, want := range []string{"[S/Slow] Canceling: the run was canceled", "[S/Slow] Job Canceled", "[S/Next] Job Skipped (the run was canceled)", "[S/Cleanup] Job Succeeded"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestExecutorStartFailure(t *testing.T) {
	p := &pool{exe: &runtest.Executor{}, fail: 2}
	st := newState(t, plan.Plan{Stages: []plan.Stage{{Name: "S", DependsOn: []string{}, Jobs: []plan.Job{
		pjob("A", runtest.Sleep, "50ms"), pjob("B", runtest.Sleep, "50ms"),
	}}}})
	var buf bytes.Buffer
	drive(t, context.Background(), st, local.NewText(&buf), p)
	if st.Result != job.Failed {
		t.Errorf("result %s, want Failed", st.Result)
	}
	if !strings.Contains(buf.String(), "[S/B] ##[error]Cannot start an executor for this job: no room for another work folder") {
		t.Errorf("output:\n%s", buf.String())
	}
}

func TestNewRequiresAnExecutor(t *testing.T) {
	if _, err := local.New(local.Config{}); err == nil {
		t.Error("New without NewExecutor succeeded")
	}
}

func TestRunCanceledBeforeStart(t *testing.T) {
	// As in Azure, a run canceled while queued skips every stage whose condition does not
	// allow a canceled run; a stage whose condition does runs its jobs normally.
	st := newState(t, plan.Plan{Stages: []plan.Stage{
		{Name: "S", DependsOn: []string{}, Jobs: []plan.Job{pjob("A")}},
		{Name: "Cleanup", DependsOn: []string{"S"}, Condition: "always()", Jobs: []plan.Job{pjob("Always")}},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &pool{exe: &runtest.Executor{}}
	drive(t, ctx, st, local.NewText(io.Discard), p)
	if st.Result != job.Canceled {
		t.Errorf("result %s, want Canceled", st.Result)
	}
	var ran []string
	for _, req := range p.exe.Requests() {
		ran = append(ran, req.JobName)
	}
	if strings.Join(ran, ",") != "Always" {
		t.Errorf("ran %v, want only the always() job", ran)
	}
}
