// Package plan holds the compiled form of a pipeline: stages, jobs, steps and variables as plain,
// JSON-serializable data that the local runner and the server both execute.
//
// A Plan is produced by the compiler (parse -> expand templates -> plan) without I/O or clock
// reads, and is never mutated by executors: runtime state (results, outputs, timings) lives
// elsewhere. Everything runtime-dependent is kept as text to be evaluated later: conditions,
// `$[ ]` variable values, `$( )` macros inside inputs, and matrix expressions.
package plan

import "fmt"

// Plan is a compiled pipeline.
type Plan struct {
	// Name is the run-name format from the root `name:` key; empty means Azure's default
	// `$(Date:yyyyMMdd)$(Rev:.r)`.
	Name string `json:"name,omitempty"`
	// Parameters are the resolved runtime (top-level) parameters, for display and for
	// `${{ parameters.x }}` already substituted by the compiler.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Variables are root-scope variables in declaration order.
	Variables []Variable `json:"variables,omitempty"`
	// Pool is the root pool, already inherited into stages and jobs that set none.
	Pool *Pool `json:"pool,omitempty"`
	// Stages are in file order. A file with only `jobs:` or `steps:` compiles to one implicit
	// stage named "__default" (and, for `steps:`, one implicit job named "Job").
	Stages []Stage `json:"stages"`
	// Trigger and PR are kept for the server; local runs ignore them. Nil means the file
	// has no such key (Azure's default: CI on every branch, PR on every branch).
	Trigger *Trigger `json:"trigger,omitempty"`
	PR      *Trigger `json:"pr,omitempty"`
	// Schedules are the `schedules:` cron triggers, kept for the server.
	Schedules []Schedule `json:"schedules,omitempty"`
	// AppendCommitMessageToRunName is the root key of that name; nil means Azure's
	// default (true).
	AppendCommitMessageToRunName *bool `json:"appendCommitMessageToRunName,omitempty"`
	// Repositories declared under resources.repositories (alias -> repository); "self" is implicit.
	Repositories []Repository `json:"repositories,omitempty"`
}

// Stage is one stage of a plan.
type Stage struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// DependsOn lists stage names. The compiler fills Azure's default (the previous stage in
	// file order) when the file says nothing; an explicit `dependsOn: []` gives an empty,
	// non-nil slice.
	DependsOn []string `json:"dependsOn"`
	// Condition is an expression text; empty means the default `succeeded()`.
	Condition string     `json:"condition,omitempty"`
	Variables []Variable `json:"variables,omitempty"`
	Pool      *Pool      `json:"pool,omitempty"`
	Jobs      []Job      `json:"jobs"`
	Pos       Pos        `json:"pos"`
}

// Job is one job of a stage, before strategy (matrix/parallel) expansion: the runner
// expands legs, because a matrix may be a runtime expression.
type Job struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// DependsOn lists job names in the same stage; jobs have no implicit dependency.
	DependsOn []string `json:"dependsOn"`
	// Condition is an expression text; empty means the default `succeeded()`.
	Condition       string `json:"condition,omitempty"`
	ContinueOnError bool   `json:"continueOnError,omitempty"`
	// TimeoutInMinutes is 60 when the file says nothing; 0 means no limit.
	TimeoutInMinutes int `json:"timeoutInMinutes"`
	// CancelTimeoutInMinutes is 5 when the file says nothing.
	CancelTimeoutInMinutes int        `json:"cancelTimeoutInMinutes"`
	Variables              []Variable `json:"variables,omitempty"`
	Strategy               *Strategy  `json:"strategy,omitempty"`
	Pool                   *Pool      `json:"pool,omitempty"`
	Workspace              *Workspace `json:"workspace,omitempty"`
	Steps                  []Step     `json:"steps"`
	Pos                    Pos        `json:"pos"`
}

// Strategy is a job's matrix or parallel strategy. At most one of Matrix, MatrixExpr and
// Parallel is set.
type Strategy struct {
	// Matrix legs in file order; each leg's variables become job variables of that leg.
	Matrix []MatrixLeg `json:"matrix,omitempty"`
	// MatrixExpr is a runtime expression (`$[ ... ]` text) producing a JSON object of legs.
	MatrixExpr  string `json:"matrixExpr,omitempty"`
	MaxParallel int    `json:"maxParallel,omitempty"`
	// Parallel is the number of identical copies (`strategy.parallel`).
	Parallel int `json:"parallel,omitempty"`
}

// MatrixLeg is one named leg of a matrix.
type MatrixLeg struct {
	Name      string     `json:"name"`
	Variables []Variable `json:"variables"`
}

// Step is one step. Every step shortcut is normalized to a task reference: `script:` is
// CmdLine@2, `bash:` is Bash@3 (targetType inline), `pwsh:`/`powershell:` are PowerShell@2,
// `publish:` is PublishPipelineArtifact@1, `download:` is DownloadPipelineArtifact@2, and
// `checkout:` is the built-in task "Checkout@1" with its properties as inputs.
type Step struct {
	// Name is the step reference name (`name:`), used for output variables; empty if unset.
	Name        string `json:"name,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Task        Task   `json:"task"`
	// Inputs as written (after template expansion), keyed by the name used in the file.
	// Alias resolution and defaults belong to the task registry at run time.
	Inputs map[string]string `json:"inputs,omitempty"`
	// Condition is an expression text; empty means the default `succeeded()`.
	Condition       string            `json:"condition,omitempty"`
	ContinueOnError bool              `json:"continueOnError,omitempty"`
	Enabled         bool              `json:"enabled"`
	Env             map[string]string `json:"env,omitempty"`
	// TimeoutInMinutes is 0 when unset (bounded only by the job timeout).
	TimeoutInMinutes        int     `json:"timeoutInMinutes,omitempty"`
	RetryCountOnTaskFailure int     `json:"retryCountOnTaskFailure,omitempty"`
	Target                  *Target `json:"target,omitempty"`
	Pos                     Pos     `json:"pos"`
}

// Task names a task and its major version, as in `CmdLine@2`. Name keeps the file's
// spelling; task names are matched case-insensitively.
type Task struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// Target restricts what a step may do (`target: {commands, settableVariables}`).
type Target struct {
	// Commands is "any" (default) or "restricted".
	Commands string `json:"commands,omitempty"`
	// SettableVariables is nil when unrestricted; an empty non-nil slice forbids all.
	SettableVariables []string `json:"settableVariables"`
}

// Variable is one variable definition at some scope. Values may hold `$(macros)` that are
// expanded recursively at job start, or be a whole `$[ expr ]` runtime expression.
type Variable struct {
	Name     string `json:"name,omitempty"`
	Value    string `json:"value,omitempty"`
	ReadOnly bool   `json:"readonly,omitempty"`
	// Group names a variable group (`- group: name`); Name and Value are then empty.
	Group string `json:"group,omitempty"`
}

// Pool is a pool reference. Demands are "capability" or "capability -equals value".
type Pool struct {
	Name    string   `json:"name,omitempty"`
	VMImage string   `json:"vmImage,omitempty"`
	Demands []string `json:"demands,omitempty"`
}

// Workspace is a job's `workspace:` setting; Clean is "", "outputs", "resources" or "all".
type Workspace struct {
	Clean string `json:"clean,omitempty"`
}

// Trigger is a CI or PR trigger. None is true for `trigger: none`.
type Trigger struct {
	None     bool   `json:"none,omitempty"`
	Batch    bool   `json:"batch,omitempty"`
	Branches Filter `json:"branches,omitempty"`
	Paths    Filter `json:"paths,omitempty"`
	Tags     Filter `json:"tags,omitempty"`
	Drafts   *bool  `json:"drafts,omitempty"`
	// AutoCancel is a PR trigger's `autoCancel`; nil means Azure's default (true).
	AutoCancel *bool `json:"autoCancel,omitempty"`
}

// Schedule is one `schedules:` entry. Branches follow the trigger filter rules.
type Schedule struct {
	// Cron is the five-field cron expression, in UTC.
	Cron        string `json:"cron"`
	DisplayName string `json:"displayName,omitempty"`
	Branches    Filter `json:"branches,omitempty"`
	Batch       bool   `json:"batch,omitempty"`
	Always      bool   `json:"always,omitempty"`
}

// Filter is an include/exclude pattern list.
type Filter struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Repository is a repository resource.
type Repository struct {
	Alias string `json:"alias"`
	Type  string `json:"type,omitempty"`
	Name  string `json:"name,omitempty"`
	Ref   string `json:"ref,omitempty"`
	// Endpoint is the service connection name, if any.
	Endpoint string `json:"endpoint,omitempty"`
}

// Pos is a source position: file (as given to the compiler), 1-based line and column.
type Pos struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// String formats p as file:line:col, the form every diagnostic uses.
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}
