package kvhttp

import (
	"context"
	"fmt"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/keyvault"
)

// ARMDirectory is the Directory over the management plane: vaults and role assignments
// come from arm's in-memory cache, and every decision is authz.AuthorizeSecret's — the
// access policies of the vault, or RBAC data actions when the vault has
// enableRbacAuthorization — the same evaluator the management plane uses.
type ARMDirectory struct {
	ARM *arm.Service
	// GroupsOf returns the groups a principal belongs to, transitively, for access policies
	// and role assignments that name a group. It runs on every request, so it must answer
	// from memory. Nil means no groups.
	GroupsOf func(ctx context.Context, tenantID, objectID string) ([]string, error)
}

var _ Directory = ARMDirectory{}

// LookupVault implements Directory.
func (d ARMDirectory) LookupVault(name string) (Vault, bool) {
	vi, ok := d.ARM.LookupVault(name)
	if !ok {
		return Vault{}, false
	}
	return Vault{
		Vault: keyvault.Vault{
			ID: vi.Key, Name: vi.Name, TenantID: vi.TenantID,
			RetentionDays: vi.SoftDeleteRetentionInDays, PurgeProtection: vi.EnablePurgeProtection,
		},
		Location: vi.Location,
		Ref:      vi,
	}, true
}

// AuthorizeSecret implements Directory.
func (d ARMDirectory) AuthorizeSecret(ctx context.Context, v *Vault, c *token.Claims, op authz.SecretOperation, secret string) error {
	vi, ok := v.Ref.(*arm.VaultInfo)
	if !ok {
		return fmt.Errorf("kvhttp: vault %s was not looked up through this directory", v.Name)
	}
	caller := authz.Caller{
		TenantID: c.TenantID, ObjectID: c.ObjectID, ApplicationID: c.AppID,
		AppOnly: c.IDType == "app", Issuer: c.Issuer,
	}
	if d.GroupsOf != nil {
		groups, err := d.GroupsOf(ctx, c.TenantID, c.ObjectID)
		if err != nil {
			return errUnavailable().Wrap(err)
		}
		caller.GroupIDs = groups
	}
	av := authz.Vault{
		Name: vi.Name, Location: vi.Location, Scope: vi.Scope,
		EnableRBACAuthorization: vi.EnableRbacAuthorization, AccessPolicies: vi.AccessPolicies,
	}
	var rbac *authz.RBAC
	if vi.EnableRbacAuthorization {
		scope := vi.Scope
		if op.OnSecret() {
			s, err := vi.Scope.Child("secrets", secret)
			if err != nil { // validated names always form a scope
				return keyvault.ErrInvalidName(secret)
			}
			scope = s
		}
		rbac = &authz.RBAC{
			Assignments: d.ARM.RoleAssignmentsFor(authz.Principal{ObjectID: caller.ObjectID, GroupIDs: caller.GroupIDs}, scope),
			Roles:       d.ARM.Roles(),
		}
	}
	access := authz.AuthorizeSecret(&av, &caller, op, secret, rbac)
	switch {
	case access.Allowed:
		return nil
	case access.Err != nil:
		return access.Err
	}
	return fault.New(fault.Forbidden, authz.CodeForbidden, "The caller is not authorized to perform this operation.")
}
