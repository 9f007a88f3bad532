package local

import (
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/run"
)

// Output shows a run as it happens. Run calls Action for every action the State returns, in
// order, from one goroutine; for a StartJob action it first calls Sink, and the returned
// Sink receives that job's log from the job's goroutine, concurrently with other jobs and
// with Action. Implementations synchronize their writes.
type Output interface {
	Action(st *run.State, a run.Action)
	Sink(st *run.State, a run.Action) agent.Sink
}

type discard struct{}

func (discard) Action(*run.State, run.Action)          {}
func (discard) Sink(*run.State, run.Action) agent.Sink { return agent.Discard }

// Text prints a run for people: every job line prefixed with "[Stage/Job] " (just "[Job] "
// in a pipeline without stages), a line when stages and jobs start and end, and a summary
// table when the run ends.
type Text struct {
	w  io.Writer
	mu sync.Mutex
}

// NewText returns a Text output writing to w.
func NewText(w io.Writer) *Text { return &Text{w: w} }

// label is "Stage/Job" for a job ("Job" in the implicit stage), "Stage" for a stage.
func label(stage, job string) string {
	switch {
	case job == "":
		return stage
	case stage == "__default":
		return job
	}
	return stage + "/" + job
}

// prefix is the label in brackets that starts every line about a stage or job.
func prefix(stage, job string) string { return "[" + label(stage, job) + "] " }

func (t *Text) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, format, args...)
}

// Action implements Output.
func (t *Text) Action(st *run.State, a run.Action) {
	why := ""
	if a.Reason != "" {
		why = " (" + a.Reason + ")"
	}
	switch a.Kind {
	case run.RunStarted:
		t.printf("Run %s started\n", a.DisplayName)
	case run.StageStarted:
		if a.Stage != "__default" {
			t.printf("%sStage started\n", prefix(a.Stage, ""))
		}
	case run.StartJob:
		t.printf("%sJob started\n", prefix(a.Stage, a.DisplayName))
	case run.CancelJob:
		if a.Reason == run.ReasonTimeout {
			t.printf("%sCanceling: the job reached its timeout\n", prefix(a.Stage, a.DisplayName))
		} else {
			t.printf("%sCanceling: the run was canceled\n", prefix(a.Stage, a.DisplayName))
		}
	case run.JobCompleted:
		t.printf("%sJob %s%s\n", prefix(a.Stage, a.DisplayName), a.Result, why)
	case run.StageCompleted:
		if a.Stage != "__default" {
			t.printf("%sStage %s%s\n", prefix(a.Stage, ""), a.Result, why)
		}
	case run.RunCompleted:
		t.summary(st, a)
	}
}

// summary prints the result of every job that was selected, as a table.
func (t *Text) summary(st *run.State, a run.Action) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "\nRun %s %s in %s", st.BuildNumber, a.Result, roundDuration(st.FinishTime.Sub(st.StartTime)))
	if a.Reason != "" {
		fmt.Fprintf(t.w, ": %s", a.Reason)
	}
	fmt.Fprintln(t.w)
	tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
	for _, s := range st.Stages {
		if !s.Selected {
			continue
		}
		for _, j := range s.Jobs {
			if !j.Selected {
				continue
			}
			for _, in := range j.Instances {
				d := ""
				if !in.StartTime.IsZero() {
					d = roundDuration(in.FinishTime.Sub(in.StartTime)).String()
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", label(s.Name, in.DisplayName), in.Result, d)
			}
		}
	}
	tw.Flush()
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// Sink implements Output.
func (t *Text) Sink(_ *run.State, a run.Action) agent.Sink {
	return &agent.TextSink{W: t.w, Prefix: prefix(a.Stage, a.DisplayName), Mu: &t.mu}
}
