package local

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/run"
)

// Event is one line of the JSON output: a JSON object per line, in the order things
// happened (lines of jobs running side by side interleave).
type Event struct {
	Time time.Time `json:"time"`
	// Event is one of run.started, stage.started, job.started, job.canceling, step.started,
	// log, step.finished, job.finished, stage.finished, run.finished.
	Event string `json:"event"`
	// Run is the run name (Build.BuildNumber) on run events.
	Run   string `json:"run,omitempty"`
	Stage string `json:"stage,omitempty"`
	// Job is the plan job's name; JobID the instance's System.JobId; DisplayName the stage's
	// or instance's display name.
	Job         string `json:"job,omitempty"`
	JobID       string `json:"jobId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	// Step is the step's reference name and StepIndex its position in the job, on step
	// events and on log lines a step wrote; StepDisplayName is what the log shows.
	Step            string `json:"step,omitempty"`
	StepIndex       *int   `json:"stepIndex,omitempty"`
	StepDisplayName string `json:"stepDisplayName,omitempty"`
	// PreJob marks events of a step's pre-job run (a task such as AzureKeyVault@2 with
	// RunAsPreJob); it shares StepIndex with the step's main run.
	PreJob bool   `json:"preJob,omitempty"`
	Task   string `json:"task,omitempty"`
	// Line is a masked log line (log events).
	Line   string     `json:"line,omitempty"`
	Result job.Result `json:"result,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// JSON writes a run as Events, one JSON object per line, for programs.
type JSON struct {
	w   io.Writer
	mu  sync.Mutex
	now func() time.Time
}

// NewJSON returns a JSON output writing to w; now stamps log and step events (nil means
// time.Now).
func NewJSON(w io.Writer, now func() time.Time) *JSON {
	if now == nil {
		now = time.Now
	}
	return &JSON{w: w, now: now}
}

func (j *JSON) emit(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return // Event has no field that can fail to marshal
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Write(append(b, '\n')) //nolint:errcheck // a broken pipe must not stop the run
}

var actionEvents = map[run.ActionKind]string{
	run.RunStarted:     "run.started",
	run.StageStarted:   "stage.started",
	run.StartJob:       "job.started",
	run.CancelJob:      "job.canceling",
	run.JobCompleted:   "job.finished",
	run.StageCompleted: "stage.finished",
	run.RunCompleted:   "run.finished",
}

// Action implements Output.
func (j *JSON) Action(st *run.State, a run.Action) {
	e := Event{Time: a.Time, Event: actionEvents[a.Kind], Stage: a.Stage, Job: a.Job, JobID: a.JobID,
		DisplayName: a.DisplayName, Result: a.Result, Reason: a.Reason}
	if a.Kind == run.RunStarted || a.Kind == run.RunCompleted {
		e.Run, e.DisplayName = st.BuildNumber, ""
	}
	j.emit(e)
}

// Sink implements Output.
func (j *JSON) Sink(_ *run.State, a run.Action) agent.Sink {
	return &jsonSink{out: j, base: Event{Stage: a.Stage, Job: a.Job, JobID: a.JobID, DisplayName: a.DisplayName}}
}

type jsonSink struct {
	out  *JSON
	base Event
}

func (s *jsonSink) event(kind string, step *agent.Step) Event {
	e := s.base
	e.Time, e.Event = s.out.now(), kind
	if step != nil {
		i := step.Index
		e.Step, e.StepIndex, e.StepDisplayName, e.Task, e.PreJob = step.Name, &i, step.DisplayName, step.Task, step.PreJob
	}
	return e
}

func (s *jsonSink) JobLine(line string) {
	e := s.event("log", nil)
	e.Line = line
	s.out.emit(e)
}

func (s *jsonSink) StepStarted(step agent.Step) { s.out.emit(s.event("step.started", &step)) }

func (s *jsonSink) StepLine(step agent.Step, line string) {
	e := s.event("log", &step)
	e.Line = line
	s.out.emit(e)
}

func (s *jsonSink) StepFinished(step agent.Step, r job.StepReport) {
	e := s.event("step.finished", &step)
	e.Result = r.Result
	s.out.emit(e)
}
