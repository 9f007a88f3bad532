package arm

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// IdentityType is the ARM resource type of a user-assigned managed identity.
const IdentityType = "Microsoft.ManagedIdentity/userAssignedIdentities"

const (
	actionIdentityRead   = "Microsoft.ManagedIdentity/userAssignedIdentities/read"
	actionIdentityWrite  = "Microsoft.ManagedIdentity/userAssignedIdentities/write"
	actionIdentityDelete = "Microsoft.ManagedIdentity/userAssignedIdentities/delete"
	// actionIdentityAssign is what lets a principal attach an identity to a workload, and so
	// what a principal needs to mint an identity-endpoint credential for it.
	actionIdentityAssign = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
	actionFICRead        = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read"
	actionFICWrite       = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
	actionFICDelete      = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete"
)

// Identity is a user-assigned managed identity: an ARM resource backed by a service
// principal of the identity service.
type Identity struct {
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	TenantID       string            `json:"tenantId"`
	PrincipalID    string            `json:"principalId"`
	ClientID       string            `json:"clientId"`
	SystemData     SystemData        `json:"systemData"`
}

// ID returns the identity's resource id.
func (id *Identity) ID() string {
	return resourceScope(id.SubscriptionID, id.ResourceGroup, IdentityType, id.Name)
}

// CheckIdentityName validates a user-assigned identity name as Azure does: 3–128
// characters, letters, digits, hyphens and underscores, starting with a letter or digit.
func CheckIdentityName(name string) error {
	ok := len(name) >= 3 && len(name) <= 128
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		ok = alnum || i > 0 && (c == '-' || c == '_')
	}
	if !ok {
		return errInvalidParameter("The user-assigned identity name '%s' is invalid: it must be 3 to 128 letters, digits, hyphens or underscores, starting with a letter or digit.", clip(name))
	}
	return nil
}

// IdentityParams are the writable properties of an identity.
type IdentityParams struct {
	Location string
	Tags     map[string]string
	TagsSet  bool
}

// PutIdentity creates the identity name in group, or updates its tags. created reports
// whether it is new.
func (s *Service) PutIdentity(ctx context.Context, c Caller, sub, group, name string, p IdentityParams) (id Identity, created bool, err error) {
	if err := CheckIdentityName(name); err != nil {
		return Identity{}, false, err
	}
	if err := s.authorize(c, resourceScope(sub, group, IdentityType, name), actionIdentityWrite); err != nil {
		return Identity{}, false, err
	}
	if err := checkTags(p.Tags); err != nil {
		return Identity{}, false, err
	}
	loc, ok := NormalizeLocation(p.Location)
	if !ok {
		if strings.TrimSpace(p.Location) == "" {
			return Identity{}, false, fault.New(fault.BadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		return Identity{}, false, errLocationNotAvailable(p.Location, IdentityType)
	}
	g, err := s.liveGroup(ctx, s.store, sub, group)
	if err != nil {
		return Identity{}, false, err
	}
	// Updating an existing identity only touches its record.
	if id, err := s.updateIdentity(ctx, c, sub, group, name, loc, p); err == nil || !fault.Is(err, fault.NotFound) {
		return id, false, err
	}
	subscription, err := s.subscription(ctx, s.store, sub)
	if err != nil {
		return Identity{}, false, err
	}
	id = Identity{Name: name, SubscriptionID: subscription.ID, ResourceGroup: g.Name, Location: loc, Tags: maps.Clone(p.Tags), TenantID: subscription.TenantID}
	mi, err := s.dir.CreateManagedIdentity(ctx, subscription.TenantID, id.ID())
	if err != nil {
		return Identity{}, false, err
	}
	id.PrincipalID, id.ClientID = strings.ToLower(mi.PrincipalID), strings.ToLower(mi.ClientID)
	id.SystemData = id.SystemData.touch(c, s.now().UTC())
	var existing *Identity
	err = s.update(ctx, func(tx storage.Store, _ *changes) error {
		existing = nil
		if _, err := s.liveGroup(ctx, tx, sub, group); err != nil {
			return err
		}
		var cur Identity
		if err := storage.GetJSON(ctx, tx, identityKey(sub, group, name), &cur); err == nil {
			existing = &cur // a concurrent PUT created it first
			return nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := storage.PutJSON(ctx, tx, identityKey(sub, group, name), id); err != nil {
			return err
		}
		return tx.Put(ctx, memberKey(sub, group, memberIdentity, name), nil)
	})
	if err != nil || existing != nil {
		if derr := s.dir.DeleteManagedIdentity(ctx, id.TenantID, id.ClientID); derr != nil {
			s.log.Error("could not delete the principal of an identity that was not stored", "principal", id.PrincipalID, "err", derr)
		}
		if err != nil {
			return Identity{}, false, err
		}
		return *existing, false, nil
	}
	return id, true, nil
}

// updateIdentity replaces the tags of an existing identity; NotFound when there is none.
func (s *Service) updateIdentity(ctx context.Context, c Caller, sub, group, name, loc string, p IdentityParams) (Identity, error) {
	var id Identity
	err := s.update(ctx, func(tx storage.Store, _ *changes) error {
		var err error
		if id, err = s.identity(ctx, tx, sub, group, name); err != nil {
			return err
		}
		if id.Location != loc {
			return errInvalidParameter("The location of identity '%s' is '%s' and cannot be changed to '%s'.", id.Name, id.Location, loc)
		}
		id.Tags = maps.Clone(p.Tags)
		id.SystemData = id.SystemData.touch(c, s.now().UTC())
		return storage.PutJSON(ctx, tx, identityKey(sub, group, name), id)
	})
	return id, err
}

// PatchIdentity replaces the tags of an existing identity when p.TagsSet.
func (s *Service) PatchIdentity(ctx context.Context, c Caller, sub, group, name string, p IdentityParams) (Identity, error) {
	if err := s.authorize(c, resourceScope(sub, group, IdentityType, name), actionIdentityWrite); err != nil {
		return Identity{}, err
	}
	if err := checkTags(p.Tags); err != nil {
		return Identity{}, err
	}
	var id Identity
	err := s.update(ctx, func(tx storage.Store, _ *changes) error {
		var err error
		if id, err = s.identity(ctx, tx, sub, group, name); err != nil {
			return err
		}
		if p.TagsSet {
			id.Tags = maps.Clone(p.Tags)
		}
		id.SystemData = id.SystemData.touch(c, s.now().UTC())
		return storage.PutJSON(ctx, tx, identityKey(sub, group, name), id)
	})
	return id, err
}

// GetIdentity returns a user-assigned identity.
func (s *Service) GetIdentity(ctx context.Context, c Caller, sub, group, name string) (Identity, error) {
	if err := s.authorize(c, resourceScope(sub, group, IdentityType, name), actionIdentityRead); err != nil {
		return Identity{}, err
	}
	return s.identity(ctx, s.store, sub, group, name)
}

func (s *Service) identity(ctx context.Context, st storage.Store, sub, group, name string) (Identity, error) {
	if _, err := s.group(ctx, st, sub, group); err != nil {
		return Identity{}, err
	}
	var id Identity
	if err := storage.GetJSON(ctx, st, identityKey(sub, group, name), &id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Identity{}, errResourceNotFound(IdentityType, name, group)
		}
		return Identity{}, storageError("get identity", err)
	}
	return id, nil
}

// ListIdentities returns the identities the caller may read in subscription sub, or in
// group when it is not empty, by name.
func (s *Service) ListIdentities(ctx context.Context, c Caller, sub, group string) ([]Identity, error) {
	prefix := prefixIdentities + strings.ToLower(sub) + "/"
	if group != "" {
		if _, err := s.group(ctx, s.store, sub, group); err != nil {
			return nil, err
		}
		prefix += strings.ToLower(group) + "/"
	} else if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return nil, err
	}
	var out []Identity
	err := listJSON(ctx, s.store, prefix, func(_ string, id *Identity) error {
		if s.allowed(c, id.ID(), actionIdentityRead) {
			out = append(out, *id)
		}
		return nil
	})
	if err != nil {
		return nil, storageError("list identities", err)
	}
	slices.SortFunc(out, func(a, b Identity) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// DeleteIdentity deletes an identity, its service principal and federated credentials, and
// the role assignments at its scope. existed is false when there was none.
func (s *Service) DeleteIdentity(ctx context.Context, c Caller, sub, group, name string) (existed bool, err error) {
	if err := s.authorize(c, resourceScope(sub, group, IdentityType, name), actionIdentityDelete); err != nil {
		return false, err
	}
	id, err := s.identity(ctx, s.store, sub, group, name)
	if err != nil {
		if fe, ok := fault.As(err); ok && fe.Code == "ResourceNotFound" {
			return false, nil
		}
		return false, err
	}
	return true, s.removeIdentity(ctx, &id)
}

// removeIdentity deletes the principal first, then the record: a failure in between leaves
// a record whose delete can be retried.
func (s *Service) removeIdentity(ctx context.Context, id *Identity) error {
	if err := s.dir.DeleteManagedIdentity(ctx, id.TenantID, id.ClientID); err != nil {
		return err
	}
	return s.update(ctx, func(tx storage.Store, ch *changes) error {
		if err := tx.Delete(ctx, identityKey(id.SubscriptionID, id.ResourceGroup, id.Name)); err != nil {
			return err
		}
		if err := tx.Delete(ctx, memberKey(id.SubscriptionID, id.ResourceGroup, memberIdentity, id.Name)); err != nil {
			return err
		}
		scope, err := parseScope(id.ID())
		if err != nil {
			return err
		}
		return s.deleteAssignmentsBelow(ctx, tx, ch, scope)
	})
}

// IssueIdentityEndpointCredential mints an identity-endpoint credential for the identity
// (Keystage only: there is no such ARM action in Azure). The caller needs the right to
// assign the identity to a workload (userAssignedIdentities/assign/action), which Owner,
// Contributor and Managed Identity Operator hold.
func (s *Service) IssueIdentityEndpointCredential(ctx context.Context, c Caller, sub, group, name string) (Identity, IdentityEndpointCredential, error) {
	if err := s.authorize(c, resourceScope(sub, group, IdentityType, name), actionIdentityAssign); err != nil {
		return Identity{}, IdentityEndpointCredential{}, err
	}
	id, err := s.identity(ctx, s.store, sub, group, name)
	if err != nil {
		return Identity{}, IdentityEndpointCredential{}, err
	}
	cred, err := s.dir.IssueIdentityEndpointCredential(ctx, id.TenantID, id.ClientID)
	if err != nil {
		return Identity{}, IdentityEndpointCredential{}, err
	}
	s.log.Info("identity endpoint credential issued", "identity", id.ID(), "caller", c.ObjectID)
	return id, cred, nil
}
