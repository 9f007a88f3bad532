package orchestrator

import (
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/run"
)

// Project identifies the project a run belongs to and its organization.
type Project struct {
	OrgID   string `json:"orgId"`
	OrgName string `json:"orgName"`
	ID      string `json:"id"`
	Name    string `json:"name"`
}

// IdentityRef is who queued or requested a run.
type IdentityRef struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	UniqueName  string `json:"uniqueName,omitempty"`
}

// Repository kinds of a Pipeline's source.
const (
	// RepositoryGit is fetched with `git clone` at the run's branch.
	RepositoryGit = "git"
	// RepositoryLocal is a directory on the server's machine, read as it is; agents on the
	// same machine check it out by copying it.
	RepositoryLocal = "local"
)

// Pipeline is what a run needs of its definition: identity, sources and defaults. The
// transport builds it from the DevOps domain's definition.
type Pipeline struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Folder   string `json:"folder,omitempty"` // "\" or "\a\b"
	Revision int    `json:"revision"`
	// Repository is where the YAML file and the sources come from.
	Repository PipelineRepository `json:"repository"`
	// YAMLPath is the pipeline file in the repository; empty for classic pipelines.
	YAMLPath string `json:"yamlPath,omitempty"`
	// Classic, when set, is the classic pipeline's jobs (compiled like YAML).
	Classic *devops.ClassicProcess `json:"classic,omitempty"`
	// QueueID is the queue jobs without a pool run in; 0 means the hosted pool's.
	QueueID int `json:"queueId,omitempty"`
	// Variables are the definition's variables.
	Variables []DefinitionVariable `json:"variables,omitempty"`
}

// PipelineRepository is a pipeline's self repository.
type PipelineRepository struct {
	Kind string `json:"kind"` // RepositoryGit or RepositoryLocal
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// Location is the Git URL or the local directory.
	Location string `json:"location"`
	// DefaultBranch is a full ref, refs/heads/main.
	DefaultBranch string `json:"defaultBranch,omitempty"`
}

// DefinitionVariable is a variable of the definition (the pipeline's settings, not YAML).
type DefinitionVariable struct {
	Name          string `json:"name"`
	Value         string `json:"value"`
	Secret        bool   `json:"secret,omitempty"`
	AllowOverride bool   `json:"allowOverride,omitempty"`
}

// QueueOptions describe one run to queue.
type QueueOptions struct {
	// Branch is the branch to run (refs/heads/x, or x); empty means the repository's
	// default branch.
	Branch string
	// Commit pins a commit; empty means the branch's head.
	Commit string
	// Variables are queue-time variables; they override every variable the pipeline
	// defines. A definition variable may be set only when it allows override.
	Variables []job.Variable
	// Parameters are runtime (template) parameter values as text.
	Parameters map[string]string
	// StagesToSkip names stages not to run.
	StagesToSkip []string
	// Reason is Build.Reason ("manual" when empty).
	Reason       string
	RequestedBy  IdentityRef
	RequestedFor IdentityRef
	// YAMLOverride replaces the pipeline file's content (Preview only).
	YAMLOverride string
}

// Build statuses (Build.status), as the Build API spells them.
const (
	StatusNotStarted = "notStarted"
	StatusInProgress = "inProgress"
	StatusCancelling = "cancelling"
	StatusCompleted  = "completed"
)

// Build results (Build.result).
const (
	ResultNone               = "none"
	ResultSucceeded          = "succeeded"
	ResultPartiallySucceeded = "partiallySucceeded"
	ResultFailed             = "failed"
	ResultCanceled           = "canceled"
)

// Run is a pipeline run with the fields of Azure's Build: what run lists and the Build and
// Pipelines APIs show. It is stored apart from the run's state.
type Run struct {
	ID          int64   `json:"id"`
	BuildNumber string  `json:"buildNumber"`
	Project     Project `json:"project"`
	// Pipeline is the definition as it was when the run was queued.
	Pipeline PipelineRef `json:"pipeline"`
	Status   string      `json:"status"`
	Result   string      `json:"result"`
	// PlanID is the orchestration plan (System.PlanId) and the timeline id.
	PlanID     string    `json:"planId"`
	QueueTime  time.Time `json:"queueTime"`
	StartTime  time.Time `json:"startTime,omitzero"`
	FinishTime time.Time `json:"finishTime,omitzero"`
	// SourceBranch is a full ref; SourceVersion the commit (when known).
	SourceBranch  string `json:"sourceBranch"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Repository is the self repository.
	Repository PipelineRepository `json:"repository"`
	Reason     string             `json:"reason"`
	// Parameters are the queue-time variables, secret values left out (Build.parameters).
	Parameters map[string]string `json:"parameters,omitempty"`
	// SecretParameters names queue-time variables that are secret.
	SecretParameters []string `json:"secretParameters,omitempty"`
	// TemplateParameters are the runtime parameters as queued.
	TemplateParameters map[string]string `json:"templateParameters,omitempty"`
	RequestedBy        IdentityRef       `json:"requestedBy"`
	RequestedFor       IdentityRef       `json:"requestedFor"`
	Tags               []string          `json:"tags,omitempty"`
	// Queue is the default queue of the run (the definition's).
	Queue QueueRef `json:"queue"`
	// Issues are run-level errors (validation results): why a run failed before or
	// outside its jobs.
	Issues []Issue `json:"issues,omitempty"`
	// FinalYAML is the expanded pipeline (YAML pipelines).
	FinalYAML string `json:"finalYaml,omitempty"`
	// LastChanged is when the run's record or timeline last changed.
	LastChanged time.Time `json:"lastChanged"`
}

// PipelineRef is a definition as a run remembers it.
type PipelineRef struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Folder   string `json:"folder,omitempty"`
	Revision int    `json:"revision"`
}

// QueueRef is an agent queue and its pool.
type QueueRef struct {
	ID       int    `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	PoolID   int    `json:"poolId,omitempty"`
	PoolName string `json:"poolName,omitempty"`
}

// Issue is an error or warning shown on a timeline record or run.
type Issue struct {
	Type    string `json:"type"` // "error" or "warning"
	Message string `json:"message"`
}

// Done reports whether the run has completed.
func (r *Run) Done() bool { return r.Status == StatusCompleted }

// buildResult maps a run result to the Build API's.
func buildResult(r job.Result) string {
	switch r {
	case job.Succeeded:
		return ResultSucceeded
	case job.SucceededWithIssues:
		return ResultPartiallySucceeded
	case job.Failed:
		return ResultFailed
	case job.Canceled:
		return ResultCanceled
	}
	return ResultNone
}

// syncRun copies what the state knows into the run record.
func syncRun(r *Run, st *run.State, canceling bool) {
	r.BuildNumber = st.BuildNumber
	r.Tags = append([]string(nil), st.Tags...)
	r.StartTime = st.StartTime
	switch {
	case st.Status == run.Completed:
		r.Status = StatusCompleted
		r.Result = buildResult(st.Result)
		r.FinishTime = st.FinishTime
	case canceling || st.Canceled:
		r.Status = StatusCancelling
	case st.Status == run.InProgress:
		r.Status = StatusInProgress
	default:
		r.Status = StatusNotStarted
	}
}

// NormalizeBranch returns a full ref for a branch name: "main" -> "refs/heads/main"; full
// refs (refs/...) are kept.
func NormalizeBranch(b string) string {
	b = strings.TrimSpace(b)
	if b == "" || strings.HasPrefix(b, "refs/") {
		return b
	}
	return "refs/heads/" + b
}
