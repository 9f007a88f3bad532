package azurerm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/storage"
)

// JobTokenRequest is a call of a job's token endpoint for a managed identity or service
// principal connection (the App Service managed identity protocol).
type JobTokenRequest struct {
	// Org, ProjectID, PlanID and JobID are the route values of the endpoint URL.
	Org       devops.Organization
	ProjectID string
	PlanID    string
	JobID     string
	// ConnectionID is the connection of the URL.
	ConnectionID string
	// JobToken is the X-IDENTITY-HEADER value: the job's access token.
	JobToken string
	// Resource is the token audience asked for; ClientID the client_id selector, if any.
	Resource string
	ClientID string
}

// LogValue keeps the job token out of logs.
func (r JobTokenRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("org", r.Org.Name), slog.String("job", r.JobID),
		slog.String("connection", r.ConnectionID), slog.String("resource", r.Resource))
}

// JobToken returns an access token for the connection of r, checking that the job token
// is valid and belongs to the job of the URL and that the pipeline may use the
// connection, as the OIDC token endpoint does.
func (s *Service) JobToken(ctx context.Context, r JobTokenRequest) (token.Token, error) {
	if r.JobToken == "" {
		return token.Token{}, fault.New(fault.Unauthorized, oidc.CodeUnauthorized, "The request needs the job access token (System.AccessToken) in the X-IDENTITY-HEADER header.")
	}
	j, err := s.jobs.ValidateJobToken(ctx, r.JobToken)
	if err != nil {
		return token.Token{}, fault.New(fault.Unauthorized, oidc.CodeUnauthorized,
			"The job access token is invalid or expired: job access tokens are valid only while their job runs.").Wrap(err)
	}
	if j.OrgID != r.Org.ID || !strings.EqualFold(j.ProjectID, r.ProjectID) || !strings.EqualFold(j.PlanID, r.PlanID) || !strings.EqualFold(j.JobID, r.JobID) {
		return token.Token{}, fault.New(fault.Forbidden, oidc.CodeAccessDenied,
			"The job access token was issued to another job: a job may request tokens only through its own endpoints.")
	}
	if r.Resource == "" {
		return token.Token{}, fault.New(fault.BadRequest, oidc.CodeArgument, "The resource parameter is required.")
	}
	e, err := s.resolve(ctx, r.Org, j.ProjectID, r.ConnectionID)
	if errors.Is(err, devops.ErrNotFound) {
		return token.Token{}, fault.New(fault.NotFound, oidc.CodeEndpointNotFound,
			"Service connection %s was not found in this project, or it is not shared with it.", clip(r.ConnectionID))
	}
	if err != nil {
		return token.Token{}, err
	}
	ok, err := s.devops.IsPipelineAuthorized(ctx, r.Org, j.ProjectID, devops.ResourceEndpoint, e.ID, j.DefinitionID)
	if err != nil {
		return token.Token{}, err
	}
	if !ok {
		return token.Token{}, fault.New(fault.Forbidden, oidc.CodeNotAuthorizedPerm,
			"Pipeline %d is not authorized to use service connection %s. Permit access to the connection for this pipeline (or for all pipelines) in its pipeline permissions.", j.DefinitionID, e.Name)
	}
	tenant, clientID := e.Parameters[devops.ParamTenantID], e.Parameters[devops.ParamServicePrincipalID]
	if r.ClientID != "" && !strings.EqualFold(r.ClientID, clientID) {
		return token.Token{}, fault.New(fault.BadRequest, "invalid_request", "Identity not found: the requested identity isn't the identity of service connection %s.", e.Name)
	}
	switch e.Scheme {
	case devops.SchemeServicePrincipal:
		secrets, err := s.devops.EndpointSecrets(ctx, r.Org, e.ID)
		if err != nil {
			return token.Token{}, err
		}
		return s.id.ClientCredentials(ctx, identity.ClientCredentialsRequest{
			Tenant: tenant, ClientID: clientID, ClientSecret: secrets[devops.ParamServicePrincipal], Resource: r.Resource,
		})
	case devops.SchemeManagedServiceIdentity:
		return s.managedIdentityToken(ctx, r.Org, tenant, clientID, r.Resource)
	}
	return token.Token{}, fault.New(fault.BadRequest, oidc.CodeSchemeUnsupported,
		"Service connection %s uses the %s scheme, whose tokens come from the OIDC token endpoint, not from this one.", e.Name, e.Scheme)
}

// Storage of the identity-endpoint credentials the server holds for managed identity
// connections, under the organization's prefix (deleted with it):
//
//	devops/o/{orgId}/azurerm/mi/{tenantId}/{clientId}   storedHeader
func headerKey(orgID, tenantID, clientID string) string {
	return devops.OrgPrefix(orgID) + "azurerm/mi/" + strings.ToLower(tenantID) + "/" + strings.ToLower(clientID)
}

type storedHeader struct {
	ID     string `json:"id"`
	Header string `json:"header"`
}

// managedIdentityToken gets a token for a user-assigned managed identity through the
// identity provider's managed identity endpoint logic, with an identity-endpoint
// credential bound to that identity alone, created on first use and kept sealed.
func (s *Service) managedIdentityToken(ctx context.Context, org devops.Organization, tenantID, clientID, resource string) (token.Token, error) {
	stale := ""
	for attempt := 0; attempt < 2; attempt++ {
		h, err := s.identityHeader(ctx, org, tenantID, clientID, stale)
		if err != nil {
			return token.Token{}, err
		}
		tok, err := s.id.ManagedIdentityToken(ctx, identity.ManagedIdentityTokenRequest{Header: h, Resource: resource, ClientID: clientID})
		if fault.Is(err, fault.Unauthorized) && attempt == 0 {
			stale = h // the credential was revoked: make a new one
			continue
		}
		return tok, err
	}
	return token.Token{}, errors.New("azurerm: unreachable")
}

// identityHeader returns the stored header for (tenant, client), creating one when there
// is none or the stored one is stale (a header the identity provider refused; "" when
// none was). Concurrent callers in this process share the header the first of them
// creates.
func (s *Service) identityHeader(ctx context.Context, org devops.Organization, tenantID, clientID, stale string) (string, error) {
	key := headerKey(org.ID, tenantID, clientID)
	stored := func() (string, error) {
		var h storedHeader
		err := storage.GetJSON(ctx, s.st, key, &h)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return "", fmt.Errorf("azurerm: load identity header: %w", err)
		}
		if h.Header == stale {
			return "", nil
		}
		return h.Header, nil
	}
	if h, err := stored(); h != "" || err != nil {
		return h, err
	}
	s.headerMu.Lock()
	defer s.headerMu.Unlock()
	if h, err := stored(); h != "" || err != nil {
		return h, err // another caller made one while this one waited
	}
	cred, err := s.id.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: tenantID, ClientID: clientID}})
	if err != nil {
		return "", err
	}
	var old storedHeader
	err = s.st.Update(ctx, func(tx storage.Store) error {
		old = storedHeader{}
		if err := storage.GetJSON(ctx, tx, key, &old); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return storage.PutJSON(ctx, tx, key, storedHeader{ID: cred.ID, Header: cred.Header})
	})
	if err != nil {
		_ = s.id.DeleteIdentityEndpointCredential(ctx, cred.ID)
		return "", fmt.Errorf("azurerm: store identity header: %w", err)
	}
	if old.ID != "" && old.ID != cred.ID {
		if err := s.id.DeleteIdentityEndpointCredential(ctx, old.ID); err != nil && !errors.Is(err, identity.ErrNotFound) {
			s.log.WarnContext(ctx, "azurerm: old identity header not deleted", "id", old.ID, "err", err)
		}
	}
	return cred.Header, nil
}
