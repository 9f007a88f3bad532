package arm

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrPrincipalNotFound is returned (wrapped) by a Directory when an object id names no
// principal of the tenant.
var ErrPrincipalNotFound = errors.New("arm: principal not found")

// Directory is the identity service as the management plane uses it: principals for role
// assignments, and the service principals behind user-assigned managed identities with their
// federated credentials. Errors the identity service classifies (fault.Error) reach the
// caller as they are. Implementations must be safe for concurrent use.
type Directory interface {
	// LookupPrincipal returns the type of the directory object objectID of tenant, or
	// ErrPrincipalNotFound.
	LookupPrincipal(ctx context.Context, tenantID, objectID string) (PrincipalType, error)
	// GroupsOf returns the object ids of the groups objectID belongs to, transitively (none
	// when the directory has no groups).
	GroupsOf(ctx context.Context, tenantID, objectID string) ([]string, error)

	// CreateManagedIdentity creates the principal of the user-assigned identity whose ARM
	// resource id is resourceID (its last segment is the identity's name).
	CreateManagedIdentity(ctx context.Context, tenantID, resourceID string) (ManagedIdentity, error)
	// DeleteManagedIdentity deletes the identity with client id clientID and its federated
	// credentials; deleting a missing one is not an error.
	DeleteManagedIdentity(ctx context.Context, tenantID, clientID string) error

	// PutFederatedCredential creates or replaces the federated identity credential named
	// fc.Name of a managed identity; created reports whether it is new.
	PutFederatedCredential(ctx context.Context, tenantID, clientID string, fc FederatedCredential) (out FederatedCredential, created bool, err error)
	// GetFederatedCredential returns one credential, or an error wrapping
	// ErrFederatedCredentialNotFound.
	GetFederatedCredential(ctx context.Context, tenantID, clientID, name string) (FederatedCredential, error)
	// ListFederatedCredentials returns the credentials of a managed identity by name.
	ListFederatedCredentials(ctx context.Context, tenantID, clientID string) ([]FederatedCredential, error)
	// DeleteFederatedCredential deletes one; existed is false when there was none.
	DeleteFederatedCredential(ctx context.Context, tenantID, clientID, name string) (existed bool, err error)

	// IssueIdentityEndpointCredential mints a credential with which a process can get
	// tokens for the managed identity from Keystage's identity endpoint
	// (IDENTITY_ENDPOINT/IDENTITY_HEADER).
	IssueIdentityEndpointCredential(ctx context.Context, tenantID, clientID string) (IdentityEndpointCredential, error)
}

// ErrFederatedCredentialNotFound is returned (wrapped) by a Directory for a missing
// federated identity credential.
var ErrFederatedCredentialNotFound = errors.New("arm: federated identity credential not found")

// ManagedIdentity is the service principal behind a user-assigned identity.
type ManagedIdentity struct {
	PrincipalID string // object id
	ClientID    string // application (client) id
}

// FederatedCredential is a federated identity credential: tokens from Issuer with Subject
// and one of Audiences may be exchanged for the identity's tokens.
type FederatedCredential struct {
	Name      string
	Issuer    string
	Subject   string
	Audiences []string
}

// IdentityEndpointCredential lets a process get tokens for one managed identity from the
// identity endpoint. Header is a secret.
type IdentityEndpointCredential struct {
	Endpoint  string    // IDENTITY_ENDPOINT
	Header    string    // IDENTITY_HEADER (secret)
	ExpiresOn time.Time // zero when the credential does not expire
}

// LogValue keeps the secret header out of logs.
func (c IdentityEndpointCredential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", c.Endpoint), slog.String("header", "REDACTED"), slog.Time("expiresOn", c.ExpiresOn))
}
