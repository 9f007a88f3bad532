package devopshttp

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/checkpoint"
	"github.com/keystage/keystage/internal/fault"
)

// ApprovalsArea serves the approvals API (devops.md §7) for runs waiting on pipeline
// permissions: GET lists the waits as pending approvals, PATCH with status "approved"
// permits the pipeline (remembered, as Permit does) and resumes the run, "rejected" fails
// it.
func ApprovalsArea(h *Handler, svc *checkpoint.Service) Area {
	a := &approvalsAPI{svc: svc}
	return Area{
		Name: "approvals",
		Routes: []Route{
			{Location: LocApprovals, Method: http.MethodGet, Access: AccessRead, Scope: "build", Handle: a.list},
			{Location: LocApprovals, Method: http.MethodPatch, Access: AccessManage, Scope: "build", Handle: a.update},
		},
	}
}

type approvalsAPI struct {
	svc *checkpoint.Service
}

type approvalStepJSON struct {
	AssignedApprover *identityJSON `json:"assignedApprover"`
	ActualApprover   *identityJSON `json:"actualApprover,omitempty"`
	Status           string        `json:"status"`
	Comment          string        `json:"comment,omitempty"`
	InitiatedOn      time.Time     `json:"initiatedOn"`
	LastModifiedOn   time.Time     `json:"lastModifiedOn"`
	Order            int           `json:"order"`
}

type approvalPipelineJSON struct {
	ID    string             `json:"id"`
	Name  string             `json:"name"`
	Owner executionOwnerJSON `json:"owner"`
}

type approvalJSON struct {
	ID                   string               `json:"id"`
	Status               string               `json:"status"`
	CreatedOn            time.Time            `json:"createdOn"`
	LastModifiedOn       time.Time            `json:"lastModifiedOn"`
	Instructions         string               `json:"instructions"`
	MinRequiredApprovers int                  `json:"minRequiredApprovers"`
	ExecutionOrder       string               `json:"executionOrder"`
	BlockedApprovers     []identityJSON       `json:"blockedApprovers"`
	Steps                []approvalStepJSON   `json:"steps"`
	Pipeline             approvalPipelineJSON `json:"pipeline"`
}

func renderApproval(a checkpoint.Approval, by *identityJSON, comment string) approvalJSON {
	now := time.Now().UTC()
	step := approvalStepJSON{Status: a.Status, InitiatedOn: a.Created, LastModifiedOn: a.Created, Order: 1, Comment: comment}
	if a.Status != checkpoint.StatusPending {
		step.ActualApprover, step.LastModifiedOn = by, now
	}
	return approvalJSON{
		ID: a.ID, Status: a.Status, CreatedOn: a.Created, LastModifiedOn: step.LastModifiedOn,
		Instructions: a.Instructions, MinRequiredApprovers: 1, ExecutionOrder: "anyOrder",
		BlockedApprovers: []identityJSON{}, Steps: []approvalStepJSON{step},
		Pipeline: approvalPipelineJSON{ID: strconv.Itoa(a.Wait.DefinitionID), Name: strconv.Itoa(a.Wait.DefinitionID),
			Owner: executionOwnerJSON{ID: int(a.Wait.RunID), Name: strconv.FormatInt(a.Wait.RunID, 10)}},
	}
}

func (a *approvalsAPI) list(rq *Request) error {
	ids := rq.QueryList("approvalIds")
	if id, ok := rq.Value("approvalId"); ok {
		ids = []string{id}
	}
	list, err := a.svc.Approvals(rq.R.Context(), rq.Org, rq.Project.ID, ids)
	if err != nil {
		return err
	}
	if _, ok := rq.Value("approvalId"); ok {
		if len(list) == 0 {
			return fault.New(fault.NotFound, checkpoint.CodeApprovalNotFound, "Approval %s was not found or is not pending.", clip(ids[0]))
		}
		return rq.OK(renderApproval(list[0], nil, ""))
	}
	out := make([]approvalJSON, 0, len(list))
	for _, ap := range list {
		out = append(out, renderApproval(ap, nil, ""))
	}
	return rq.OK(newCollection(out))
}

func (a *approvalsAPI) update(rq *Request) error {
	var body []struct {
		ApprovalID string `json:"approvalId"`
		Status     string `json:"status"`
		Comment    string `json:"comment"`
	}
	if err := rq.Decode(&body); err != nil {
		return err
	}
	if len(body) == 0 || len(body) > 100 {
		return devops.BadRequest("Send 1 to 100 approval updates.")
	}
	by := rq.Caller.Identity()
	out := make([]approvalJSON, 0, len(body))
	for _, u := range body {
		var approve bool
		switch strings.ToLower(u.Status) {
		case checkpoint.StatusApproved:
			approve = true
		case checkpoint.StatusRejected:
		default:
			return devops.BadRequest("The approval status %q is invalid; use approved or rejected.", clip(u.Status))
		}
		ap, err := a.svc.Decide(rq.R.Context(), rq.Org, rq.Project.ID, u.ApprovalID, approve, by)
		if err != nil {
			return err
		}
		out = append(out, renderApproval(ap, identityRef(by), u.Comment))
	}
	return rq.OK(newCollection(out))
}
