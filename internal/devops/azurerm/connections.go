package azurerm

import (
	"context"
	"errors"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/orchestrator"
)

var _ oidc.Connections = (*Service)(nil)

// Connection implements oidc.Connections: the connection id as shared with projectID,
// with the subject the connection shows users (devops.WorkloadIdentitySubject).
func (s *Service) Connection(ctx context.Context, orgID, projectID, id string) (oidc.Connection, error) {
	org, err := s.devops.Organization(ctx, orgID)
	if err != nil {
		return oidc.Connection{}, err
	}
	e, err := s.resolve(ctx, org, projectID, id)
	if err != nil {
		return oidc.Connection{}, err
	}
	name := e.Name
	if p, ok := e.InProject(projectID); ok && p.Name != "" {
		name = p.Name
	}
	return oidc.Connection{ID: e.ID, Name: name, Scheme: e.Scheme, Subject: devops.WorkloadIdentitySubject(org, e)}, nil
}

// PipelineAuthorized implements oidc.Connections.
func (s *Service) PipelineAuthorized(ctx context.Context, orgID, projectID, connectionID string, definitionID int) (bool, error) {
	org, err := s.devops.Organization(ctx, orgID)
	if err != nil {
		return false, err
	}
	return s.devops.IsPipelineAuthorized(ctx, org, projectID, devops.ResourceEndpoint, connectionID, definitionID)
}

// JobTokensOf adapts the run orchestrator's job token validation to oidc.JobTokens. orch
// is called at each validation, so the adapter can be built before the orchestrator
// (which itself needs the Service as its EndpointResolver).
func JobTokensOf(orch func() *orchestrator.Service) oidc.JobTokens { return orchestratorJobs{orch} }

type orchestratorJobs struct{ orch func() *orchestrator.Service }

func (o orchestratorJobs) ValidateJobToken(ctx context.Context, raw string) (oidc.Job, error) {
	s := o.orch()
	if s == nil {
		return oidc.Job{}, errors.New("azurerm: the run orchestrator is not running")
	}
	c, err := s.ValidateJobToken(ctx, raw)
	if err != nil {
		return oidc.Job{}, err
	}
	return oidc.Job{OrgID: c.OrgID, ProjectID: c.ProjectID, DefinitionID: c.DefinitionID, RunID: c.RunID,
		PlanID: c.PlanID, JobID: c.JobID, Expires: c.Expiry}, nil
}

// RunResultsOf adapts the run orchestrator to RunResults.
func RunResultsOf(orch func() *orchestrator.Service) RunResults { return orchestratorRuns{orch} }

type orchestratorRuns struct{ orch func() *orchestrator.Service }

func (o orchestratorRuns) RunResult(ctx context.Context, orgID, projectID string, runID int64) (string, time.Time, error) {
	s := o.orch()
	if s == nil {
		return "", time.Time{}, errors.New("azurerm: the run orchestrator is not running")
	}
	r, err := s.Run(ctx, orchestrator.Project{OrgID: orgID, ID: projectID}, runID)
	if err != nil {
		return "", time.Time{}, err
	}
	if !r.Done() {
		return "", time.Time{}, nil
	}
	return r.Result, r.FinishTime, nil
}
