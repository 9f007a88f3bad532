// Package checkpoint holds runs on pipeline permissions: a run whose jobs use a service
// connection its pipeline is not authorized for waits at a Checkpoint.Authorization
// before the stage that uses it, and continues once the pipeline is permitted (through the
// pipeline permissions API, the legacy authorized-resources API or an approval), which is
// remembered; a rejection fails the run. Connections authorized for all pipelines never
// hold a run.
//
// # Call order
//
// New returns the Checker the orchestrator is built with (orchestrator.Config.Checks);
// Start(ctx, orchestrator) then loads the waits that were pending when the server stopped
// and watches permissions until ctx ends. Notify, when permissions change, makes the watch
// look at once instead of at its next tick.
package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/azurerm"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/storage"
)

// Orchestrator is what the package needs of the run orchestrator.
type Orchestrator interface {
	Checkpoints(ctx context.Context, p orchestrator.Project, id int64) ([]orchestrator.CheckpointInfo, error)
	ResolveCheckpoint(ctx context.Context, p orchestrator.Project, id int64, checkpointID string, approved bool) error
}

// Message is the text a waiting run shows, followed by the stage's display name.
const Message = "This pipeline needs permission to access a resource before this run can continue to "

// Config configures a Service; zero fields take the defaults in parentheses.
type Config struct {
	// Interval is how often pending waits are checked against the permissions (1s).
	Interval time.Duration
	// Grace is how long a wait whose run the orchestrator does not know is kept (the run
	// may still be being queued) before it is dropped (2m).
	Grace time.Duration
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Service is the pipeline-permission Checker. It is safe for concurrent use.
type Service struct {
	devops *devops.Service
	st     storage.Backend
	cfg    Config
	log    *slog.Logger
	wake   chan struct{}

	mu      sync.Mutex
	orch    Orchestrator
	pending map[string]Wait // storage key -> wait
}

var _ orchestrator.Checker = (*Service)(nil)

// New returns a Service storing its pending waits in st.
func New(st storage.Backend, svc *devops.Service, cfg Config, logger *slog.Logger) (*Service, error) {
	if st == nil || svc == nil {
		return nil, errors.New("checkpoint: New needs storage and the DevOps service")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{devops: svc, st: st, cfg: cfg, log: logger, wake: make(chan struct{}, 1), pending: map[string]Wait{}}, nil
}

// Wait is a run held until its pipeline is permitted a resource. Waits are stored (sealed)
// apart from projects so that the watch finds them all after a restart:
//
//	checkpoint/pending/{orgId}/{projectId}/{runId, 16 digits}/{resourceType}/{resourceId}
type Wait struct {
	Project      orchestrator.Project `json:"project"`
	RunID        int64                `json:"runId"`
	DefinitionID int                  `json:"definitionId"`
	ResourceType string               `json:"resourceType"`
	ResourceID   string               `json:"resourceId"`
	ResourceName string               `json:"resourceName"`
	Stage        string               `json:"stage"`
	Created      time.Time            `json:"created"`
}

const pendingPrefix = "checkpoint/pending/"

func (w Wait) key() string {
	return fmt.Sprintf("%s%s/%s/%016d/%s/%s", pendingPrefix, w.Project.OrgID, w.Project.ID, w.RunID, w.ResourceType, w.ResourceID)
}

// resource is the checkpoint's resource name, "{type}/{id}".
func (w Wait) resource() string { return w.ResourceType + "/" + w.ResourceID }

// Checkpoints implements orchestrator.Checker: one Checkpoint.Authorization per protected
// resource (service connection) the pipeline may not use yet, before the first stage that
// uses it. References the project cannot resolve hold nothing: the job that uses them
// fails with the reason.
func (s *Service) Checkpoints(ctx context.Context, rc orchestrator.RunContext) ([]orchestrator.CheckpointRequest, error) {
	if rc.Plan == nil {
		return nil, nil
	}
	org, err := s.devops.Organization(ctx, rc.Project.OrgID)
	if err != nil {
		return nil, err
	}
	var out []orchestrator.CheckpointRequest
	seen := map[string]bool{}
	root := variables(rc.Plan.Variables, nil)
	for _, stage := range rc.Plan.Stages {
		stageVars := variables(stage.Variables, root)
		for _, j := range stage.Jobs {
			refs, err := azurerm.References(j.Steps, variables(j.Variables, stageVars))
			if err != nil {
				continue // the job fails with this error when it is queued
			}
			for _, ref := range refs {
				e, err := azurerm.ResolveEndpoint(ctx, s.devops, org, rc.Project.ID, ref.Value)
				if errors.Is(err, devops.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				if seen[e.ID] {
					continue
				}
				seen[e.ID] = true
				ok, err := s.devops.IsPipelineAuthorized(ctx, org, rc.Project.ID, devops.ResourceEndpoint, e.ID, rc.Pipeline.ID)
				if err != nil {
					return nil, err
				}
				if ok {
					continue
				}
				w := Wait{Project: rc.Project, RunID: rc.RunID, DefinitionID: rc.Pipeline.ID, ResourceType: devops.ResourceEndpoint,
					ResourceID: e.ID, ResourceName: e.Name, Stage: stage.Name, Created: s.cfg.Now().UTC()}
				if err := storage.PutJSON(ctx, s.st, w.key(), w); err != nil {
					return nil, fmt.Errorf("checkpoint: record wait: %w", err)
				}
				s.mu.Lock()
				s.pending[w.key()] = w
				s.mu.Unlock()
				display := stage.DisplayName
				if display == "" {
					display = stage.Name
				}
				if display == "__default" {
					display = "Stage 1"
				}
				out = append(out, orchestrator.CheckpointRequest{
					Stage: stage.Name, Kind: orchestrator.CheckpointAuthorization, Name: "Authorization",
					Message:  Message + display,
					Resource: w.resource(),
				})
				s.log.InfoContext(ctx, "run waits for pipeline permission", "project", rc.Project.Name, "run", rc.RunID,
					"pipeline", rc.Pipeline.ID, "resource", w.resource())
			}
		}
	}
	if len(out) > 0 {
		s.Notify()
	}
	return out, nil
}

// variables layers a scope's literal variables over its parent's.
func variables(vs []plan.Variable, parent map[string]string) map[string]string {
	out := make(map[string]string, len(parent)+len(vs))
	for k, v := range parent {
		out[k] = v
	}
	for _, v := range vs {
		if v.Name != "" && !strings.Contains(v.Value, "$[") {
			out[v.Name] = v.Value
		}
	}
	return out
}
