// Package azurerm runs Azure Resource Manager service connections on the server: it gives
// each job the connections its steps use (resolved, authorized, with what a task needs to
// get tokens), brokers tokens for managed identity and service principal connections so
// that no credential ever reaches an agent, verifies connections ("Verify and save") with
// a real token exchange and an ARM read over HTTPS, explaining Entra's errors in plain
// words, and keeps each connection's execution history.
//
// # How a job gets tokens, per scheme
//
//   - WorkloadIdentityFederation: the task asks the job's OIDC endpoint
//     (System.OidcRequestUri, authenticated by System.AccessToken) for a token of the
//     connection and exchanges it at the identity provider, as in Azure.
//   - ManagedServiceIdentity and ServicePrincipal: the job gets a managed-identity-style
//     endpoint (authorization parameter identityEndpoint) scoped to the job and the
//     connection; the task calls it with System.AccessToken as X-IDENTITY-HEADER, and the
//     server returns a token for the connection's identity. The job access token dies with
//     the job, so nothing needs revoking; the managed identity's identity-endpoint
//     credential and the service principal's key stay on the server.
package azurerm

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/storage"
)

// Identity is what the package needs of the identity provider (*identity.Service).
type Identity interface {
	ClientCredentials(ctx context.Context, req identity.ClientCredentialsRequest) (token.Token, error)
	ManagedIdentityToken(ctx context.Context, req identity.ManagedIdentityTokenRequest) (token.Token, error)
	CreateIdentityEndpointCredential(ctx context.Context, identities []identity.IdentityRef) (identity.NewIdentityEndpointCredential, error)
	DeleteIdentityEndpointCredential(ctx context.Context, id string) error
	FederatedCredentials(ctx context.Context, tenantID, clientID string) ([]identity.FederatedCredential, error)
}

// Config configures a Service. ServerURL and HTTPClient are required.
type Config struct {
	// ServerURL is Keystage's public https base URL: the identity provider's authority,
	// ARM's base URL, and the prefix of every organization's URL.
	ServerURL string
	// VaultSuffix and VaultPort form vault host names ({vault}.{suffix}:{port}); jobs get
	// them as the connection's AzureKeyVaultDnsSuffix. Port 443 is left out.
	VaultSuffix string
	VaultPort   int
	// HTTPClient reaches the server's own identity provider and ARM over HTTPS for
	// verification: it must trust Keystage's CA and reach the server's host name.
	HTTPClient *http.Client
	// HistoryLimit is how many execution records are kept per connection (100).
	HistoryLimit int
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Service runs AzureRM service connections. It is safe for concurrent use.
type Service struct {
	devops *devops.Service
	id     Identity
	issuer *oidc.Issuer
	jobs   oidc.JobTokens
	st     storage.Backend
	cfg    Config
	server string // ServerURL without a trailing slash
	log    *slog.Logger

	// headerMu serializes the creation of identity-endpoint credentials in this process.
	headerMu sync.Mutex
}

// New returns a Service. st must seal values at rest (the barrier): it keeps the
// identity-endpoint credentials of managed identity connections.
func New(st storage.Backend, svc *devops.Service, id Identity, issuer *oidc.Issuer, jobs oidc.JobTokens, cfg Config, logger *slog.Logger) (*Service, error) {
	if st == nil || svc == nil || id == nil || issuer == nil || jobs == nil {
		return nil, errors.New("azurerm: New needs storage, the DevOps and identity services, the OIDC issuer and job tokens")
	}
	u, err := url.Parse(cfg.ServerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("azurerm: Config.ServerURL must be an https URL")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("azurerm: Config.HTTPClient is required")
	}
	if cfg.VaultSuffix == "" {
		return nil, errors.New("azurerm: Config.VaultSuffix is required")
	}
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{devops: svc, id: id, issuer: issuer, jobs: jobs, st: st, cfg: cfg,
		server: strings.TrimRight(cfg.ServerURL, "/"), log: logger}, nil
}

// authority is the identity provider's base URL with a trailing slash, as connections name
// it (environmentAuthorityUrl).
func (s *Service) authority() string { return s.server + "/" }

// vaultDNSSuffix is the connection's AzureKeyVaultDnsSuffix: "{suffix}:{port}".
func (s *Service) vaultDNSSuffix() string {
	if s.cfg.VaultPort == 0 || s.cfg.VaultPort == 443 {
		return s.cfg.VaultSuffix
	}
	return s.cfg.VaultSuffix + ":" + strconv.Itoa(s.cfg.VaultPort)
}

// vaultResource is the token audience vaults challenge with: "https://{suffix}[:{port}]".
func (s *Service) vaultResource() string { return "https://" + s.vaultDNSSuffix() }

// TokenEndpoint returns the job-scoped token endpoint of a managed identity or service
// principal connection: {collectionUri}{projectId}/_apis/distributedtask/hubs/{hub}/plans/
// {planId}/jobs/{jobId}/serviceconnections/{connectionId}/token?api-version=7.1. It names
// an Azure DevOps api-version (the DevOps surface checks it), which the managed identity
// client keeps instead of adding its own.
func (s *Service) TokenEndpoint(orgName, projectID, hub, planID, jobID, connectionID string) string {
	return s.server + "/" + url.PathEscape(orgName) + "/" + projectID + "/_apis/distributedtask/hubs/" + url.PathEscape(hub) +
		"/plans/" + planID + "/jobs/" + jobID + "/serviceconnections/" + connectionID + "/token?api-version=7.1"
}
