package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/devopshttp"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/orchestrator"
)

// devopsResource is the audience of access tokens for the Azure DevOps surface (Azure
// DevOps' application id); the identity provider must accept it as a resource.
const devopsResource = devopshttp.AzureDevOpsResource

// openDevOps builds the Azure DevOps domain and its HTTP surface. Tokens are verified by
// the identity provider's verifier; admin (the administrator application's service
// principal) is the Keystage administrator, who creates organizations. Organization names
// may not be a first path segment the router reserves, nor start with "_" (server-level
// DevOps paths such as /_apis/organizations and /_oidc/{orgId}).
// The domain service is the handler's Service(); other areas (runs, OIDC tokens) register
// on the handler.
func (s *Server) openDevOps(verifier *token.Verifier, admin devops.PrincipalRef, rt *router) (*devopshttp.Handler, error) {
	svc, err := devops.New(s.store, s.store, devops.Config{
		ServerURL:      s.url,
		Administrators: []devops.PrincipalRef{admin},
		ReservedName: func(name string) bool {
			_, reserved := rt.segments[strings.ToLower(name)]
			return reserved
		},
		VMImagePools:       s.cfg.VMImagePools,
		ManagedIdentityUse: s.managedIdentityUse,
		Now:                s.now,
	}, s.log.With("api", "devops"))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	conns, err := s.openConnections(svc, func() *orchestrator.Service { return s.svc.runs })
	if err != nil {
		return nil, err
	}
	runs, err := s.openRuns(svc, conns)
	if err != nil {
		return nil, err
	}
	h := devopshttp.New(svc, devopshttp.Config{
		Tokens:    verifier,
		Audiences: []string{devopsResource, s.url, s.url + "/"},
		JobTokens: devopshttp.OrchestratorJobTokens(runs),
		Logger:    s.log.With("api", "devops"),
	})
	if err := conns.register(h); err != nil {
		return nil, err
	}
	return h, registerRuns(h, runs)
}

// assignIdentityAction is what Azure requires of whoever puts a user-assigned identity on a
// resource; a managed identity service connection is Keystage's form of that.
const assignIdentityAction = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"

// managedIdentityUse authorizes a caller to create a ManagedServiceIdentity service
// connection for the identity with clientID: the caller needs the assign action on the
// identity's ARM resource (Owner, Contributor, Managed Identity Operator, ... at or above it).
func (s *Server) managedIdentityUse(ctx context.Context, caller devops.IdentityRef, tenantID, clientID string) error {
	mi, err := s.svc.identity.ManagedIdentity(ctx, tenantID, clientID)
	if errors.Is(err, identity.ErrNotFound) {
		return fault.New(fault.BadRequest, "InvalidServiceEndpoint",
			"No user-assigned managed identity has client id %s in tenant %s.", clientID, tenantID)
	}
	if err != nil {
		return err
	}
	scope, err := authz.ParseScope(mi.ResourceID)
	if err != nil {
		return fmt.Errorf("server: managed identity %s: %w", clientID, err)
	}
	d := s.svc.arm.CheckAccess(authz.Principal{ObjectID: caller.ID}, scope, assignIdentityAction, false)
	if !d.Allowed {
		return fault.New(fault.Forbidden, "AuthorizationFailed",
			"The caller %s may not use managed identity %s in a service connection: it needs %s on %s (for example the Managed Identity Operator role).",
			caller.ID, clientID, assignIdentityAction, mi.ResourceID)
	}
	return nil
}
