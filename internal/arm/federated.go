package arm

import (
	"context"
	"errors"

	"github.com/keystage/keystage/internal/fault"
)

// FederatedCredentialType is the ARM resource type of an identity's federated credential.
const FederatedCredentialType = IdentityType + "/federatedIdentityCredentials"

func ficScope(sub, group, identity string) string {
	return resourceScope(sub, group, IdentityType, identity)
}

func errFICNotFound(identity, name, group string) *fault.Error {
	return errResourceNotFound(FederatedCredentialType, identity+"/"+name, group)
}

// PutFederatedCredential creates or replaces a federated identity credential of a
// user-assigned identity. The identity service validates issuer, subject, audiences and name.
func (s *Service) PutFederatedCredential(ctx context.Context, c Caller, sub, group, identity string, fc FederatedCredential) (FederatedCredential, bool, error) {
	if err := s.authorize(c, ficScope(sub, group, identity), actionFICWrite); err != nil {
		return FederatedCredential{}, false, err
	}
	id, err := s.identity(ctx, s.store, sub, group, identity)
	if err != nil {
		return FederatedCredential{}, false, err
	}
	out, created, err := s.dir.PutFederatedCredential(ctx, id.TenantID, id.ClientID, fc)
	if err != nil {
		return FederatedCredential{}, false, err
	}
	s.log.Info("federated identity credential written", "identity", id.ID(), "name", out.Name, "issuer", out.Issuer, "subject", out.Subject, "caller", c.ObjectID)
	return out, created, nil
}

// GetFederatedCredential returns one federated identity credential of an identity.
func (s *Service) GetFederatedCredential(ctx context.Context, c Caller, sub, group, identity, name string) (FederatedCredential, error) {
	if err := s.authorize(c, ficScope(sub, group, identity), actionFICRead); err != nil {
		return FederatedCredential{}, err
	}
	id, err := s.identity(ctx, s.store, sub, group, identity)
	if err != nil {
		return FederatedCredential{}, err
	}
	fc, err := s.dir.GetFederatedCredential(ctx, id.TenantID, id.ClientID, name)
	if errors.Is(err, ErrFederatedCredentialNotFound) {
		return FederatedCredential{}, errFICNotFound(identity, name, group)
	}
	return fc, err
}

// ListFederatedCredentials returns the federated identity credentials of an identity.
func (s *Service) ListFederatedCredentials(ctx context.Context, c Caller, sub, group, identity string) ([]FederatedCredential, error) {
	if err := s.authorize(c, ficScope(sub, group, identity), actionFICRead); err != nil {
		return nil, err
	}
	id, err := s.identity(ctx, s.store, sub, group, identity)
	if err != nil {
		return nil, err
	}
	return s.dir.ListFederatedCredentials(ctx, id.TenantID, id.ClientID)
}

// DeleteFederatedCredential deletes a federated identity credential; existed is false when
// there was none.
func (s *Service) DeleteFederatedCredential(ctx context.Context, c Caller, sub, group, identity, name string) (bool, error) {
	if err := s.authorize(c, ficScope(sub, group, identity), actionFICDelete); err != nil {
		return false, err
	}
	id, err := s.identity(ctx, s.store, sub, group, identity)
	if err != nil {
		return false, err
	}
	existed, err := s.dir.DeleteFederatedCredential(ctx, id.TenantID, id.ClientID, name)
	if err == nil && existed {
		s.log.Info("federated identity credential deleted", "identity", id.ID(), "name", name, "caller", c.ObjectID)
	}
	return existed, err
}
