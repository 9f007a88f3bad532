// Package task owns Keystage's built-in pipeline tasks (CmdLine@2, Bash@3, CopyFiles@2, the
// artifact tasks and the checkout step) and the contract between a task and the job executor.
package task

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// Task is one task implementation, selected by the name and major version of a step
// reference such as `CmdLine@2`.
type Task interface {
	// Definition describes the task as its task.json does. It must return the same value on
	// every call; the executor reads it before every run of the task.
	Definition() *Definition
	// Run executes the task once. A non-nil error fails the step; the executor logs its
	// message as an error line (like task-lib's setResult(Failed, message)). A context error
	// returned after ctx is done is reported as a cancellation or timeout by the executor.
	// Run must not retain env after it returns.
	Run(ctx context.Context, env *Env) error
}

// Definition is the metadata of a task: what the agent's banner prints and the inputs the
// executor resolves before Run.
type Definition struct {
	Name         string // "CmdLine"
	FriendlyName string // "Command line"
	Description  string
	Author       string
	HelpURL      string
	Version      Version
	Inputs       []Input
	// Restrictions apply to logging commands the task's output emits, on top of the step's
	// `target` restrictions (task.json `restrictions`).
	Restrictions *Restrictions
}

// Version is a task version; the major version selects the implementation.
type Version struct {
	Major, Minor, Patch int
}

// String formats v as "2.279.1".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Ref is the step reference of the task, "CmdLine@2".
func (d *Definition) Ref() string { return fmt.Sprintf("%s@%d", d.Name, d.Version.Major) }

// InputType is the task.json type of an input.
type InputType string

// Input types that change how the executor treats a value.
const (
	// FilePath inputs are rooted at the primary repository path; empty means that path.
	FilePath InputType = "filePath"
	String   InputType = "string"
	Boolean  InputType = "boolean"
	// MultiLine inputs hold one item per line (scripts, patterns).
	MultiLine InputType = "multiLine"
	PickList  InputType = "pickList"
	Radio     InputType = "radio"
	Int       InputType = "int"
)

// Input defines one task input.
type Input struct {
	// Name is the canonical name tasks read; Aliases are alternative names a step may use.
	// Both are matched case-insensitively.
	Name    string
	Aliases []string
	Type    InputType
	// Default is used when the step does not set the input; it is macro-expanded like a
	// step-provided value (e.g. "$(Build.ArtifactStagingDirectory)").
	Default  string
	Required bool
}

// Restrictions limit what a task's output may do through logging commands.
type Restrictions struct {
	// CommandsRestricted allows only the logging commands Azure marks as allowed in
	// restricted mode (task.setvariable, task.logissue, task.complete, ...).
	CommandsRestricted bool
	// SettableVariables, when non-nil, lists the only variable name patterns a setvariable
	// or prependpath (as "PATH") may set; an empty non-nil slice forbids all.
	SettableVariables []string
}

// Canonical returns the canonical name of the input a step key names, matching names and
// aliases case-insensitively.
func (d *Definition) Canonical(key string) (string, bool) {
	for _, in := range d.Inputs {
		if strings.EqualFold(in.Name, key) {
			return in.Name, true
		}
		for _, a := range in.Aliases {
			if strings.EqualFold(a, key) {
				return in.Name, true
			}
		}
	}
	return "", false
}

// Env is what a task run gets from the executor. All fields are set by the executor.
type Env struct {
	// Inputs are resolved: aliases mapped to canonical names, defaults applied, macros
	// expanded, values trimmed and filePath inputs rooted.
	Inputs Inputs
	// Environ is the environment for child processes: the agent's environment, exported
	// public variables, the step's `env:` mapping, TF_BUILD=True and the prepended PATH.
	Environ []string
	// WorkingDirectory is System.DefaultWorkingDirectory, the task's current directory.
	WorkingDirectory string
	// Stdout and Stderr carry the task's output. Every line is scanned for logging commands
	// and masked before it is logged; output may be written in any chunking. Writing to them
	// from several goroutines at once is allowed.
	Stdout io.Writer
	Stderr io.Writer
	// Repository is the run's self repository.
	Repository job.Repository
	// RunID is Build.BuildId, the run artifacts belong to.
	RunID int64
	// Artifacts stores the run's artifacts; nil when the executor has no store.
	Artifacts ArtifactStore
	// Host gives access to the executor's services.
	Host Host
	// SigintTimeout and SigtermTimeout are how long a canceled child process gets after
	// SIGINT, then after SIGTERM, before it is killed.
	SigintTimeout  time.Duration
	SigtermTimeout time.Duration
}

// Host is the executor as a task sees it. Implementations are safe for concurrent use.
type Host interface {
	// Variable returns a job variable (secret or not) by case-insensitive name.
	Variable(name string) (string, bool)
	// Error and Warning log an issue line (##[error], ##[warning]) and count it; neither
	// changes the step result. Debug logs a ##[debug] line when System.Debug is true.
	Error(msg string)
	Warning(msg string)
	Debug(msg string)
	// SetVariable sets a variable as ##vso[task.setvariable] does for this step.
	SetVariable(name, value string, secret, output bool) error
	// UploadArtifact publishes localPath (file or directory) into the run's container
	// artifact name, under containerFolder, with the agent's artifact.upload semantics and
	// log lines.
	UploadArtifact(ctx context.Context, name, containerFolder, localPath string) error
	// ProcessStarted records a child process group so the executor can terminate its
	// leftovers when the job ends.
	ProcessStarted(pgid int)
}

// Builtins returns Keystage's built-in tasks, the registry cmd/keystage wires into the
// executor. Each call returns fresh values.
func Builtins() []Task {
	return []Task{
		CmdLine{},
		Bash{},
		CopyFiles{},
		PublishBuildArtifacts{},
		PublishPipelineArtifact{},
		DownloadPipelineArtifact{},
		Checkout{},
		AzureKeyVault{},
	}
}

// logf writes one line of task output, as console.log does in a Node task.
func (e *Env) logf(format string, args ...any) {
	fmt.Fprintf(e.Stdout, format+"\n", args...)
}
