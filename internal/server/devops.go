package server

import (
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/devopshttp"
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
		VMImagePools: s.cfg.VMImagePools,
		Now:          s.now,
	}, s.log.With("api", "devops"))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	conns, err := s.openConnections(svc, func() *orchestrator.Service { return s.svc.runs })
	if err != nil {
		return nil, err
	}
	runs, err := s.openRuns(svc)
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
