// Package run owns the run state machine: the order of stages and jobs, their conditions,
// strategy expansion, results, outputs and cancellation, as pure data driven by its callers.
//
// A State is created from a compiled plan with New and driven by three calls, all of which take
// the current time instead of reading a clock:
//
//	st, err := run.New(p, opts, now)
//	for !st.Done() {
//		for _, a := range st.Next(now) { ... }      // start/cancel jobs, report progress
//		st.JobFinished(jobID, report, now)          // whenever an executor returns
//		st.Cancel(now)                              // whenever the user cancels
//	}
//
// The State starts no goroutines, does no I/O and holds no functions, so it round-trips through
// encoding/json: the server persists it between calls and drives it with remote agents, and the
// local runner drives it with goroutines. A State is not safe for concurrent use: callers
// serialize Next, JobFinished and Cancel.
//
// Vocabulary follows Azure Pipelines: a plan job (a YAML `job:`, Azure's "phase") expands into
// one or more job instances (a plain job, one matrix leg, or one `parallel` slice); instances are
// what executors run and are identified by their System.JobId GUID.
package run

import (
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// Status is where a run, stage, job or instance is in its life, with Azure's timeline names.
type Status string

// The statuses, in order.
const (
	Pending    Status = "pending"
	InProgress Status = "inProgress"
	Completed  Status = "completed"
)

// State is the whole runtime state of one run. Its fields are exported so that callers can show
// timelines and persist the state; they must be changed only through State's methods.
type State struct {
	// Plan is the compiled pipeline being run; never modified.
	Plan    plan.Plan `json:"plan"`
	Options Options   `json:"options"`

	Status Status `json:"status"`
	// Result is set when Status is Completed: Succeeded, SucceededWithIssues, Failed or Canceled.
	Result job.Result `json:"result,omitempty"`
	// BuildNumber is the run name (Build.BuildNumber) computed from Plan.Name at New; a job
	// that sets ##vso[build.updatebuildnumber] changes it for the jobs that start later.
	BuildNumber string `json:"buildNumber"`
	// Counters are the values counter(prefix, seed) gave in this run, by prefix: one value
	// per prefix per run, one more than Options.Counters[prefix] or the seed.
	Counters map[string]float64 `json:"counters,omitempty"`
	// Tags are the run tags jobs added with ##vso[build.addbuildtag], in order, once each.
	Tags []string `json:"tags,omitempty"`

	QueueTime  time.Time `json:"queueTime"`
	StartTime  time.Time `json:"startTime,omitzero"`
	FinishTime time.Time `json:"finishTime,omitzero"`

	// Canceled is set by Cancel; CancelTime is when.
	Canceled   bool      `json:"canceled,omitempty"`
	CancelTime time.Time `json:"cancelTime,omitzero"`

	// Variables are the root-scope variables, groups inlined and `$[ ]` values evaluated at
	// run start. Queue-time variables stay in Options.Variables.
	Variables []job.Variable `json:"variables,omitempty"`

	// Reason explains a run that failed before any stage could run (a broken root variable).
	Reason string `json:"reason,omitempty"`

	Stages []*StageState `json:"stages"`

	// Outbox holds actions produced by JobFinished and Cancel until the next Next returns them.
	Outbox []Action `json:"outbox,omitempty"`
}

// StageState is the runtime state of one stage.
type StageState struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	// DependsOn is the effective dependency list: the plan's, minus stages not selected.
	DependsOn []string `json:"dependsOn"`
	// Selected is false for stages left out by Options.Stages/Options.Jobs; they end Skipped.
	Selected bool   `json:"selected"`
	Attempt  int    `json:"attempt"`
	Status   Status `json:"status"`
	// Result is set when Status is Completed.
	Result job.Result `json:"result,omitempty"`
	// Reason says why a stage was skipped or failed before running any job.
	Reason string `json:"reason,omitempty"`
	// Variables are the stage's own variables, `$[ ]` values evaluated at stage start.
	Variables []job.Variable `json:"variables,omitempty"`
	// Canceled is set when the run was canceled while this stage was in progress. The
	// status functions of its jobs' conditions then see a canceled run; a stage that starts
	// after the cancel (its own condition allowed it) runs its jobs normally.
	Canceled bool `json:"canceled,omitempty"`

	StartTime  time.Time `json:"startTime,omitzero"`
	FinishTime time.Time `json:"finishTime,omitzero"`

	Jobs []*JobState `json:"jobs"`
}

// JobState is the runtime state of one plan job (Azure's phase) and its instances.
type JobState struct {
	Name        string     `json:"name"`
	DisplayName string     `json:"displayName"`
	DependsOn   []string   `json:"dependsOn"`
	Selected    bool       `json:"selected"`
	Attempt     int        `json:"attempt"`
	Status      Status     `json:"status"`
	Result      job.Result `json:"result,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	// Variables are the job's own variables, `$[ ]` values evaluated when the job became ready.
	Variables []job.Variable `json:"variables,omitempty"`
	// MaxParallel limits running instances (strategy.maxParallel); 0 means no limit.
	MaxParallel int `json:"maxParallel,omitempty"`

	StartTime  time.Time `json:"startTime,omitzero"`
	FinishTime time.Time `json:"finishTime,omitzero"`

	// Instances are empty until the job is ready and its strategy is expanded. A job skipped
	// before expansion gets one Skipped instance named "__default".
	Instances []*Instance `json:"instances,omitempty"`
}

// Instance is one job instance: what an executor runs.
type Instance struct {
	// ID is the System.JobId GUID; JobFinished takes it.
	ID string `json:"id"`
	// Name is System.JobName: "__default" for a plain job, the matrix leg name, or "JobN" for
	// the N-th `parallel` slice.
	Name string `json:"name"`
	// DisplayName is System.JobDisplayName: the job's display name, followed by the leg name
	// or slice position for strategies ("Build linux", "Test 2").
	DisplayName string `json:"displayName"`
	// Position and Total are System.JobPositionInPhase (1-based) and System.TotalJobsInPhase.
	Position int `json:"position"`
	Total    int `json:"total"`
	// Variables are the matrix leg's variables.
	Variables []job.Variable `json:"variables,omitempty"`

	Status Status     `json:"status"`
	Result job.Result `json:"result,omitempty"`
	Reason string     `json:"reason,omitempty"`

	StartTime  time.Time `json:"startTime,omitzero"`
	FinishTime time.Time `json:"finishTime,omitzero"`
	// CancelSent is set once a CancelJob action has been emitted for this instance.
	CancelSent bool `json:"cancelSent,omitempty"`
	// TimedOut is set when the job ran past its timeoutInMinutes.
	TimedOut bool `json:"timedOut,omitempty"`
	// Report is what the executor returned; nil until then.
	Report *job.Report `json:"report,omitempty"`
}

// Done reports whether the run has completed.
func (s *State) Done() bool { return s.Status == Completed }

// Stage returns the stage named name (case-insensitive), or nil.
func (s *State) Stage(name string) *StageState {
	for _, st := range s.Stages {
		if equalFold(st.Name, name) {
			return st
		}
	}
	return nil
}

// Job returns the job named name in this stage (case-insensitive), or nil.
func (st *StageState) Job(name string) *JobState {
	for _, j := range st.Jobs {
		if equalFold(j.Name, name) {
			return j
		}
	}
	return nil
}

func (s *State) stageIdx(st *StageState) int {
	for i, x := range s.Stages {
		if x == st {
			return i
		}
	}
	panic("run: stage not in state")
}

func (s *State) planStage(st *StageState) *plan.Stage { return &s.Plan.Stages[s.stageIdx(st)] }

func (s *State) planJob(st *StageState, js *JobState) *plan.Job {
	ps := s.planStage(st)
	for i, x := range st.Jobs {
		if x == js {
			return &ps.Jobs[i]
		}
	}
	panic("run: job not in stage")
}

// Instance returns the job instance with System.JobId id and its stage and job, or nils.
func (s *State) Instance(id string) (*StageState, *JobState, *Instance) {
	for _, st := range s.Stages {
		for _, j := range st.Jobs {
			for _, in := range j.Instances {
				if in.ID == id {
					return st, j, in
				}
			}
		}
	}
	return nil, nil, nil
}
