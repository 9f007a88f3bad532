package run_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
)

// t0 is the queue time of every test run.
var t0 = time.Date(2024, 3, 9, 10, 30, 0, 0, time.UTC)

// stage builds a plan stage; deps nil means no dependencies (tests spell Azure's default
// "previous stage" out, as the compiler does).
func stage(name string, deps []string, jobs ...plan.Job) plan.Stage {
	if deps == nil {
		deps = []string{}
	}
	return plan.Stage{Name: name, DependsOn: deps, Jobs: jobs}
}

func pjob(name string, deps ...string) plan.Job {
	if deps == nil {
		deps = []string{}
	}
	return plan.Job{Name: name, DependsOn: deps, TimeoutInMinutes: 60, CancelTimeoutInMinutes: 5,
		Steps: []plan.Step{{Task: plan.Task{Name: "CmdLine", Version: 2}, Inputs: map[string]string{"script": "true"}, Enabled: true}}}
}

func withCond(j plan.Job, cond string) plan.Job { j.Condition = cond; return j }

func stageCond(s plan.Stage, cond string) plan.Stage { s.Condition = cond; return s }

func vars(kv ...string) []plan.Variable {
	var out []plan.Variable
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, plan.Variable{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// outputs builds a report's output variables from "step.var", value pairs.
func outputs(kv ...string) []job.Variable {
	var out []job.Variable
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, job.Variable{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// script maps instance keys ("Stage/Job" or "Stage/Job/leg") to what the fake executor
// reports; instances not in it succeed.
type script map[string]job.Report

// trace is what a scripted drive observed.
type trace struct {
	// events are one line per action: "start S/J", "cancel S/J timeout", "done S/J Result",
	// "stage S Result", "run Result", "stagestart S".
	events []string
	// requests by instance key.
	requests map[string]job.Request
	// maxRunning is the largest number of instances running at once.
	maxRunning int
	state      *run.State
}

func (tr *trace) has(t *testing.T, events ...string) {
	t.Helper()
	for _, e := range events {
		found := false
		for _, got := range tr.events {
			if got == e {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing event %q in:\n%s", e, strings.Join(tr.events, "\n"))
		}
	}
}

func (tr *trace) lacks(t *testing.T, prefixes ...string) {
	t.Helper()
	for _, p := range prefixes {
		for _, got := range tr.events {
			if strings.HasPrefix(got, p) {
				t.Errorf("unexpected event %q in:\n%s", got, strings.Join(tr.events, "\n"))
			}
		}
	}
}

// before checks that event a happened before event b.
func (tr *trace) before(t *testing.T, a, b string) {
	t.Helper()
	ia, ib := -1, -1
	for i, e := range tr.events {
		if e == a && ia < 0 {
			ia = i
		}
		if e == b && ib < 0 {
			ib = i
		}
	}
	if ia < 0 || ib < 0 || ia > ib {
		t.Errorf("want %q before %q in:\n%s", a, b, strings.Join(tr.events, "\n"))
	}
}

// driver runs a State to completion with a scripted executor: started instances run "in
// parallel" and finish one at a time in start order, one second apart.
type driver struct {
	script script
	// onStart is called when an instance starts (key as in script); it may cancel the run.
	onStart func(key string, st *run.State, now time.Time)
	// roundTrip re-encodes the State as JSON after every step.
	roundTrip bool
}

func instanceKey(st *run.State, a run.Action) string {
	_, _, in := st.Instance(a.JobID)
	key := a.Stage + "/" + a.Job
	if in != nil && in.Name != "__default" {
		key += "/" + in.Name
	}
	return key
}

func (d driver) drive(t *testing.T, st *run.State) *trace {
	t.Helper()
	tr := &trace{requests: map[string]job.Request{}}
	now := t0
	var running []string // instance IDs in start order
	keys := map[string]string{}
	for step := 0; ; step++ {
		if step > 10000 {
			t.Fatal("run does not finish")
		}
		for _, a := range st.Next(now) {
			switch a.Kind {
			case run.RunStarted:
				tr.events = append(tr.events, "runstart")
			case run.StageStarted:
				tr.events = append(tr.events, "stagestart "+a.Stage)
			case run.StartJob:
				k := instanceKey(st, a)
				keys[a.JobID] = k
				tr.requests[k] = *a.Request
				tr.events = append(tr.events, "start "+k)
				running = append(running, a.JobID)
				if len(running) > tr.maxRunning {
					tr.maxRunning = len(running)
				}
				if d.onStart != nil {
					d.onStart(k, st, now)
				}
			case run.CancelJob:
				tr.events = append(tr.events, "cancel "+instanceKey(st, a)+" "+a.Reason)
			case run.JobCompleted:
				tr.events = append(tr.events, "done "+instanceKey(st, a)+" "+string(a.Result))
			case run.StageCompleted:
				tr.events = append(tr.events, "stage "+a.Stage+" "+string(a.Result))
			case run.RunCompleted:
				tr.events = append(tr.events, "run "+string(a.Result))
			}
		}
		if d.roundTrip {
			st = roundTrip(t, st)
		}
		if st.Done() {
			if len(running) > 0 {
				t.Fatalf("run completed with instances still running: %v", running)
			}
			if extra := st.Next(now); len(extra) > 0 {
				t.Fatalf("Next after completion returned %v", extra)
			}
			tr.state = st
			return tr
		}
		if len(running) == 0 {
			t.Fatalf("run stalled: nothing running, not done\n%s", strings.Join(tr.events, "\n"))
		}
		id := running[0]
		running = running[1:]
		now = now.Add(time.Second)
		rep, ok := d.script[keys[id]]
		if !ok {
			rep = job.Report{Result: job.Succeeded}
		}
		_, _, in := st.Instance(id)
		if in != nil && in.CancelSent && rep.Result == job.Succeeded {
			rep.Result = job.Canceled // a canceled job ends Canceled unless scripted otherwise
		}
		if err := st.JobFinished(id, rep, now); err != nil {
			t.Fatalf("JobFinished(%s): %v", keys[id], err)
		}
	}
}

func roundTrip(t *testing.T, st *run.State) *run.State {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatalf("marshal state: %v", err)
	}
	var out run.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal state: %v\n%s", err, b)
	}
	return &out
}

func mustNew(t *testing.T, p plan.Plan, opts run.Options) *run.State {
	t.Helper()
	st, err := run.New(p, opts, t0)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return st
}

// lookup returns the effective value of a variable in a request: the last one with the name.
func lookup(req job.Request, name string) (job.Variable, bool) {
	var out job.Variable
	found := false
	for _, v := range req.Variables {
		if strings.EqualFold(v.Name, name) {
			out, found = v, true
		}
	}
	return out, found
}

// results summarizes the final results of every stage and job as "S=R" and "S/J=R".
func results(st *run.State) string {
	var parts []string
	for _, s := range st.Stages {
		parts = append(parts, fmt.Sprintf("%s=%s", s.Name, s.Result))
		for _, j := range s.Jobs {
			parts = append(parts, fmt.Sprintf("%s/%s=%s", s.Name, j.Name, j.Result))
		}
	}
	return strings.Join(parts, " ")
}
