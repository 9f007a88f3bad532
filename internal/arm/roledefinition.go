package arm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

const (
	actionRoleDefinitionRead   = "Microsoft.Authorization/roleDefinitions/read"
	actionRoleDefinitionWrite  = "Microsoft.Authorization/roleDefinitions/write"
	actionRoleDefinitionDelete = "Microsoft.Authorization/roleDefinitions/delete"
)

// MaxCustomRolesPerTenant is Azure's limit on custom roles in one tenant.
const MaxCustomRolesPerTenant = 5000

// CustomRole is a stored custom role definition.
type CustomRole struct {
	Definition authz.RoleDefinition `json:"definition"`
	TenantID   string               `json:"tenantId"`
	CreatedOn  time.Time            `json:"createdOn"`
	UpdatedOn  time.Time            `json:"updatedOn"`
	CreatedBy  string               `json:"createdBy,omitempty"`
	UpdatedBy  string               `json:"updatedBy,omitempty"`
}

// RoleDefinition is a role definition as the management plane returns it: a built-in role
// (zero times) or a custom one.
type RoleDefinition struct {
	authz.RoleDefinition
	CreatedOn time.Time
	UpdatedOn time.Time
	CreatedBy string
	UpdatedBy string
}

func errRoleDefinitionNotFound(id string) *fault.Error {
	return fault.New(fault.NotFound, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", clip(id))
}

// RoleDefinitionFilter narrows ListRoleDefinitions ($filter=roleName eq '…' or type eq '…').
type RoleDefinitionFilter struct {
	RoleName string         // exact name, case-insensitive
	Type     authz.RoleType // BuiltInRole or CustomRole
}

// ListRoleDefinitions returns the role definitions usable at scope: every built-in role and
// the custom roles of the caller's tenant that are assignable at scope or below it, by name.
func (s *Service) ListRoleDefinitions(ctx context.Context, c Caller, scope string, f RoleDefinitionFilter) ([]RoleDefinition, error) {
	sc, err := parseScope(scope)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeRequest(c, &authz.Request{Action: actionRoleDefinitionRead, Scope: sc}); err != nil {
		return nil, err
	}
	snap := s.cache.rbac.Load()
	var out []RoleDefinition
	for _, d := range snap.roles.All() {
		if f.RoleName != "" && !strings.EqualFold(d.RoleName, f.RoleName) {
			continue
		}
		if f.Type != "" && !strings.EqualFold(string(f.Type), string(d.RoleType)) {
			continue
		}
		rd := RoleDefinition{RoleDefinition: *d}
		if cr, ok := snap.custom[strings.ToLower(d.ID)]; ok {
			if !strings.EqualFold(cr.TenantID, c.TenantID) || !assignableNear(d, sc) {
				continue
			}
			rd.CreatedOn, rd.UpdatedOn, rd.CreatedBy, rd.UpdatedBy = cr.CreatedOn, cr.UpdatedOn, cr.CreatedBy, cr.UpdatedBy
		}
		out = append(out, rd)
	}
	return out, nil
}

// assignableNear reports whether one of d's assignable scopes contains sc or lies below it.
func assignableNear(d *authz.RoleDefinition, sc authz.Scope) bool {
	for _, raw := range d.AssignableScopes {
		a, err := authz.ParseScope(raw)
		if err == nil && (a.Contains(sc) || sc.Contains(a)) {
			return true
		}
	}
	return false
}

// GetRoleDefinition returns the role definition with GUID id as seen from scope.
func (s *Service) GetRoleDefinition(ctx context.Context, c Caller, scope, id string) (RoleDefinition, error) {
	sc, err := parseScope(scope)
	if err != nil {
		return RoleDefinition{}, err
	}
	if err := s.authorizeRequest(c, &authz.Request{Action: actionRoleDefinitionRead, Scope: sc}); err != nil {
		return RoleDefinition{}, err
	}
	snap := s.cache.rbac.Load()
	d, ok := snap.roles.Role(id)
	if !ok || !isGUID(id) {
		return RoleDefinition{}, errRoleDefinitionNotFound(id)
	}
	rd := RoleDefinition{RoleDefinition: *d}
	if cr, ok := snap.custom[strings.ToLower(d.ID)]; ok {
		if !strings.EqualFold(cr.TenantID, c.TenantID) {
			return RoleDefinition{}, errRoleDefinitionNotFound(id)
		}
		rd.CreatedOn, rd.UpdatedOn, rd.CreatedBy, rd.UpdatedBy = cr.CreatedOn, cr.UpdatedOn, cr.CreatedBy, cr.UpdatedBy
	}
	return rd, nil
}

// PutRoleDefinition creates or updates the custom role with GUID id. The caller needs
// roleDefinitions/write at every assignable scope of the new definition (and of the old one
// when updating). Built-in roles cannot be changed.
func (s *Service) PutRoleDefinition(ctx context.Context, c Caller, scope, id string, def authz.RoleDefinition) (RoleDefinition, error) {
	if _, err := parseScope(scope); err != nil {
		return RoleDefinition{}, err
	}
	if !isGUID(id) {
		return RoleDefinition{}, errInvalidParameter("The role definition ID '%s' is not valid: it must be a GUID.", clip(id))
	}
	id = strings.ToLower(id)
	def.ID = id
	if def.RoleType == "" {
		def.RoleType = authz.CustomRole
	}
	if err := def.ValidateCustom(); err != nil {
		return RoleDefinition{}, errInvalidParameter("%s.", strings.TrimPrefix(err.Error(), "authz: "))
	}
	snap := s.cache.rbac.Load()
	if d, ok := snap.roles.Role(id); ok && d.RoleType == authz.BuiltInRole {
		return RoleDefinition{}, fault.New(fault.BadRequest, "RoleDefinitionIsBuiltIn", "The role definition '%s' (%s) is built in and cannot be changed.", id, d.RoleName)
	}
	scopes := slices.Clone(def.AssignableScopes)
	if old, ok := snap.custom[id]; ok {
		scopes = append(scopes, old.Definition.AssignableScopes...)
	}
	for i, raw := range scopes {
		sc, err := parseScope(raw)
		if err != nil {
			return RoleDefinition{}, err
		}
		if i < len(def.AssignableScopes) {
			def.AssignableScopes[i] = sc.String()
			if err := s.checkScopeExists(ctx, sc); err != nil {
				return RoleDefinition{}, err
			}
		}
		if err := s.authorizeRequest(c, &authz.Request{Action: actionRoleDefinitionWrite, Scope: sc}); err != nil {
			return RoleDefinition{}, err
		}
	}
	now := s.now().UTC()
	cr := CustomRole{Definition: def, TenantID: strings.ToLower(c.TenantID), CreatedOn: now, UpdatedOn: now, CreatedBy: c.ObjectID, UpdatedBy: c.ObjectID}
	err := s.update(ctx, func(tx storage.Store, ch *changes) error {
		snap := s.cache.rbac.Load() // current under the write lock
		for _, d := range snap.roles.All() {
			if !strings.EqualFold(d.ID, id) && strings.EqualFold(d.RoleName, def.RoleName) {
				return fault.New(fault.Conflict, "RoleDefinitionWithSameNameExists", "A role definition cannot be updated with a name that already exists.")
			}
		}
		var old CustomRole
		err := storage.GetJSON(ctx, tx, roleDefinitionKey(id), &old)
		if errors.Is(err, storage.ErrNotFound) {
			n := 0
			for _, cr := range snap.custom {
				if strings.EqualFold(cr.TenantID, c.TenantID) {
					n++
				}
			}
			if n >= MaxCustomRolesPerTenant {
				return fault.New(fault.BadRequest, "RoleDefinitionLimitExceeded", "No more custom roles can be created: the limit of %d per tenant is reached.", MaxCustomRolesPerTenant)
			}
		}
		switch {
		case err == nil:
			if !strings.EqualFold(old.TenantID, cr.TenantID) {
				return errRoleDefinitionNotFound(id)
			}
			cr.CreatedOn, cr.CreatedBy = old.CreatedOn, old.CreatedBy
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		// The cache rebuilds the role set from every role; build it here first, so that a
		// definition it would refuse (a name the set folds onto another's) is refused now
		// instead of leaving the cache with the built-in roles only.
		defs := []authz.RoleDefinition{def}
		for _, d := range snap.roles.All() {
			if !strings.EqualFold(d.ID, id) {
				defs = append(defs, *d)
			}
		}
		if _, err := authz.NewRoleSet(defs...); err != nil {
			return errInvalidParameter("%s.", strings.TrimPrefix(err.Error(), "authz: "))
		}
		if err := storage.PutJSON(ctx, tx, roleDefinitionKey(id), cr); err != nil {
			return err
		}
		ch.putRole(&cr)
		return nil
	})
	if err != nil {
		return RoleDefinition{}, err
	}
	s.log.Info("custom role definition written", "role", id, "name", def.RoleName, "caller", c.ObjectID)
	return RoleDefinition{RoleDefinition: cr.Definition, CreatedOn: cr.CreatedOn, UpdatedOn: cr.UpdatedOn, CreatedBy: cr.CreatedBy, UpdatedBy: cr.UpdatedBy}, nil
}

// DeleteRoleDefinition deletes the custom role id. existed is false when there is none (ARM
// answers 204). A role that is still assigned cannot be deleted.
func (s *Service) DeleteRoleDefinition(ctx context.Context, c Caller, scope, id string) (rd RoleDefinition, existed bool, err error) {
	sc, err := parseScope(scope)
	if err != nil {
		return RoleDefinition{}, false, err
	}
	if err := s.authorizeRequest(c, &authz.Request{Action: actionRoleDefinitionDelete, Scope: sc}); err != nil {
		return RoleDefinition{}, false, err
	}
	id = strings.ToLower(id)
	if d, ok := s.Roles().Role(id); ok && d.RoleType == authz.BuiltInRole {
		return RoleDefinition{}, false, fault.New(fault.BadRequest, "RoleDefinitionIsBuiltIn", "The role definition '%s' (%s) is built in and cannot be deleted.", id, d.RoleName)
	}
	err = s.update(ctx, func(tx storage.Store, ch *changes) error {
		var cr CustomRole
		err := storage.GetJSON(ctx, tx, roleDefinitionKey(id), &cr)
		if errors.Is(err, storage.ErrNotFound) || err == nil && !strings.EqualFold(cr.TenantID, c.TenantID) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, ra := range s.cache.rbac.Load().assignments {
			if ra.RoleDefinitionID == id {
				return fault.New(fault.Conflict, "RoleDefinitionHasAssignments", "There are existing role assignments referencing role '%s' (for example %s); delete them first.", cr.Definition.RoleName, ra.ID())
			}
		}
		for _, raw := range cr.Definition.AssignableScopes {
			as, err := authz.ParseScope(raw)
			if err != nil {
				continue
			}
			if err := s.authorizeRequest(c, &authz.Request{Action: actionRoleDefinitionDelete, Scope: as}); err != nil {
				return err
			}
		}
		if err := tx.Delete(ctx, roleDefinitionKey(id)); err != nil {
			return err
		}
		ch.deleteRole(id)
		existed = true
		rd = RoleDefinition{RoleDefinition: cr.Definition, CreatedOn: cr.CreatedOn, UpdatedOn: cr.UpdatedOn, CreatedBy: cr.CreatedBy, UpdatedBy: cr.UpdatedBy}
		return nil
	})
	return rd, existed, err
}
