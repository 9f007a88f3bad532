package run_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
)

func TestCancel(t *testing.T) {
	tests := []struct {
		name     string
		plan     plan.Plan
		cancelAt string // cancel when this instance starts
		script   script
		want     string
		events   []string
		absent   []string
	}{
		{
			name: "jobs and stages follow their conditions after a cancel",
			plan: plan.Plan{
				Variables: vars("branch", "main"),
				Stages: []plan.Stage{
					stage("A", nil,
						pjob("Running"),
						pjob("Next", "Running"),
						withCond(pjob("Cleanup", "Running"), "always()"),
						withCond(pjob("OnCancel", "Running"), "canceled()"),
						withCond(pjob("Branch", "Running"), "eq(variables.branch, 'main')"),
						withCond(pjob("Guarded", "Running"), "and(succeeded(), eq(variables.branch, 'main'))"),
						withCond(pjob("Either", "Running"), "succeededOrFailed()"),
					),
					stage("B", []string{"A"}, pjob("J")),
					stageCond(stage("C", []string{"A"}, pjob("J")), "eq(variables.branch, 'main')"),
					stageCond(stage("D", []string{"A"}, pjob("J")), "always()"),
				},
			},
			cancelAt: "A/Running",
			want: "A=Canceled A/Running=Canceled A/Next=Skipped A/Cleanup=Succeeded A/OnCancel=Succeeded A/Branch=Succeeded " +
				"A/Guarded=Skipped A/Either=Skipped B=Skipped B/J=Skipped C=Succeeded C/J=Succeeded D=Succeeded D/J=Succeeded",
			events: []string{"cancel A/Running canceled", "done A/Running Canceled", "run Canceled"},
			absent: []string{"start A/Next", "start A/Guarded", "start B/"},
		},
		{
			name:     "legs waiting for maxParallel are canceled, running ones asked to stop",
			plan:     plan.Plan{Stages: []plan.Stage{stage("S", nil, matrixJob("M", 1, leg("a"), leg("b"), leg("c")))}},
			cancelAt: "S/M/a",
			want:     "S=Canceled S/M=Canceled",
			events:   []string{"cancel S/M/a canceled", "done S/M/b Canceled", "done S/M/c Canceled", "run Canceled"},
			absent:   []string{"start S/M/b", "start S/M/c"},
		},
		{
			name: "a job that ignores the cancel and succeeds",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stage("B", []string{"A"}, pjob("J")),
			}},
			cancelAt: "A/J",
			script:   script{"A/J": {Result: job.Succeeded}},
			want:     "A=Canceled A/J=Canceled B=Skipped B/J=Skipped",
			events:   []string{"run Canceled"},
		},
		{
			name: "cancel after the last stage started",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stage("B", []string{"A"}, pjob("J"), pjob("K")),
			}},
			cancelAt: "B/K",
			want:     "A=Succeeded A/J=Succeeded B=Canceled B/J=Canceled B/K=Canceled",
			events:   []string{"cancel B/J canceled", "cancel B/K canceled", "run Canceled"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := driver{script: tt.script, onStart: func(key string, st *run.State, now time.Time) {
				if key == tt.cancelAt {
					st.Cancel(now)
				}
			}}
			if tt.script != nil {
				// The scripted job finishes normally despite the cancel.
				d.script = script{}
				for k, v := range tt.script {
					d.script[k] = v
				}
			}
			tr := d.drive(t, mustNew(t, tt.plan, run.Options{}))
			if got := results(tr.state); got != tt.want {
				t.Errorf("results:\n got %s\nwant %s\nevents:\n%s", got, tt.want, strings.Join(tr.events, "\n"))
			}
			tr.has(t, tt.events...)
			tr.lacks(t, tt.absent...)
			if !tr.state.Canceled || tr.state.Result != job.Canceled {
				t.Errorf("run canceled=%v result=%s", tr.state.Canceled, tr.state.Result)
			}
		})
	}
}

func TestCancelIsIdempotent(t *testing.T) {
	st := mustNew(t, plan.Plan{Stages: []plan.Stage{stage("S", nil, pjob("J"))}}, run.Options{})
	acts := st.Next(t0)
	var id string
	for _, a := range acts {
		if a.Kind == run.StartJob {
			id = a.JobID
		}
	}
	st.Cancel(t0)
	st.Cancel(t0.Add(time.Second))
	n := 0
	for _, a := range st.Next(t0) {
		if a.Kind == run.CancelJob {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d CancelJob actions, want 1", n)
	}
	if err := st.JobFinished(id, job.Report{Result: job.Canceled}, t0); err != nil {
		t.Fatal(err)
	}
	st.Next(t0)
	if !st.Done() || st.Result != job.Canceled {
		t.Fatalf("done=%v result=%s", st.Done(), st.Result)
	}
	st.Cancel(t0) // after completion: nothing
	if got := st.Next(t0); len(got) != 0 {
		t.Errorf("Next after completion = %v", got)
	}
}

func TestTimeout(t *testing.T) {
	j := pjob("Slow")
	j.TimeoutInMinutes = 2
	other := pjob("Unlimited")
	other.TimeoutInMinutes = 0
	p := plan.Plan{Stages: []plan.Stage{
		stage("S", nil, j, other),
		stage("T", []string{"S"}, pjob("J")),
	}}
	st := mustNew(t, p, run.Options{})
	ids := map[string]string{}
	for _, a := range st.Next(t0) {
		if a.Kind == run.StartJob {
			ids[a.Job] = a.JobID
		}
	}
	if d, ok := st.Deadline(); !ok || !d.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("Deadline = %v, %v; want %v", d, ok, t0.Add(2*time.Minute))
	}
	if acts := st.Next(t0.Add(119 * time.Second)); len(acts) != 0 {
		t.Fatalf("before the deadline: %v", acts)
	}
	acts := st.Next(t0.Add(2 * time.Minute))
	if len(acts) != 1 || acts[0].Kind != run.CancelJob || acts[0].Reason != run.ReasonTimeout || acts[0].JobID != ids["Slow"] {
		t.Fatalf("at the deadline: %+v", acts)
	}
	if _, ok := st.Deadline(); ok {
		t.Error("Deadline still set after the timeout fired")
	}
	if err := st.JobFinished(ids["Slow"], job.Report{Result: job.Canceled}, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.JobFinished(ids["Unlimited"], job.Report{Result: job.Succeeded}, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	st.Next(t0.Add(3 * time.Minute))
	if got, want := results(st), "S=Failed S/Slow=Canceled S/Unlimited=Succeeded T=Skipped T/J=Skipped"; got != want {
		t.Errorf("results:\n got %s\nwant %s", got, want)
	}
	if st.Result != job.Failed {
		t.Errorf("run result %s, want Failed (a timeout is not a cancel)", st.Result)
	}
	_, _, in := st.Instance(ids["Slow"])
	if !in.TimedOut || !strings.Contains(in.Reason, "ran longer than the maximum time of 2 minutes") {
		t.Errorf("instance timedOut=%v reason=%q", in.TimedOut, in.Reason)
	}
}

func TestJobFinishedErrors(t *testing.T) {
	st := mustNew(t, plan.Plan{Stages: []plan.Stage{stage("S", nil, pjob("J"))}}, run.Options{})
	if err := st.JobFinished("nope", job.Report{}, t0); !errors.Is(err, run.ErrUnknownJob) {
		t.Errorf("unknown id: %v", err)
	}
	var id string
	for _, a := range st.Next(t0) {
		if a.Kind == run.StartJob {
			id = a.JobID
		}
	}
	if err := st.JobFinished(id, job.Report{Result: "Weird"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.JobFinished(id, job.Report{Result: job.Succeeded}, t0); !errors.Is(err, run.ErrNotRunning) {
		t.Errorf("second report: %v", err)
	}
	st.Next(t0)
	if _, _, in := st.Instance(id); in.Result != job.Failed || !strings.Contains(in.Reason, `unknown result "Weird"`) {
		t.Errorf("instance %s %q", in.Result, in.Reason)
	}
}

func TestMaxParallelAcrossTheRun(t *testing.T) {
	p := plan.Plan{Stages: []plan.Stage{
		stage("A", nil, pjob("J1"), pjob("J2"), pjob("J3")),
		stage("B", []string{}, matrixJob("M", 0, leg("x"), leg("y"))),
	}}
	tr := driver{}.drive(t, mustNew(t, p, run.Options{MaxParallel: 2}))
	if tr.maxRunning != 2 {
		t.Errorf("maxRunning = %d, want 2", tr.maxRunning)
	}
	if tr.state.Result != job.Succeeded || len(tr.requests) != 5 {
		t.Errorf("result %s with %d jobs", tr.state.Result, len(tr.requests))
	}
}
