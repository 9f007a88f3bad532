package identity

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/keystage/keystage/internal/storage"
)

// ManagedIdentity is a user-assigned managed identity: ClientID is its appid, PrincipalID
// its object id (the oid of its tokens), ResourceID the ARM id the management plane gave it.
type ManagedIdentity struct {
	TenantID    string    `json:"tenantId"`
	ClientID    string    `json:"clientId"`
	PrincipalID string    `json:"principalId"`
	ResourceID  string    `json:"resourceId"`
	Name        string    `json:"name"`
	Created     time.Time `json:"created"`
}

// miRef indexes a resource id to its identity.
type miRef struct {
	TenantID string `json:"tenantId"`
	ClientID string `json:"clientId"`
}

// maxResourceID caps ARM resource ids.
const maxResourceID = 1024

// checkResourceID applies light shape rules; the ARM layer owns the full grammar.
func checkResourceID(id string) error {
	if !strings.HasPrefix(id, "/") || len(id) > maxResourceID || strings.IndexFunc(id, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r)
	}) >= 0 {
		return badRequest("The resource id must be an ARM resource id (starting with '/', at most %d characters, no spaces).", maxResourceID)
	}
	return nil
}

// CreateManagedIdentity creates a user-assigned managed identity for the ARM resource
// resourceID (compared case-insensitively, as ARM ids are); its name is the id's last
// segment. An identity for the same resource id is a conflict.
func (s *Service) CreateManagedIdentity(ctx context.Context, tenantID, resourceID string) (ManagedIdentity, error) {
	if err := checkResourceID(resourceID); err != nil {
		return ManagedIdentity{}, err
	}
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return ManagedIdentity{}, err
	}
	name := resourceID[strings.LastIndex(resourceID, "/")+1:]
	if name == "" {
		return ManagedIdentity{}, badRequest("The resource id must end with the identity's name.")
	}
	mi := ManagedIdentity{
		TenantID: t.ID, ClientID: newID(), PrincipalID: newID(), ResourceID: resourceID, Name: name, Created: s.now().UTC(),
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if ok, err := exists(ctx, tx, miResourceKey(resourceID)); err != nil {
			return err
		} else if ok {
			return conflict("A managed identity for resource '%s' already exists.", truncate(resourceID))
		}
		if err := storage.PutJSON(ctx, tx, miKey(mi.TenantID, mi.ClientID), mi); err != nil {
			return err
		}
		if err := storage.PutJSON(ctx, tx, miResourceKey(resourceID), miRef{TenantID: mi.TenantID, ClientID: mi.ClientID}); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, objectKey(mi.TenantID, mi.PrincipalID), objectRef{Kind: KindManagedIdentity, ClientID: mi.ClientID})
	})
	if err != nil {
		return ManagedIdentity{}, storageError("create managed identity", err)
	}
	s.log.InfoContext(ctx, "managed identity created", "tenant", mi.TenantID, "client_id", mi.ClientID)
	return mi, nil
}

// ManagedIdentity returns the identity whose client id is clientID.
func (s *Service) ManagedIdentity(ctx context.Context, tenantID, clientID string) (ManagedIdentity, error) {
	tid, ok1 := NormalizeGUID(tenantID)
	id, ok2 := NormalizeGUID(clientID)
	if !ok1 || !ok2 {
		return ManagedIdentity{}, notFound("Managed identity '%s' not found.", truncate(clientID))
	}
	return getManagedIdentity(ctx, s.st, tid, id)
}

func getManagedIdentity(ctx context.Context, st storage.Store, tid, clientID string) (ManagedIdentity, error) {
	var mi ManagedIdentity
	err := storage.GetJSON(ctx, st, miKey(tid, clientID), &mi)
	if errors.Is(err, storage.ErrNotFound) {
		return ManagedIdentity{}, notFound("Managed identity '%s' not found in tenant '%s'.", clientID, tid)
	}
	if err != nil {
		return ManagedIdentity{}, storageError("get managed identity", err)
	}
	return mi, nil
}

// ManagedIdentityByResourceID returns the identity of an ARM resource id (any case).
func (s *Service) ManagedIdentityByResourceID(ctx context.Context, resourceID string) (ManagedIdentity, error) {
	var ref miRef
	err := storage.GetJSON(ctx, s.st, miResourceKey(resourceID), &ref)
	if errors.Is(err, storage.ErrNotFound) {
		return ManagedIdentity{}, notFound("No managed identity for resource '%s'.", truncate(resourceID))
	}
	if err != nil {
		return ManagedIdentity{}, storageError("get managed identity", err)
	}
	return getManagedIdentity(ctx, s.st, ref.TenantID, ref.ClientID)
}

// ManagedIdentities lists tenantID's managed identities in client-id order.
func (s *Service) ManagedIdentities(ctx context.Context, tenantID string) ([]ManagedIdentity, error) {
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	mis, err := storage.ListJSON[ManagedIdentity](ctx, s.st, scoped(t.ID, "mis/"), "", 0)
	if err != nil {
		return nil, storageError("list managed identities", err)
	}
	return mis, nil
}

// DeleteManagedIdentity removes the identity and its federated credentials. Identity
// endpoint credentials bound to it stop issuing tokens for it.
func (s *Service) DeleteManagedIdentity(ctx context.Context, tenantID, clientID string) error {
	mi, err := s.ManagedIdentity(ctx, tenantID, clientID)
	if err != nil {
		return err
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if err := storage.DeletePrefix(ctx, tx, ficPrefix(mi.TenantID, mi.ClientID)); err != nil {
			return err
		}
		for _, k := range []string{miResourceKey(mi.ResourceID), objectKey(mi.TenantID, mi.PrincipalID), miKey(mi.TenantID, mi.ClientID)} {
			if err := tx.Delete(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storageError("delete managed identity", err)
	}
	s.log.InfoContext(ctx, "managed identity deleted", "tenant", mi.TenantID, "client_id", mi.ClientID)
	return nil
}
