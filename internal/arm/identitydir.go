package arm

import (
	"context"
	"errors"
	"fmt"

	"github.com/keystage/keystage/internal/identity"
)

// IdentityDirectory is the Directory over Keystage's identity service.
type IdentityDirectory struct {
	svc *identity.Service
	// endpoint is the URL of the identity endpoint (IDENTITY_ENDPOINT) credentials are
	// issued for.
	endpoint string
}

var _ Directory = (*IdentityDirectory)(nil)

// NewIdentityDirectory returns the Directory over svc; identityEndpoint is the URL of
// Keystage's managed identity endpoint.
func NewIdentityDirectory(svc *identity.Service, identityEndpoint string) *IdentityDirectory {
	return &IdentityDirectory{svc: svc, endpoint: identityEndpoint}
}

// LookupPrincipal maps the identity service's principals (application service principals
// and managed identities) to ARM's ServicePrincipal; Keystage has no users or groups yet.
func (d *IdentityDirectory) LookupPrincipal(ctx context.Context, tenantID, objectID string) (PrincipalType, error) {
	p, err := d.svc.Principal(ctx, tenantID, objectID)
	if errors.Is(err, identity.ErrNotFound) {
		return "", fmt.Errorf("arm: %s: %w", objectID, ErrPrincipalNotFound)
	}
	if err != nil {
		return "", err
	}
	switch p.Kind {
	case identity.KindServicePrincipal, identity.KindManagedIdentity:
		return PrincipalServicePrincipal, nil
	}
	return "", fmt.Errorf("arm: principal %s has the unknown kind %q", objectID, p.Kind)
}

// GroupsOf returns no groups: the identity service has none.
func (d *IdentityDirectory) GroupsOf(context.Context, string, string) ([]string, error) {
	return nil, nil
}

func (d *IdentityDirectory) CreateManagedIdentity(ctx context.Context, tenantID, resourceID string) (ManagedIdentity, error) {
	mi, err := d.svc.CreateManagedIdentity(ctx, tenantID, resourceID)
	if err != nil {
		return ManagedIdentity{}, err
	}
	return ManagedIdentity{PrincipalID: mi.PrincipalID, ClientID: mi.ClientID}, nil
}

func (d *IdentityDirectory) DeleteManagedIdentity(ctx context.Context, tenantID, clientID string) error {
	err := d.svc.DeleteManagedIdentity(ctx, tenantID, clientID)
	if errors.Is(err, identity.ErrNotFound) {
		return nil
	}
	return err
}

func (d *IdentityDirectory) PutFederatedCredential(ctx context.Context, tenantID, clientID string, fc FederatedCredential) (FederatedCredential, bool, error) {
	out, created, err := d.svc.PutFederatedCredential(ctx, tenantID, clientID, identity.FederatedCredential{
		Name: fc.Name, Issuer: fc.Issuer, Subject: fc.Subject, Audiences: fc.Audiences,
	})
	if err != nil {
		return FederatedCredential{}, false, err
	}
	return fromIdentityFIC(out), created, nil
}

func (d *IdentityDirectory) GetFederatedCredential(ctx context.Context, tenantID, clientID, name string) (FederatedCredential, error) {
	f, err := d.svc.FederatedCredential(ctx, tenantID, clientID, name)
	if errors.Is(err, identity.ErrNotFound) {
		return FederatedCredential{}, fmt.Errorf("arm: %s: %w", name, ErrFederatedCredentialNotFound)
	}
	if err != nil {
		return FederatedCredential{}, err
	}
	return fromIdentityFIC(f), nil
}

func (d *IdentityDirectory) ListFederatedCredentials(ctx context.Context, tenantID, clientID string) ([]FederatedCredential, error) {
	fs, err := d.svc.FederatedCredentials(ctx, tenantID, clientID)
	if err != nil {
		return nil, err
	}
	out := make([]FederatedCredential, len(fs))
	for i, f := range fs {
		out[i] = fromIdentityFIC(f)
	}
	return out, nil
}

func (d *IdentityDirectory) DeleteFederatedCredential(ctx context.Context, tenantID, clientID, name string) (bool, error) {
	err := d.svc.DeleteFederatedCredential(ctx, tenantID, clientID, name)
	if errors.Is(err, identity.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (d *IdentityDirectory) IssueIdentityEndpointCredential(ctx context.Context, tenantID, clientID string) (IdentityEndpointCredential, error) {
	c, err := d.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: tenantID, ClientID: clientID}})
	if err != nil {
		return IdentityEndpointCredential{}, err
	}
	return IdentityEndpointCredential{Endpoint: d.endpoint, Header: c.Header}, nil
}

func fromIdentityFIC(f identity.FederatedCredential) FederatedCredential {
	return FederatedCredential{Name: f.Name, Issuer: f.Issuer, Subject: f.Subject, Audiences: f.Audiences}
}
