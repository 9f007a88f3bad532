package orchestrator

import (
	"context"

	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// Pools is what the orchestrator needs of the DevOps domain's agent pools, queues and
// agents. Implementations are safe for concurrent use.
type Pools interface {
	// ResolvePool returns the queue (and its pool) a job of project p runs in: the queue
	// of ref.QueueID, or of the pool named ref.Name, or of the pool ref.VMImage maps to.
	// Unknown or unauthorized pools are *fault.Error values with a message for the user.
	ResolvePool(ctx context.Context, p Project, ref PoolRef) (QueueRef, error)
	// Agents lists the agents registered in a pool.
	Agents(ctx context.Context, orgID string, poolID int) ([]AgentInfo, error)
	// Agent returns one agent of a pool.
	Agent(ctx context.Context, orgID string, poolID, agentID int) (AgentInfo, error)
	// RegisterAgent adds the agent to the pool, or replaces the one of the same name.
	RegisterAgent(ctx context.Context, orgID string, poolID int, reg agentproto.Registration) (AgentInfo, error)
	// SetAgentStatus records an agent going online or offline.
	SetAgentStatus(ctx context.Context, orgID string, poolID, agentID int, online bool) error
}

// PoolRef is how a job names its pool; at most one of QueueID, Name and VMImage is used, in
// that order.
type PoolRef struct {
	QueueID int
	Name    string
	VMImage string
}

// AgentInfo is a registered agent.
type AgentInfo struct {
	ID       int    `json:"id"`
	PoolID   int    `json:"poolId"`
	PoolName string `json:"poolName"`
	Name     string `json:"name"`
	Enabled  bool   `json:"enabled"`
	// Capabilities are the system and user capabilities, user ones winning.
	Capabilities map[string]string `json:"capabilities,omitempty"`
}

// JobContext identifies a job for the hooks.
type JobContext struct {
	Project  Project
	Pipeline PipelineRef
	RunID    int64
	PlanID   string
	JobID    string
	// Stage and Job are the stage and plan job names; Request is the job about to be
	// queued (its steps name the service connections they use).
	Stage   string
	Job     string
	Request *job.Request
}

// EndpointResolver gives a job the service connections its steps may use. It runs when the
// job is queued; an error fails the job with the error's message (a *fault.Error message is
// shown as is, anything else as an internal error).
type EndpointResolver interface {
	JobEndpoints(ctx context.Context, jc JobContext) ([]job.Endpoint, error)
}

// Checkpoint kinds (timeline record types of the checkpoint's child record).
const (
	CheckpointAuthorization = "Checkpoint.Authorization"
	CheckpointApproval      = "Checkpoint.Approval"
)

// CheckpointRequest is a check a run must pass before a stage runs.
type CheckpointRequest struct {
	// Stage is the stage that waits (its name); empty means the first stage.
	Stage string
	// Kind is CheckpointAuthorization or CheckpointApproval.
	Kind string
	// Name is shown on the timeline record ("Authorization", "Approval").
	Name string
	// Message says what the run waits for, e.g. "This pipeline needs permission to access a
	// resource before this run can continue".
	Message string
	// Resource identifies what is checked (for the checker's own use), e.g. "endpoint/{id}".
	Resource string
}

// Checker decides, when a run is queued, which checkpoints it must pass. A run with pending
// checkpoints is queued but does not start (status notStarted, the Checkpoint records show
// inProgress) until ResolveCheckpoint approves every one of them; a rejection fails it.
type Checker interface {
	Checkpoints(ctx context.Context, rc RunContext) ([]CheckpointRequest, error)
}

// RunContext is what a Checker sees of a run being queued.
type RunContext struct {
	Project  Project
	Pipeline PipelineRef
	RunID    int64
	// Plan is the compiled pipeline; its steps' inputs name the service connections used.
	Plan *plan.Plan
	// Queues are the queues the plan's jobs run in.
	Queues []QueueRef
}
