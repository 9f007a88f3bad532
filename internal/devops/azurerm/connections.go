package azurerm

import (
	"context"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/oidc"
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
