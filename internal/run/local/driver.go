// Package local drives a run on this machine: it runs the jobs a run.State starts in
// parallel on job executors, feeds their reports back, and turns a cancellation into Azure's
// run cancel.
package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/run"
)

// Executor runs one job instance to its end and reports how it ended; *agent.Executor is
// the real one. Canceling ctx is Azure's job cancellation: the executor stops the running
// step, runs only the steps whose conditions allow it after a cancel (bounded by the job's
// cancelTimeoutInMinutes) and reports Canceled. An Executor runs one job at a time.
type Executor interface {
	Execute(ctx context.Context, req job.Request, sink agent.Sink) job.Report
}

var _ Executor = (*agent.Executor)(nil)

// Config configures a Driver. NewExecutor is required.
type Config struct {
	// NewExecutor returns the executor for execution slot n (1, 2, ...). The driver asks for
	// a new slot only when every executor it has is busy, so there are as many slots as jobs
	// that ever ran at the same time; each slot needs its own work folder.
	NewExecutor func(slot int) (Executor, error)
	// Output shows the run as it happens; nil shows nothing.
	Output Output
	// Now returns the current time; nil means time.Now. Tests pass a fake clock.
	Now func() time.Time
}

// Driver runs States on this machine. A Driver runs one State at a time.
type Driver struct {
	cfg  Config
	idle []Executor
	n    int // slots created
}

// New returns a Driver.
func New(cfg Config) (*Driver, error) {
	if cfg.NewExecutor == nil {
		return nil, errors.New("local: Config.NewExecutor is required")
	}
	if cfg.Output == nil {
		cfg.Output = discard{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Driver{cfg: cfg}, nil
}

// finished is a job's report on its way back to Run.
type finished struct {
	id  string
	rep job.Report
	exe Executor
}

// Run drives st until it completes; st.Result is then the run's result. Jobs run as soon as
// the State starts them, each on an idle executor. Canceling ctx cancels the run with
// Azure's semantics (run.State.Cancel): running jobs are asked to stop and only the stages
// and jobs whose conditions allow it still run; Run keeps going until they have finished.
// Run returns an error only when the State rejects a report, which is a bug.
func (d *Driver) Run(ctx context.Context, st *run.State) error {
	done := make(chan finished)
	cancels := map[string]context.CancelFunc{}
	// Job contexts do not inherit ctx: the State decides which jobs a cancel stops.
	base := context.WithoutCancel(ctx)
	canceled := ctx.Done()
	if ctx.Err() != nil {
		// Canceled before anything started: only what a canceled run allows will run.
		st.Cancel(d.cfg.Now())
		canceled = nil
	}
	for {
		for _, a := range st.Next(d.cfg.Now()) {
			d.cfg.Output.Action(st, a)
			switch a.Kind {
			case run.StartJob:
				jctx, cancel := context.WithCancel(base)
				cancels[a.JobID] = cancel
				d.start(jctx, st, a, done)
			case run.CancelJob:
				if cancel, ok := cancels[a.JobID]; ok {
					cancel()
				}
			}
		}
		if st.Done() {
			return nil
		}
		var deadline <-chan time.Time
		var timer *time.Timer
		if t, ok := st.Deadline(); ok {
			timer = time.NewTimer(t.Sub(d.cfg.Now()))
			deadline = timer.C
		}
		select {
		case f := <-done:
			if f.exe != nil {
				d.idle = append(d.idle, f.exe)
			}
			if cancel, ok := cancels[f.id]; ok {
				cancel()
				delete(cancels, f.id)
			}
			if err := st.JobFinished(f.id, f.rep, d.cfg.Now()); err != nil {
				return fmt.Errorf("local: %w", err)
			}
		case <-canceled:
			canceled = nil
			st.Cancel(d.cfg.Now())
		case <-deadline:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// start runs one job on an idle executor (or a new slot) in its own goroutine.
func (d *Driver) start(ctx context.Context, st *run.State, a run.Action, done chan<- finished) {
	sink := d.cfg.Output.Sink(st, a)
	var exe Executor
	if n := len(d.idle); n > 0 {
		exe, d.idle = d.idle[n-1], d.idle[:n-1]
	} else {
		var err error
		if exe, err = d.cfg.NewExecutor(d.n + 1); err != nil {
			sink.JobLine("##[error]" + fmt.Sprintf("Cannot start an executor for this job: %v", err))
			go func() { done <- finished{id: a.JobID, rep: job.Report{Result: job.Failed, Errors: 1}, exe: nil} }()
			return
		}
		d.n++
	}
	req := *a.Request
	go func() {
		rep := exe.Execute(ctx, req, sink)
		done <- finished{id: a.JobID, rep: rep, exe: exe}
	}()
}
