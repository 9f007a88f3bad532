package arm

import (
	"context"
	"strings"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/storage"
)

// The operation kinds of PUT .../vaults/{name}/accessPolicies/{kind}.
const (
	AccessPolicyAdd     = "add"
	AccessPolicyReplace = "replace"
	AccessPolicyRemove  = "remove"
)

// UpdateAccessPolicies changes some access policy entries of a vault, matching entries on
// (tenantId, objectId, applicationId) as az keyvault set-policy does:
//
//   - add merges the given permissions into the matching entry, or appends the entry;
//   - replace sets the matching entry's permissions to the given ones, or appends the entry;
//   - remove deletes the matching entries (their permission lists are not consulted).
//
// It returns the entries of the request, normalized, as ARM echoes them. The write needs
// Microsoft.KeyVault/vaults/accessPolicies/write, which Contributor and Key Vault
// Contributor hold: on a vault that uses access policies they can grant themselves data
// access, a documented Azure escalation path that this method logs.
func (s *Service) UpdateAccessPolicies(ctx context.Context, c Caller, sub, group, name, kind string, entries []authz.AccessPolicyEntry) ([]authz.AccessPolicyEntry, error) {
	kind = strings.ToLower(kind)
	if kind != AccessPolicyAdd && kind != AccessPolicyReplace && kind != AccessPolicyRemove {
		return nil, errInvalidParameter("The access policy operation '%s' is not valid; it must be 'add', 'replace' or 'remove'.", clip(kind))
	}
	if err := s.authorize(c, resourceScope(sub, group, VaultType, name), actionAccessPolicyWrite); err != nil {
		return nil, err
	}
	in, err := normalizeAccessPolicies(entries)
	if err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, errInvalidParameter("The request holds no access policy entries.")
	}
	err = s.update(ctx, func(tx storage.Store, ch *changes) error {
		v, err := s.vaultIn(ctx, tx, sub, group, name)
		if err != nil {
			return err
		}
		policies := append([]authz.AccessPolicyEntry(nil), v.Properties.AccessPolicies...)
		for _, e := range in {
			i := authz.FindAccessPolicy(policies, e.TenantID, e.ObjectID, e.ApplicationID)
			switch {
			case kind == AccessPolicyRemove:
				if i >= 0 {
					policies = append(policies[:i], policies[i+1:]...)
				}
			case i < 0:
				policies = append(policies, e)
			case kind == AccessPolicyReplace:
				policies[i].Permissions = e.Permissions
			default:
				merged, err := mergePermissions(policies[i].Permissions, e.Permissions)
				if err != nil {
					return err
				}
				policies[i].Permissions = merged
			}
		}
		if err := authz.ValidateAccessPolicies(policies); err != nil {
			return errInvalidParameter("Invalid access policy: %s.", strings.TrimPrefix(err.Error(), "authz: "))
		}
		v.Properties.AccessPolicies = policies
		v.SystemData = v.SystemData.touch(c, s.now().UTC())
		return s.putVault(ctx, tx, ch, &v)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("vault access policies changed", "vault", name, "operation", kind, "caller", c.ObjectID, "entries", len(in))
	return in, nil
}

// mergePermissions returns the union of a and b, category by category.
func mergePermissions(a, b authz.AccessPolicyPermissions) (authz.AccessPolicyPermissions, error) {
	u := authz.AccessPolicyPermissions{
		Keys:         append(append([]string(nil), a.Keys...), b.Keys...),
		Secrets:      append(append([]string(nil), a.Secrets...), b.Secrets...),
		Certificates: append(append([]string(nil), a.Certificates...), b.Certificates...),
		Storage:      append(append([]string(nil), a.Storage...), b.Storage...),
	}
	n, err := u.Normalized()
	if err != nil {
		return authz.AccessPolicyPermissions{}, errInvalidParameter("Invalid access policy: %s.", strings.TrimPrefix(err.Error(), "authz: "))
	}
	return n, nil
}
