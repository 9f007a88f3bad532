package agent

import (
	"fmt"
	"io"
	"sync"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// Step identifies a step of the job being executed, for a Sink.
type Step struct {
	// Index is the step's 0-based position in job.Request.Job.Steps.
	Index int
	// Name is the step's reference name (`name:`, or the one the agent derived from the
	// task name), the prefix of its output variables.
	Name string
	// DisplayName is the macro-expanded display name the log shows.
	DisplayName string
	// Task is the task reference, "CmdLine@2".
	Task string
	// PreJob marks the pre-job run of step Index (a task with a pre-job entry point, such as
	// AzureKeyVault@2); it comes before every main run. Sinks identify a step run by Index
	// and PreJob together.
	PreJob bool
}

// Sink receives one job's log while the job runs: the orchestrator prints it, stores it or
// streams it.
//
// Call order for one Execute: JobLine for job preparation; then for every step in order
// StepStarted, StepLine for each line of its log, StepFinished (a skipped or disabled step
// gets StepStarted and StepFinished with no lines in between, or only the agent's
// "Skipping step" line); then JobLine for job cleanup. Execute returns after the last call.
//
// Calls made for one Execute never overlap, so a Sink used by one job at a time needs no
// locking; a Sink shared by jobs executing concurrently must synchronize itself. Every line
// has already passed the job's secret masker and carries no line terminator. Sink methods
// should return quickly: a slow Sink slows the step whose output it receives.
type Sink interface {
	JobLine(line string)
	StepStarted(step Step)
	StepLine(step Step, line string)
	StepFinished(step Step, report job.StepReport)
}

// Discard is a Sink that drops everything.
var Discard Sink = discard{}

type discard struct{}

func (discard) JobLine(string)                    {}
func (discard) StepStarted(Step)                  {}
func (discard) StepLine(Step, string)             {}
func (discard) StepFinished(Step, job.StepReport) {}

// TextSink writes a job's log as plain text lines to w, each prefixed with Prefix (for
// example "[build] "), the way `keystage run` prints jobs running side by side. It is safe
// for concurrent use by several jobs sharing w.
type TextSink struct {
	W      io.Writer
	Prefix string
	// Mu, when set, serializes writes with other TextSinks sharing W.
	Mu *sync.Mutex
}

func (t *TextSink) write(line string) {
	if t.Mu != nil {
		t.Mu.Lock()
		defer t.Mu.Unlock()
	}
	fmt.Fprintf(t.W, "%s%s\n", t.Prefix, line)
}

// JobLine implements Sink.
func (t *TextSink) JobLine(line string) { t.write(line) }

// StepStarted implements Sink.
func (t *TextSink) StepStarted(Step) {}

// StepLine implements Sink.
func (t *TextSink) StepLine(_ Step, line string) { t.write(line) }

// StepFinished implements Sink; skipped steps get a line so the reader sees them.
func (t *TextSink) StepFinished(s Step, r job.StepReport) {
	if r.Result == job.Skipped {
		t.write(fmt.Sprintf("Skipped: %s", s.DisplayName))
	}
}
