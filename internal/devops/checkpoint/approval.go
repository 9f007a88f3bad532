package checkpoint

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
)

// Approval statuses (pipelinesapproval ApprovalStatus).
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusRejected = "rejected"
)

// CodeApprovalNotFound is the typeKey of an unknown approval.
const CodeApprovalNotFound = "ApprovalNotFoundException"

// Approval is a run waiting for a pipeline permission, as the approvals API shows it: its
// id is the id of the Checkpoint.Authorization timeline record.
type Approval struct {
	ID      string
	Status  string
	Wait    Wait
	Created time.Time
	// Instructions say what approving does.
	Instructions string
}

// Approvals lists the pending permission waits of a project (only those with ids in ids,
// when ids is not empty).
func (s *Service) Approvals(ctx context.Context, org devops.Organization, projectID string, ids []string) ([]Approval, error) {
	s.mu.Lock()
	orch := s.orch
	s.mu.Unlock()
	if orch == nil {
		return nil, errors.New("checkpoint: not started")
	}
	var out []Approval
	for _, w := range s.Pending() {
		if w.Project.OrgID != org.ID || !strings.EqualFold(w.Project.ID, projectID) {
			continue
		}
		cps, err := orch.Checkpoints(ctx, w.Project, w.RunID)
		if fault.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, cp := range cps {
			if !strings.EqualFold(cp.Resource, w.resource()) || !cp.Pending {
				continue
			}
			if len(ids) > 0 && !slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, cp.ID) }) {
				continue
			}
			out = append(out, Approval{ID: cp.ID, Status: StatusPending, Wait: w, Created: w.Created,
				Instructions: "Permit pipeline " + strconv.Itoa(w.DefinitionID) + " to use " + w.ResourceType + " " + w.ResourceName + ": the permission is remembered for later runs."})
		}
	}
	return out, nil
}

// Decide approves (permits the pipeline to use the resource, remembered, and resumes the
// run) or rejects (the run fails) the approval id.
func (s *Service) Decide(ctx context.Context, org devops.Organization, projectID, id string, approve bool, by devops.IdentityRef) (Approval, error) {
	list, err := s.Approvals(ctx, org, projectID, []string{id})
	if err != nil {
		return Approval{}, err
	}
	if len(list) == 0 {
		return Approval{}, fault.New(fault.NotFound, CodeApprovalNotFound, "Approval %s was not found or is not pending.", clip(id)).Wrap(devops.ErrNotFound)
	}
	a := list[0]
	w := a.Wait
	if approve {
		_, err := s.devops.UpdatePipelinePermissions(ctx, org, w.Project.ID, w.ResourceType, w.ResourceID, by,
			devops.PermissionUpdate{Pipelines: []devops.PipelineAuthorization{{PipelineID: w.DefinitionID, Authorized: true}}})
		if err != nil {
			return Approval{}, err
		}
	}
	s.mu.Lock()
	orch := s.orch
	s.mu.Unlock()
	if err := orch.ResolveCheckpoint(ctx, w.Project, w.RunID, a.ID, approve); err != nil {
		return Approval{}, err
	}
	if approve {
		a.Status = StatusApproved
		s.Notify() // other runs of the pipeline waiting for the same resource continue too
	} else {
		a.Status = StatusRejected
		if err := s.drop(ctx, w); err != nil {
			return Approval{}, err
		}
	}
	return a, nil
}

// clip bounds caller-supplied text quoted in a message.
func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
