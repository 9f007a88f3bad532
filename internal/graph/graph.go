// Package graph serves the part of Microsoft Graph that az ad and the Azure SDKs use to
// manage app registrations, service principals, client secrets and federated identity
// credentials, over Keystage's identity service.
//
// Authorization follows Entra's defaults, adapted to a directory without users or directory
// roles:
//
//   - any principal of a tenant may read its applications and service principals, and may
//     register applications, becoming their owner;
//   - an application (with its service principal, secrets and federated credentials) may be
//     changed or deleted by its owners and by directory administrators;
//   - a directory administrator is a principal that may write role assignments at the root
//     scope "/" (Owner or User Access Administrator there, as the bootstrap administrator
//     is): it can grant itself any access anyway, so letting it manage applications adds no
//     privilege.
//
// Keystage keeps an application and its service principal as one object: the service
// principal exists from the application's creation, POST /servicePrincipals returns it, and
// deleting the service principal deletes the application with it.
package graph

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/storage"
)

// Audiences of Graph tokens.
var Audiences = []string{"https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"}

// Directory is the part of the identity service Graph serves; *identity.Service implements
// it.
type Directory interface {
	CreateApplication(ctx context.Context, tenantID, displayName string) (identity.Application, error)
	Application(ctx context.Context, tenantID, appID string) (identity.Application, error)
	ApplicationByObjectID(ctx context.Context, tenantID, objectID string) (identity.Application, error)
	Applications(ctx context.Context, tenantID string) ([]identity.Application, error)
	DeleteApplication(ctx context.Context, tenantID, appID string) error
	Principal(ctx context.Context, tenantID, objectID string) (identity.Principal, error)
	ManagedIdentities(ctx context.Context, tenantID string) ([]identity.ManagedIdentity, error)
	AddClientSecret(ctx context.Context, tenantID, appID string, opts identity.SecretOptions) (identity.NewClientSecret, error)
	ClientSecrets(ctx context.Context, tenantID, appID string) ([]identity.ClientSecret, error)
	RemoveClientSecret(ctx context.Context, tenantID, appID, keyID string) error
	CreateFederatedCredential(ctx context.Context, tenantID, clientID string, f identity.FederatedCredential) (identity.FederatedCredential, error)
	PutFederatedCredential(ctx context.Context, tenantID, clientID string, f identity.FederatedCredential) (identity.FederatedCredential, bool, error)
	FederatedCredentials(ctx context.Context, tenantID, clientID string) ([]identity.FederatedCredential, error)
	DeleteFederatedCredential(ctx context.Context, tenantID, clientID, name string) error
}

var _ Directory = (*identity.Service)(nil)

// AccessChecker decides RBAC questions; *arm.Service implements it. Graph asks it only
// whether a caller is a directory administrator.
type AccessChecker interface {
	CheckAccess(p authz.Principal, scope authz.Scope, action string, data bool) authz.Decision
}

// Caller is the authenticated principal of a Graph request.
type Caller struct {
	TenantID string
	ObjectID string
	AppID    string
}

// Authenticator verifies a Graph request's bearer token (audience https://graph.microsoft.com)
// and returns its caller, or a fault error of kind Unauthorized.
type Authenticator interface {
	Authenticate(r *http.Request) (Caller, error)
}

// Config holds the handler's knobs.
type Config struct {
	// BaseURL is the public URL for @odata.nextLink; empty means https://{Host}.
	BaseURL string
	// PageSize is the number of items per page; 0 means 100.
	PageSize int
	Logger   *slog.Logger
}

// Handler serves /v1.0/… .
type Handler struct {
	dir    Directory
	access AccessChecker
	owners *owners
	auth   Authenticator
	cfg    Config
	log    *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New returns the Graph handler. store (the barrier-wrapped backend) keeps application
// owners, which the identity service does not model.
func New(dir Directory, access AccessChecker, store storage.Backend, auth Authenticator, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Handler{dir: dir, access: access, owners: &owners{store: store}, auth: auth, cfg: cfg, log: cfg.Logger}
}

// isAdmin reports whether c is a directory administrator (see the package comment).
func (h *Handler) isAdmin(c Caller) bool {
	d := h.access.CheckAccess(authz.Principal{ObjectID: c.ObjectID}, authz.RootScope(), "Microsoft.Authorization/roleAssignments/write", false)
	return d.Allowed
}
