// Package job defines the contract between an orchestrator (the local runner or the server)
// and a job executor (the agent): what one job run needs, and what it reports back.
//
// A Request describes one job instance: a plain job, one matrix leg, or one slice of a
// `parallel` strategy. The orchestrator has already evaluated everything that needs the run's
// state (conditions of the job itself, `$[ ]` job variables that read dependencies), so an
// executor needs nothing but the Request. Both types are JSON-serializable: the server sends
// Requests to agents over HTTP.
package job

import "github.com/keystage/keystage/internal/pipeline/plan"

// Result is the outcome of a step, job, stage or run, with Azure's names.
type Result string

// The results a step, job, stage or run can end with.
const (
	Succeeded           Result = "Succeeded"
	SucceededWithIssues Result = "SucceededWithIssues"
	Failed              Result = "Failed"
	Canceled            Result = "Canceled"
	Skipped             Result = "Skipped"
)

// Variable is a resolved variable handed to an executor.
type Variable struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Secret   bool   `json:"secret,omitempty"`
	ReadOnly bool   `json:"readonly,omitempty"`
}

// Request is one job instance to execute.
type Request struct {
	// Identity of the run and the job instance (predefined variables derive from these).
	RunID            int64  `json:"runId"`   // Build.BuildId
	RunName          string `json:"runName"` // Build.BuildNumber
	PipelineName     string `json:"pipelineName,omitempty"`
	StageName        string `json:"stageName"`
	StageDisplayName string `json:"stageDisplayName,omitempty"`
	StageAttempt     int    `json:"stageAttempt"`
	// JobName is the job's identifier; for a matrix leg it is "{job}_{leg}" or as the
	// orchestrator names legs; JobDisplayName is what logs show ("Build linux").
	JobName        string `json:"jobName"`
	JobDisplayName string `json:"jobDisplayName,omitempty"`
	JobAttempt     int    `json:"jobAttempt"`
	// JobID is a GUID, System.JobId.
	JobID              string `json:"jobId"`
	JobPositionInPhase int    `json:"jobPositionInPhase,omitempty"`
	TotalJobsInPhase   int    `json:"totalJobsInPhase,omitempty"`
	// PhaseName and PhaseDisplayName name the plan job the instance belongs to
	// (System.PhaseName, System.PhaseDisplayName: "Build"), where JobName and JobDisplayName
	// name the instance ("Build_linux", "Build linux"). InstanceName is System.JobName:
	// "__default" for a job without strategy, the matrix leg name ("linux"), or "Job1",
	// "Job2", ... for `parallel` slices; System.JobIdentifier is
	// "{StageName}.{PhaseName}.{InstanceName}" ("{PhaseName}.{InstanceName}" in the implicit
	// stage "__default"). Empty values mean JobName, JobDisplayName and "__default".
	PhaseName        string `json:"phaseName,omitempty"`
	PhaseDisplayName string `json:"phaseDisplayName,omitempty"`
	InstanceName     string `json:"instanceName,omitempty"`

	// Job is the compiled job: steps, timeouts, workspace settings.
	Job plan.Job `json:"job"`

	// Variables are the job's variables in increasing precedence (root, stage, job, matrix
	// leg, queue-time, then orchestrator-provided system variables); later entries override
	// earlier ones with the same case-insensitive name. Values may still hold `$(macros)`;
	// the executor expands them recursively at job start. `$[ ]` values are already evaluated.
	Variables []Variable `json:"variables"`

	// Repository is the primary (self) repository to check out.
	Repository Repository `json:"repository"`

	// Endpoints are the service connections the job's steps may use, authorized for this
	// run by the orchestrator. Local runs have none.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Endpoint is a service connection as a job sees it (Azure's ServiceEndpoint in a job
// message). It holds no secret: the server keeps a service principal's key and gives the
// job a token endpoint instead (see docs/service-connections.md).
type Endpoint struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Type is the connection type, e.g. "AzureRM" (matched case-insensitively).
	Type string `json:"type"`
	URL  string `json:"url,omitempty"`
	// Scheme is the authorization scheme: "WorkloadIdentityFederation",
	// "ManagedServiceIdentity" or "ServicePrincipal" for AzureRM.
	Scheme string `json:"scheme"`
	// Parameters are authorization parameters (tenantid, serviceprincipalid, ...).
	Parameters map[string]string `json:"parameters,omitempty"`
	// Data is the connection's data map (subscriptionId, environment, scopeLevel, ...).
	Data map[string]string `json:"data,omitempty"`
}

// Repository describes the `self` repository of a run.
type Repository struct {
	Name     string `json:"name,omitempty"`
	URI      string `json:"uri,omitempty"`      // clone URL, or a local path for local runs
	Provider string `json:"provider,omitempty"` // e.g. "Git", "TfsGit"
	Branch   string `json:"branch,omitempty"`   // refs/heads/main
	Commit   string `json:"commit,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Report is what an executor returns when a job instance ends.
type Report struct {
	Result Result `json:"result"`
	// Outputs are output variables set with isOutput=true, keyed "{stepName}.{variable}".
	Outputs []Variable `json:"outputs,omitempty"`
	// Steps summarizes each step in order (for timelines and run summaries).
	Steps []StepReport `json:"steps,omitempty"`
	// Issues counts errors and warnings logged by the job.
	Errors   int `json:"errors,omitempty"`
	Warnings int `json:"warnings,omitempty"`
	// BuildNumber is the run name a step set with ##vso[build.updatebuildnumber]; empty
	// when no step changed it. The orchestrator applies it to the run.
	BuildNumber string `json:"buildNumber,omitempty"`
	// Tags are the run tags steps added with ##vso[build.addbuildtag], in order, without
	// duplicates.
	Tags []string `json:"tags,omitempty"`
	// Attachments are files steps attached with ##vso[task.uploadfile] (the agent does not
	// support task.addattachment, task.uploadsummary or build.uploadlog). The executor has
	// copied each into its work folder, so Path outlives the job's temp files.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a file a step attached to the run's timeline.
type Attachment struct {
	// Type is the attachment type, Azure's "DistributedTask.Core.FileAttachment" for
	// task.uploadfile.
	Type string `json:"type"`
	// Name is the attachment name: the file name.
	Name string `json:"name"`
	// Path is the copy on the executor's machine.
	Path string `json:"path"`
	// Step is the display name of the step that attached it.
	Step string `json:"step,omitempty"`
}

// StepReport is the outcome of one step.
type StepReport struct {
	Name        string `json:"name,omitempty"`
	DisplayName string `json:"displayName"`
	Result      Result `json:"result"`
	// Errors and Warnings count the issues the step logged.
	Errors   int `json:"errors,omitempty"`
	Warnings int `json:"warnings,omitempty"`
}
