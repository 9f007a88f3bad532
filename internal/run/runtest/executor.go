// Package runtest provides a scripted job executor for testing orchestrators without
// running real steps.
package runtest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// Variables that script a fake job; a matrix leg or any scope can set them.
const (
	// Result is the job's result when it is not canceled (default Succeeded).
	Result = "FAKE_RESULT"
	// Sleep is how long the job runs, as a Go duration ("200ms"); a canceled job stops
	// sleeping and ends Canceled.
	Sleep = "FAKE_SLEEP"
	// Outputs are output variables as "step.var=value" entries separated by ";"; an entry
	// starting with "secret:" is a secret output.
	Outputs = "FAKE_OUTPUTS"
	// IgnoreCancel makes a canceled job keep sleeping and end as if it had not been.
	IgnoreCancel = "FAKE_IGNORE_CANCEL"
)

// Executor is a stand-in for agent.Executor, modeled on Woodpecker's dummy backend: it runs
// no processes and does what each job's FAKE_* variables say. For every step it reports
// StepStarted, one line "<display name>: <script input>" and StepFinished through the sink.
// It is safe for concurrent use, and records what it ran.
type Executor struct {
	mu         sync.Mutex
	running    int
	maxRunning int
	requests   []job.Request
}

// Execute implements the local driver's executor contract.
func (e *Executor) Execute(ctx context.Context, req job.Request, sink agent.Sink) job.Report {
	e.mu.Lock()
	e.requests = append(e.requests, req)
	e.running++
	e.maxRunning = max(e.maxRunning, e.running)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running--
		e.mu.Unlock()
	}()

	get := func(name string) string {
		v, _ := Lookup(req, name)
		return v.Value
	}
	sink.JobLine("fake executor: " + req.JobDisplayName)
	canceled := false
	if d, err := time.ParseDuration(get(Sleep)); err == nil && d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			canceled = get(IgnoreCancel) == ""
		}
	}
	result := job.Result(get(Result))
	if result == "" {
		result = job.Succeeded
	}
	if canceled {
		result = job.Canceled
	}
	rep := job.Report{Result: result}
	for i, st := range req.Job.Steps {
		name := st.Name
		if name == "" {
			name = st.Task.Name
		}
		display := st.DisplayName
		if display == "" {
			display = st.Task.Name
		}
		step := agent.Step{Index: i, Name: name, DisplayName: display, Task: st.Task.Name}
		sink.StepStarted(step)
		sink.StepLine(step, display+": "+st.Inputs["script"])
		sr := job.StepReport{Name: name, DisplayName: display, Result: result}
		sink.StepFinished(step, sr)
		rep.Steps = append(rep.Steps, sr)
	}
	for _, o := range strings.Split(get(Outputs), ";") {
		secret := false
		if rest, ok := strings.CutPrefix(o, "secret:"); ok {
			o, secret = rest, true
		}
		if k, v, ok := strings.Cut(o, "="); ok {
			rep.Outputs = append(rep.Outputs, job.Variable{Name: k, Value: v, Secret: secret})
		}
	}
	return rep
}

// MaxRunning returns the largest number of jobs that ran at the same time.
func (e *Executor) MaxRunning() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxRunning
}

// Requests returns the requests executed so far, in start order.
func (e *Executor) Requests() []job.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]job.Request(nil), e.requests...)
}

// Lookup returns the effective value of a variable in a request: the last entry with that
// name, ignoring case, as an executor resolves them.
func Lookup(req job.Request, name string) (job.Variable, bool) {
	for i := len(req.Variables) - 1; i >= 0; i-- {
		if strings.EqualFold(req.Variables[i].Name, name) {
			return req.Variables[i], true
		}
	}
	return job.Variable{}, false
}
