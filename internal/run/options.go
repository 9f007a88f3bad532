package run

import (
	"github.com/keystage/keystage/internal/pipeline/job"
)

// Options describe one run of a plan. They are persisted with the State, so they hold data only.
type Options struct {
	// RunID is Build.BuildId. Job instance GUIDs (System.JobId) derive from it, so runs of the
	// same orchestrator must not share one.
	RunID int64 `json:"runId"`
	// PipelineName is Build.DefinitionName.
	PipelineName string `json:"pipelineName,omitempty"`
	// Revision is the `$(Rev:r)` number for the build number; 0 is treated as 1. Compute the
	// key to count revisions by with RevisionKey.
	Revision int `json:"revision,omitempty"`
	// Reason is Build.Reason; empty means "Manual".
	Reason string `json:"reason,omitempty"`
	// RequestedFor is Build.RequestedFor (the user who queued the run).
	RequestedFor string `json:"requestedFor,omitempty"`
	// TeamProject and CollectionURI are System.TeamProject and System.CollectionUri; empty
	// values are not set.
	TeamProject   string `json:"teamProject,omitempty"`
	CollectionURI string `json:"collectionUri,omitempty"`

	// Variables are queue-time variables (`--var`, `--secret`): they override every variable
	// the pipeline defines. Secret ones have Secret set.
	Variables []job.Variable `json:"variables,omitempty"`
	// Groups resolves `- group: name` references: the variables of each group by name.
	// Referencing a group missing here fails New with an error naming the group.
	Groups map[string][]job.Variable `json:"groups,omitempty"`

	// Repository is the primary (self) repository handed to every job.
	Repository job.Repository `json:"repository"`

	// Stages and Jobs select part of the plan; both empty runs everything. A Jobs entry is
	// "job" (that job in every stage that has it) or "stage.job". Stages that are not selected
	// and contain no selected job are skipped; within a selected stage without a Jobs entry,
	// every job runs. Dependencies on unselected stages or jobs are dropped: default
	// conditions do not wait for or look at them, and their outputs read as empty.
	Stages []string `json:"stages,omitempty"`
	Jobs   []string `json:"jobs,omitempty"`

	// Counters are the last values counter(prefix, seed) gave per prefix in earlier runs of
	// the pipeline; a prefix not here starts at its seed. The values this run gives are in
	// State.Counters, for the orchestrator to keep for the next run.
	Counters map[string]float64 `json:"counters,omitempty"`

	// MaxParallel limits how many job instances run at once across the run; 0 means no limit.
	MaxParallel int `json:"maxParallel,omitempty"`
}
