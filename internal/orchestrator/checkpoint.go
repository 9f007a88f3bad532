package orchestrator

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// checkpoint is a check a run waits on before it starts; its id is the id of its
// Checkpoint.* timeline record.
type checkpoint struct {
	ID       string    `json:"id"`
	Stage    string    `json:"stage"`
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Message  string    `json:"message,omitempty"`
	Resource string    `json:"resource,omitempty"`
	Created  time.Time `json:"created"`
	Decided  bool      `json:"decided,omitempty"`
	Approved bool      `json:"approved,omitempty"`
	// Canceled is set when the run was canceled while the checkpoint waited.
	Canceled  bool      `json:"canceled,omitempty"`
	DecidedAt time.Time `json:"decidedAt,omitzero"`
	DecidedBy string    `json:"decidedBy,omitempty"`
}

// CheckpointInfo is a checkpoint of a run as ListCheckpoints shows it.
type CheckpointInfo struct {
	ID       string
	Stage    string
	Kind     string
	Name     string
	Message  string
	Resource string
	Pending  bool
	Approved bool
}

func newCheckpoint(cr CheckpointRequest, p plan.Plan, now time.Time) *checkpoint {
	stage := cr.Stage
	if stage == "" && len(p.Stages) > 0 {
		stage = p.Stages[0].Name
	}
	kind := cr.Kind
	if kind == "" {
		kind = CheckpointAuthorization
	}
	name := cr.Name
	if name == "" {
		name = strings.TrimPrefix(kind, "Checkpoint.")
	}
	return &checkpoint{ID: uuid.NewString(), Stage: stage, Kind: kind, Name: name, Message: cr.Message,
		Resource: cr.Resource, Created: now.UTC()}
}

// pending reports whether a checkpoint still waits for a decision.
func (tl *tlState) pending() bool {
	for _, cp := range tl.Checkpoints {
		if !cp.Decided {
			return true
		}
	}
	return false
}

// cancelCheckpoints ends every checkpoint still waiting: the run was canceled.
func (tl *tlState) cancelCheckpoints(now time.Time) {
	for _, cp := range tl.Checkpoints {
		if !cp.Decided {
			cp.Decided, cp.Canceled, cp.DecidedAt = true, true, now.UTC()
		}
	}
}

// decide records a decision on a checkpoint. When the last one is approved the run starts;
// a rejection cancels the run, which then ends failed.
func (r *activeRun) decide(id string, approved bool, now time.Time) error {
	for _, cp := range r.tl.Checkpoints {
		if cp.ID != id {
			continue
		}
		if cp.Decided {
			return nil
		}
		cp.Decided, cp.Approved, cp.DecidedAt = true, approved, now.UTC()
		r.dirtyTL = true
		if !approved {
			r.tl.Rejected = true
			r.rec.Issues = append(r.rec.Issues, Issue{Type: "error", Message: "The run was rejected at checkpoint " + cp.Name + "."})
			r.st.Cancel(now)
			r.held = false
			r.dirtyState, r.dirtyRec = true, true
			return nil
		}
		if !r.tl.pending() {
			r.held = false
		}
		return nil
	}
	return fault.New(fault.NotFound, CodeCheckpointNotFound, "Run %d has no checkpoint %s.", r.id, clip(id)).Wrap(ErrNotFound)
}

// ResolveCheckpoint approves or rejects a checkpoint of run id; the decision is durable
// when it returns. This is the hook for approvals and pipeline permissions: the checker
// that asked for the checkpoint calls it when access is granted (or denied).
func (s *Service) ResolveCheckpoint(ctx context.Context, p Project, id int64, checkpointID string, approved bool) error {
	r := s.active(p, id)
	if r == nil {
		return fault.New(fault.NotFound, CodeCheckpointNotFound, "Run %d is not waiting on checkpoints.", id).Wrap(ErrNotFound)
	}
	return r.call(ctx, &runEvent{kind: evCheckpoint, checkpointID: checkpointID, approved: approved})
}

// Checkpoints lists the checkpoints of run id (pending ones first is not guaranteed; they
// are in creation order).
func (s *Service) Checkpoints(ctx context.Context, p Project, id int64) ([]CheckpointInfo, error) {
	var cps []checkpoint
	if r := s.active(p, id); r != nil {
		cps = r.snap.Load().checkpoints
	} else {
		tl, err := s.loadTimelineState(ctx, p, id)
		if err != nil {
			return nil, err
		}
		for _, cp := range tl.Checkpoints {
			cps = append(cps, *cp)
		}
	}
	out := make([]CheckpointInfo, 0, len(cps))
	for _, cp := range cps {
		out = append(out, CheckpointInfo{ID: cp.ID, Stage: cp.Stage, Kind: cp.Kind, Name: cp.Name, Message: cp.Message,
			Resource: cp.Resource, Pending: !cp.Decided, Approved: cp.Approved})
	}
	return out, nil
}

// ResolveResource decides every pending checkpoint, in every active run of project p, that
// names resource (as the Checker named it): granting a pipeline access to a resource once
// resumes all the runs waiting for it. It returns how many checkpoints it decided.
func (s *Service) ResolveResource(ctx context.Context, p Project, resource string, approved bool) (int, error) {
	s.mu.Lock()
	var runs []*activeRun
	for _, r := range s.runs {
		if r.project.ID == p.ID && r.project.OrgID == p.OrgID {
			runs = append(runs, r)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, r := range runs {
		for _, cp := range r.snap.Load().checkpoints {
			if cp.Decided || !strings.EqualFold(cp.Resource, resource) {
				continue
			}
			if err := r.call(ctx, &runEvent{kind: evCheckpoint, checkpointID: cp.ID, approved: approved}); err != nil {
				if isNotFound(err) {
					continue
				}
				return n, err
			}
			n++
		}
	}
	return n, nil
}
