// Package agentproto defines Keystage's agent protocol: the JSON messages a `keystage agent`
// process and the server exchange to register, long-poll for jobs, hold a job's lease, stream
// its log and timeline, upload its artifacts and report its result, and the decoders the
// server runs on every request body.
//
// It is Keystage's own protocol (the Azure Pipelines agent's is not public and not stable),
// served under the organization's distributedtask paths. Both sides import this package; it
// imports nothing of either.
//
// # Call order
//
//	POST   {org}/_apis/distributedtask/pools/{poolId}/agentregistrations   Registration -> Registered
//	POST   {org}/_apis/distributedtask/pools/{poolId}/sessions             SessionRequest -> Session
//	GET    {org}/_apis/distributedtask/pools/{poolId}/sessions/{id}/job?wait=S   -> 200 JobMessage | 204
//	POST   {job}/accept                                                   Accept -> Lease
//	POST   {job}/heartbeat?wait=S                                         -> Lease (carries the cancel)
//	POST   {job}/events                                                   Events (ordered by Seq)
//	POST   {job}/artifacts, PUT {job}/artifacts/{name}/files?path=P       ArtifactPublish, file bytes
//	POST   {job}/complete                                                 Completion
//	DELETE {org}/_apis/distributedtask/pools/{poolId}/sessions/{id}
//
// where {job} is {org}/{projectId}/_apis/distributedtask/hubs/build/plans/{planId}/jobs/{jobId}.
// Every call after registration carries `Authorization: Bearer {Registered.Token}`.
package agentproto

import (
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// MessageType is the type of the only message the server sends through a session.
const MessageType = "PipelineAgentJobRequest"

// HubName is the orchestration hub of pipeline runs (System.HostType).
const HubName = "build"

// Registration registers an agent (or replaces the one of the same name) in a pool.
type Registration struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	OSDescription string `json:"osDescription,omitempty"`
	// SystemCapabilities are the agent's environment variables and Agent.* values;
	// UserCapabilities are the ones given with --capability. Demands match both.
	SystemCapabilities map[string]string `json:"systemCapabilities,omitempty"`
	UserCapabilities   map[string]string `json:"userCapabilities,omitempty"`
}

// Registered answers a Registration.
type Registered struct {
	AgentID  int    `json:"agentId"`
	PoolID   int    `json:"poolId"`
	PoolName string `json:"poolName"`
	Name     string `json:"name"`
	// Token is the agent's credential for every later call; it is valid until the agent is
	// registered again or deleted.
	Token string `json:"token"`
}

// SessionRequest opens a session: the one connection through which an agent receives jobs.
type SessionRequest struct {
	// OwnerName identifies the process (host and pid), for diagnostics.
	OwnerName string `json:"ownerName"`
}

// Session is an open session.
type Session struct {
	SessionID string `json:"sessionId"`
	AgentID   int    `json:"agentId"`
	// PollSeconds is the longest wait the server allows for one job poll.
	PollSeconds int `json:"pollSeconds"`
}

// JobMessage hands a job to an agent. The lease starts when the server sends it: the agent
// must Accept within LeaseSeconds, or the job goes back to the queue.
type JobMessage struct {
	MessageType string `json:"messageType"`
	// RequestID numbers job hand-outs in the organization (TaskAgentJobRequest.requestId).
	RequestID int64 `json:"requestId"`
	// LockToken must accompany every call about this job.
	LockToken string `json:"lockToken"`
	// LeaseSeconds is how long the lease lasts without a heartbeat; HeartbeatSeconds is how
	// often the agent should renew it.
	LeaseSeconds     int `json:"leaseSeconds"`
	HeartbeatSeconds int `json:"heartbeatSeconds"`
	// Identity of the job.
	OrgName    string `json:"orgName"`
	ProjectID  string `json:"projectId"`
	PlanID     string `json:"planId"`
	TimelineID string `json:"timelineId"`
	JobID      string `json:"jobId"`
	RunID      int64  `json:"runId"`
	// Request is the job to execute; its variables hold the server's predefined variables
	// (System.AccessToken as a secret) and its Endpoints the service connections the job may
	// use.
	Request job.Request `json:"request"`
}

// Accept confirms that the agent started the job.
type Accept struct {
	LockToken string `json:"lockToken"`
	AgentName string `json:"agentName,omitempty"`
}

// Lease answers Accept and Heartbeat.
type Lease struct {
	LockedUntil time.Time `json:"lockedUntil"`
	// Cancel asks the agent to cancel the job with Azure's job-cancel semantics; Reason is
	// "canceled" (the run was canceled) or "timeout" (timeoutInMinutes passed).
	Cancel bool   `json:"cancel,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Gone is set when the server no longer knows the job (it ended or its lease expired):
	// the agent must stop it and report nothing more.
	Gone bool `json:"gone,omitempty"`
}

// EventKind says what an Event reports.
type EventKind string

// The kinds of Event, in the order agent.Sink calls them.
const (
	// JobLines: Lines are job-level lines (preparation before the first step, cleanup after
	// the last).
	JobLines EventKind = "jobLines"
	// StepStarted: Step starts.
	StepStarted EventKind = "stepStarted"
	// StepLines: Lines are log lines of Step.
	StepLines EventKind = "stepLines"
	// StepFinished: Step ended with Report.
	StepFinished EventKind = "stepFinished"
)

// Event is one thing that happened in a running job.
type Event struct {
	Kind EventKind `json:"kind"`
	Time time.Time `json:"time"`
	// Step is set for the Step* kinds.
	Step *Step `json:"step,omitempty"`
	// Lines is a log chunk (see FormatChunk) for JobLines and StepLines.
	Lines string `json:"lines,omitempty"`
	// Report is set for StepFinished.
	Report *job.StepReport `json:"report,omitempty"`
}

// Step identifies a step of the job (agent.Step on the wire).
type Step struct {
	Index       int    `json:"index"`
	Name        string `json:"name,omitempty"`
	DisplayName string `json:"displayName"`
	Task        string `json:"task,omitempty"`
	// PreJob marks the pre-job run of step Index; (Index, PreJob) identifies a step run.
	PreJob bool `json:"preJob,omitempty"`
}

// Events is a batch of events. Seq numbers batches of one job from 1 without gaps; the
// server applies a batch once and acknowledges repeats, so the agent may resend a batch
// whose answer it did not get.
type Events struct {
	LockToken string  `json:"lockToken"`
	Seq       int64   `json:"seq"`
	Events    []Event `json:"events"`
}

// ArtifactKind mirrors task.ArtifactKind on the wire.
type ArtifactKind string

// Artifact kinds.
const (
	Container ArtifactKind = "Container"
	Pipeline  ArtifactKind = "Pipeline"
)

// ArtifactPublish starts (or, for a Container artifact, continues) publishing an artifact;
// files follow one PUT each, then the agent calls it again with Done set to record totals.
type ArtifactPublish struct {
	LockToken string       `json:"lockToken"`
	Name      string       `json:"name"`
	Kind      ArtifactKind `json:"kind"`
	Done      bool         `json:"done,omitempty"`
}

// Artifact describes a published artifact.
type Artifact struct {
	ID    int          `json:"id"`
	Name  string       `json:"name"`
	Kind  ArtifactKind `json:"kind"`
	Files int          `json:"files"`
	Size  int64        `json:"size"`
}

// ArtifactFile is one file of an artifact.
type ArtifactFile struct {
	Path string `json:"path"` // slash-separated, relative to the artifact root
	Size int64  `json:"size"`
}

// Completion ends a job: the last events (if any) and the executor's report.
type Completion struct {
	LockToken string     `json:"lockToken"`
	Events    Events     `json:"events"`
	Report    job.Report `json:"report"`
}

// Error is the body of every non-2xx answer of the agent protocol (the Azure DevOps
// WrappedException fields the agent reads).
type Error struct {
	Message  string `json:"message"`
	TypeKey  string `json:"typeKey,omitempty"`
	TypeName string `json:"typeName,omitempty"`
}
