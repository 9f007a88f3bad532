package arm

import (
	"strings"

	"github.com/keystage/keystage/internal/authz"
)

// VaultInfo is what the Key Vault data plane needs about a vault on every request. Values
// returned by the Service are shared and must not be modified.
type VaultInfo struct {
	Name string
	// Key is the vault's immutable internal id; the data plane stores secrets under it.
	Key            string
	ID             string      // ARM resource id
	Scope          authz.Scope // the vault's scope, for RBAC checks
	SubscriptionID string
	ResourceGroup  string
	Location       string
	TenantID       string
	VaultURI       string
	// EnableRbacAuthorization selects RBAC data actions instead of AccessPolicies.
	EnableRbacAuthorization   bool
	AccessPolicies            []authz.AccessPolicyEntry
	SoftDeleteRetentionInDays int
	EnablePurgeProtection     bool
}

// LookupVault returns the active vault named name (case-insensitive) from memory. Deleted
// vaults are not found. It does no I/O and is safe for concurrent use.
func (s *Service) LookupVault(name string) (*VaultInfo, bool) {
	v, ok := s.cache.vault(name)
	if !ok {
		return nil, false
	}
	return &v.info, true
}

// Roles returns every role definition, built-in and custom, as of now. The lookup is an
// immutable snapshot: later writes do not change it.
func (s *Service) Roles() authz.RoleLookup {
	return s.cache.rbac.Load().roles
}

// RoleAssignmentsFor returns the role assignments of the principal (its object id and
// groups) whose scope is scope or one of its ancestors, from memory. The returned slice is
// new; the assignments' contents must not be modified.
func (s *Service) RoleAssignmentsFor(p authz.Principal, scope authz.Scope) []authz.Assignment {
	snap := s.cache.rbac.Load()
	var out []authz.Assignment
	add := func(id string) {
		for _, a := range snap.byPrincipal[strings.ToLower(id)] {
			if a.Scope.Contains(scope) {
				out = append(out, a)
			}
		}
	}
	add(p.ObjectID)
	for _, g := range p.GroupIDs {
		add(g)
	}
	return out
}

// CheckAccess decides whether principal p may perform action (a data action when data is
// true) at scope, with the role assignments and roles in memory. It is the RBAC check of the
// data plane and of the management plane alike, and does not allocate when p has no groups.
func (s *Service) CheckAccess(p authz.Principal, scope authz.Scope, action string, data bool) authz.Decision {
	return s.check(&authz.Request{Principal: p, Action: action, DataAction: data, Scope: scope})
}

// check runs req against the principal's assignments, then those of each of its groups.
func (s *Service) check(req *authz.Request) authz.Decision {
	snap := s.cache.rbac.Load()
	condNotMet := false
	try := func(id string) (authz.Decision, bool) {
		list := snap.byPrincipal[strings.ToLower(id)]
		if len(list) == 0 {
			return authz.Decision{}, false
		}
		r := authz.RBAC{Assignments: list, Roles: snap.roles}
		d := r.Check(req)
		condNotMet = condNotMet || d.ConditionNotMet
		return d, d.Allowed
	}
	if d, ok := try(req.Principal.ObjectID); ok {
		return d
	}
	for _, g := range req.Principal.GroupIDs {
		if d, ok := try(g); ok {
			return d
		}
	}
	return authz.Decision{Reason: authz.DeniedWithNoValidRBAC, ConditionNotMet: condNotMet}
}
