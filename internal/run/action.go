package run

import (
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// ActionKind says what an Action asks for or reports.
type ActionKind string

// The kinds of Action. StartJob and CancelJob ask the driver to do something; the others
// report progress and need no reply.
const (
	// RunStarted is emitted once, by the first Next.
	RunStarted ActionKind = "runStarted"
	// StageStarted: a stage's condition passed and its jobs may start.
	StageStarted ActionKind = "stageStarted"
	// StartJob: run Request on an executor, then call JobFinished with JobID.
	StartJob ActionKind = "startJob"
	// CancelJob: cancel the running instance JobID with Azure's job-cancel semantics (the
	// executor stops the current step and runs only steps whose conditions allow it, within
	// the job's cancelTimeoutInMinutes), then report as usual through JobFinished. Reason is
	// "canceled" (the run was canceled) or "timeout" (the job exceeded timeoutInMinutes).
	CancelJob ActionKind = "cancelJob"
	// JobCompleted: an instance ended: after JobFinished, or without running (Skipped,
	// or Canceled before it started). Result is final (continueOnError applied).
	JobCompleted ActionKind = "jobCompleted"
	// StageCompleted: a stage ended; Result is Skipped when its condition was false.
	StageCompleted ActionKind = "stageCompleted"
	// RunCompleted is emitted once, last; Result is the run's result.
	RunCompleted ActionKind = "runCompleted"
)

// Action is one thing the driver must do or may report, returned by Next in order.
type Action struct {
	Kind ActionKind `json:"kind"`
	Time time.Time  `json:"time"`
	// Stage and Job name the stage and plan job involved, when there is one.
	Stage string `json:"stage,omitempty"`
	Job   string `json:"job,omitempty"`
	// JobID is the instance's System.JobId for StartJob, CancelJob and JobCompleted.
	JobID string `json:"jobId,omitempty"`
	// DisplayName is the stage's or instance's display name.
	DisplayName string `json:"displayName,omitempty"`
	// Request is set for StartJob.
	Request *job.Request `json:"request,omitempty"`
	// Result is set for the *Completed kinds.
	Result job.Result `json:"result,omitempty"`
	// Reason explains a skip, a failure the orchestrator decided (bad condition, bad matrix),
	// or a CancelJob ("canceled" or "timeout").
	Reason string `json:"reason,omitempty"`
}

// Cancel reasons carried by CancelJob actions.
const (
	ReasonCanceled = "canceled"
	ReasonTimeout  = "timeout"
)
