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

// RoleOwner is the GUID of the built-in Owner role.
const RoleOwner = authz.OwnerRoleID

const (
	actionRoleAssignmentRead   = "Microsoft.Authorization/roleAssignments/read"
	actionRoleAssignmentWrite  = "Microsoft.Authorization/roleAssignments/write"
	actionRoleAssignmentDelete = "Microsoft.Authorization/roleAssignments/delete"
)

// DefaultMaxRoleAssignments is Azure's limit on role assignments in one subscription;
// Keystage applies it per subscription and to the scopes above subscriptions taken together.
const DefaultMaxRoleAssignments = 4000

// RoleAssignment grants a principal a role at a scope.
type RoleAssignment struct {
	Name             string        `json:"name"`             // a GUID, unique in the instance
	Scope            string        `json:"scope"`            // normalized scope
	RoleDefinitionID string        `json:"roleDefinitionId"` // the role's GUID, lower-case
	PrincipalID      string        `json:"principalId"`
	PrincipalType    PrincipalType `json:"principalType"`
	TenantID         string        `json:"tenantId"`
	Condition        string        `json:"condition,omitempty"`
	ConditionVersion string        `json:"conditionVersion,omitempty"`
	Description      string        `json:"description,omitempty"`
	CreatedOn        time.Time     `json:"createdOn"`
	UpdatedOn        time.Time     `json:"updatedOn"`
	CreatedBy        string        `json:"createdBy,omitempty"`
	UpdatedBy        string        `json:"updatedBy,omitempty"`
}

// ID returns the assignment's resource id.
func (ra *RoleAssignment) ID() string {
	return extensionID(ra.Scope, "roleAssignments", ra.Name)
}

// RoleDefinitionResourceID returns the full id of the assignment's role as ARM shows it:
// under the subscription of the assignment's scope, or at the root above subscriptions.
func (ra *RoleAssignment) RoleDefinitionResourceID() string {
	sc, err := authz.ParseScope(ra.Scope)
	if err != nil || sc.SubscriptionID() == "" {
		return authz.RoleDefinitionResourceID(authz.RootScope(), ra.RoleDefinitionID)
	}
	sub, _ := authz.ParseScope(subscriptionScope(sc.SubscriptionID()))
	return authz.RoleDefinitionResourceID(sub, ra.RoleDefinitionID)
}

// extensionID returns the id of a Microsoft.Authorization resource at scope.
func extensionID(scope, resourceType, name string) string {
	if scope == "/" {
		scope = ""
	}
	return scope + "/providers/Microsoft.Authorization/" + resourceType + "/" + name
}

func (ra *RoleAssignment) compile() (authz.Assignment, error) {
	sc, err := authz.ParseScope(ra.Scope)
	if err != nil {
		return authz.Assignment{}, err
	}
	a := authz.Assignment{
		ID: ra.ID(), Scope: sc, RoleDefinitionID: ra.RoleDefinitionID,
		PrincipalID: ra.PrincipalID, PrincipalType: ra.PrincipalType,
		Condition: ra.Condition, ConditionVersion: ra.ConditionVersion,
	}
	return a, a.Compile()
}

// RoleAssignmentParams are the properties of a role assignment PUT.
type RoleAssignmentParams struct {
	RoleDefinitionID string // a role GUID or role definition resource id
	PrincipalID      string
	PrincipalType    PrincipalType // optional; filled from the directory
	Condition        string
	ConditionVersion string
	Description      string
}

func errRoleAssignmentNotFound(name string) *fault.Error {
	return fault.New(fault.NotFound, "RoleAssignmentNotFound", "The role assignment '%s' is not found.", clip(name))
}

// parseScope parses a scope given by a caller.
func parseScope(raw string) (authz.Scope, error) {
	sc, err := authz.ParseScope(raw)
	if err != nil {
		return authz.Scope{}, fault.New(fault.BadRequest, "InvalidScope", "The scope '%s' is not valid: %s.", clip(raw), strings.TrimPrefix(err.Error(), "authz: "))
	}
	if sc.Kind() == authz.ScopeManagementGroup {
		return authz.Scope{}, errUnsupported("management groups (scope '" + clip(raw) + "')")
	}
	return sc, nil
}

// PutRoleAssignment creates the role assignment name (a GUID) at scope, or updates the
// description and condition of an existing one. created reports whether it is new. The
// caller needs Microsoft.Authorization/roleAssignments/write at scope, evaluated with the
// assignment's attributes so that conditions such as Key Vault Data Access Administrator's
// apply.
func (s *Service) PutRoleAssignment(ctx context.Context, c Caller, scope, name string, p RoleAssignmentParams) (ra RoleAssignment, created bool, err error) {
	if !isGUID(name) {
		return RoleAssignment{}, false, fault.New(fault.BadRequest, "InvalidRoleAssignmentId",
			"The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", clip(name))
	}
	sc, err := parseScope(scope)
	if err != nil {
		return RoleAssignment{}, false, err
	}
	roleID, err := authz.RoleDefinitionGUID(p.RoleDefinitionID)
	if err != nil {
		return RoleAssignment{}, false, errInvalidParameter("The roleDefinitionId '%s' is not valid: it must be a role definition id ending in a GUID.", clip(p.RoleDefinitionID))
	}
	if !isGUID(p.PrincipalID) {
		return RoleAssignment{}, false, errInvalidParameter("The principalId '%s' is not valid: it must be a GUID.", clip(p.PrincipalID))
	}
	principal := strings.ToLower(p.PrincipalID)
	req := &authz.Request{
		Action: actionRoleAssignmentWrite, Scope: sc,
		RequestAttributes: &authz.RoleAssignmentAttributes{RoleDefinitionID: roleID, PrincipalID: principal, PrincipalType: p.PrincipalType},
	}
	if err := s.authorizeRequest(c, req); err != nil {
		return RoleAssignment{}, false, err
	}
	if err := s.checkScopeExists(ctx, sc); err != nil {
		return RoleAssignment{}, false, err
	}
	role, ok := s.Roles().Role(roleID)
	if !ok {
		return RoleAssignment{}, false, fault.New(fault.BadRequest, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", roleID)
	}
	if err := role.CanAssignAt(sc); err != nil {
		return RoleAssignment{}, false, fault.New(fault.BadRequest, "InvalidRoleAssignmentScope",
			"The role '%s' cannot be assigned at scope '%s': it is not within the role's assignable scopes.", role.RoleName, sc)
	}
	ptype, err := s.dir.LookupPrincipal(ctx, c.TenantID, principal)
	if err != nil {
		if errors.Is(err, ErrPrincipalNotFound) {
			return RoleAssignment{}, false, fault.New(fault.BadRequest, "PrincipalNotFound",
				"Principal %s does not exist in the directory %s. Check that you have the correct principal ID.", strings.ReplaceAll(principal, "-", ""), c.TenantID)
		}
		return RoleAssignment{}, false, storageError("look up principal", err)
	}
	if p.PrincipalType != "" && !strings.EqualFold(string(p.PrincipalType), string(ptype)) {
		return RoleAssignment{}, false, errInvalidParameter("The principalType '%s' does not match the type of principal %s, which is '%s'.", clip(string(p.PrincipalType)), principal, ptype)
	}
	version := p.ConditionVersion
	if p.Condition != "" && version == "" {
		version = "2.0"
	}
	now := s.now().UTC()
	ra = RoleAssignment{
		Name: strings.ToLower(name), Scope: sc.String(), RoleDefinitionID: roleID,
		PrincipalID: principal, PrincipalType: ptype, TenantID: strings.ToLower(c.TenantID),
		Condition: p.Condition, ConditionVersion: version, Description: p.Description,
		CreatedOn: now, UpdatedOn: now, CreatedBy: c.ObjectID, UpdatedBy: c.ObjectID,
	}
	if _, err := ra.compile(); err != nil {
		return RoleAssignment{}, false, conditionError(err)
	}
	err = s.update(ctx, func(tx storage.Store, ch *changes) error {
		var old RoleAssignment
		err := storage.GetJSON(ctx, tx, roleAssignmentKey(name), &old)
		switch {
		case err == nil:
			if !strings.EqualFold(old.Scope, ra.Scope) || old.PrincipalID != ra.PrincipalID || old.RoleDefinitionID != ra.RoleDefinitionID {
				return fault.New(fault.Conflict, "RoleAssignmentUpdateNotPermitted",
					"Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
			}
			ra.CreatedOn, ra.CreatedBy, ra.Scope = old.CreatedOn, old.CreatedBy, old.Scope
			created = false
		case errors.Is(err, storage.ErrNotFound):
			inSub := 0
			for _, other := range s.cache.rbac.Load().assignments {
				if other.PrincipalID == ra.PrincipalID && other.RoleDefinitionID == ra.RoleDefinitionID && strings.EqualFold(other.Scope, ra.Scope) {
					return fault.New(fault.Conflict, "RoleAssignmentExists", "The role assignment already exists. The ID of the existing role assignment is %s.", other.Name)
				}
				if osc, err := authz.ParseScope(other.Scope); err == nil && strings.EqualFold(osc.SubscriptionID(), sc.SubscriptionID()) {
					inSub++
				}
			}
			if inSub >= s.cfg.MaxRoleAssignments {
				return fault.New(fault.BadRequest, "RoleAssignmentLimitExceeded",
					"No more role assignments can be created: the limit of %d role assignments per subscription (or at the root) is reached.", s.cfg.MaxRoleAssignments)
			}
			created = true
		default:
			return err
		}
		return putRoleAssignment(ctx, tx, ch, &ra)
	})
	if err != nil {
		return RoleAssignment{}, false, err
	}
	s.log.Info("role assignment written", "assignment", ra.Name, "scope", ra.Scope, "role", ra.RoleDefinitionID, "principal", ra.PrincipalID, "caller", c.ObjectID)
	return ra, created, nil
}

// conditionError maps an authz condition error to ARM's 400.
func conditionError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "authz: ")
	if errors.Is(err, authz.ErrUnsupportedCondition) {
		return fault.New(fault.BadRequest, "UnsupportedCondition", "The role assignment condition is not supported by Keystage: %s.", msg)
	}
	return fault.New(fault.BadRequest, "InvalidCondition", "The role assignment condition is invalid: %s.", msg)
}

func putRoleAssignment(ctx context.Context, tx storage.Store, ch *changes, ra *RoleAssignment) error {
	if err := storage.PutJSON(ctx, tx, roleAssignmentKey(ra.Name), ra); err != nil {
		return err
	}
	ch.putAssignment(ra)
	return nil
}

// checkScopeExists fails when the subscription, resource group or resource a scope names
// does not exist, as ARM does before storing a role assignment there.
func (s *Service) checkScopeExists(ctx context.Context, sc authz.Scope) error {
	sub := sc.SubscriptionID()
	if sub == "" {
		return nil
	}
	if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return err
	}
	group := sc.ResourceGroup()
	if group == "" {
		return nil
	}
	if _, err := s.group(ctx, s.store, sub, group); err != nil {
		return err
	}
	if sc.Kind() != authz.ScopeResource {
		return nil
	}
	return s.checkResourceExists(ctx, sc, sub, group)
}

// checkResourceExists checks the top-level resource of a resource scope: a vault or a
// user-assigned identity (scopes below them, such as a secret, need only their parent).
func (s *Service) checkResourceExists(ctx context.Context, sc authz.Scope, sub, group string) error {
	rest := strings.TrimPrefix(sc.String()[len(groupScope(sub, group)):], "/providers/")
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		return nil
	}
	typ := parts[0] + "/" + parts[1]
	switch {
	case strings.EqualFold(typ, VaultType):
		_, err := s.vaultIn(ctx, s.store, sub, group, parts[2])
		return err
	case strings.EqualFold(typ, IdentityType):
		_, err := s.identity(ctx, s.store, sub, group, parts[2])
		return err
	}
	return fault.New(fault.BadRequest, "InvalidResourceType", "The resource type '%s' is not served by Keystage, so it cannot be a role assignment scope.", clip(typ))
}

// GetRoleAssignment returns the assignment name, which must be at scope.
func (s *Service) GetRoleAssignment(ctx context.Context, c Caller, scope, name string) (RoleAssignment, error) {
	sc, err := parseScope(scope)
	if err != nil {
		return RoleAssignment{}, err
	}
	if err := s.authorizeRequest(c, &authz.Request{Action: actionRoleAssignmentRead, Scope: sc}); err != nil {
		return RoleAssignment{}, err
	}
	ra, ok := s.cache.rbac.Load().assignments[strings.ToLower(name)]
	if !ok || !strings.EqualFold(ra.Scope, sc.String()) {
		return RoleAssignment{}, errRoleAssignmentNotFound(name)
	}
	return *ra, nil
}

// DeleteRoleAssignment deletes the assignment name at scope. existed is false when there was
// none (ARM answers 204). The caller needs roleAssignments/delete at scope, evaluated with
// the assignment's attributes.
func (s *Service) DeleteRoleAssignment(ctx context.Context, c Caller, scope, name string) (ra RoleAssignment, existed bool, err error) {
	sc, err := parseScope(scope)
	if err != nil {
		return RoleAssignment{}, false, err
	}
	cur, ok := s.cache.rbac.Load().assignments[strings.ToLower(name)]
	req := &authz.Request{Action: actionRoleAssignmentDelete, Scope: sc}
	if ok && strings.EqualFold(cur.Scope, sc.String()) {
		req.ResourceAttributes = &authz.RoleAssignmentAttributes{RoleDefinitionID: cur.RoleDefinitionID, PrincipalID: cur.PrincipalID, PrincipalType: cur.PrincipalType}
	}
	if err := s.authorizeRequest(c, req); err != nil {
		return RoleAssignment{}, false, err
	}
	err = s.update(ctx, func(tx storage.Store, ch *changes) error {
		err := storage.GetJSON(ctx, tx, roleAssignmentKey(name), &ra)
		if errors.Is(err, storage.ErrNotFound) || err == nil && !strings.EqualFold(ra.Scope, sc.String()) {
			existed = false
			return nil
		}
		if err != nil {
			return err
		}
		if req.ResourceAttributes == nil || req.ResourceAttributes.RoleDefinitionID != ra.RoleDefinitionID {
			// The cache did not hold this assignment when the caller was authorized; check again
			// with its attributes, since a condition may depend on them.
			return fault.New(fault.Conflict, "Conflict", "The role assignment '%s' changed while it was being deleted; retry the request.", ra.Name)
		}
		existed = true
		if err := tx.Delete(ctx, roleAssignmentKey(name)); err != nil {
			return err
		}
		ch.deleteAssignment(name)
		return nil
	})
	if err != nil {
		return RoleAssignment{}, false, err
	}
	if existed {
		s.log.Info("role assignment deleted", "assignment", ra.Name, "scope", ra.Scope, "role", ra.RoleDefinitionID, "principal", ra.PrincipalID, "caller", c.ObjectID)
	}
	return ra, existed, nil
}

// deleteAssignmentsBelow deletes, inside tx, every role assignment at scope or below it; a
// deleted resource takes its role assignments with it, so that a later resource of the same
// name does not inherit them.
func (s *Service) deleteAssignmentsBelow(ctx context.Context, tx storage.Store, ch *changes, scope authz.Scope) error {
	for _, ra := range s.cache.rbac.Load().assignments {
		sc, err := authz.ParseScope(ra.Scope)
		if err != nil || !scope.Contains(sc) {
			continue
		}
		if err := tx.Delete(ctx, roleAssignmentKey(ra.Name)); err != nil {
			return err
		}
		ch.deleteAssignment(ra.Name)
	}
	return nil
}

// AssignmentFilter narrows ListRoleAssignments, as ARM's $filter does.
type AssignmentFilter struct {
	// AtScope keeps assignments at the scope or above it (atScope()); otherwise assignments
	// below the scope are included too.
	AtScope bool
	// PrincipalID keeps the assignments of one principal (principalId eq '…').
	PrincipalID string
	// AssignedTo keeps the assignments of a principal and of its groups (assignedTo('…')).
	AssignedTo string
}

// ListRoleAssignments returns the role assignments that apply at scope (at it and above it)
// and, unless f.AtScope, those below it, filtered by f, sorted by scope then name.
func (s *Service) ListRoleAssignments(ctx context.Context, c Caller, scope string, f AssignmentFilter) ([]RoleAssignment, error) {
	sc, err := parseScope(scope)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeRequest(c, &authz.Request{Action: actionRoleAssignmentRead, Scope: sc}); err != nil {
		return nil, err
	}
	if err := s.checkScopeExists(ctx, sc); err != nil {
		return nil, err
	}
	principals := map[string]bool{}
	if f.PrincipalID != "" {
		principals[strings.ToLower(f.PrincipalID)] = true
	}
	if f.AssignedTo != "" {
		principals[strings.ToLower(f.AssignedTo)] = true
		groups, err := s.dir.GroupsOf(ctx, c.TenantID, f.AssignedTo)
		if err != nil {
			return nil, storageError("look up group membership", err)
		}
		for _, g := range groups {
			principals[strings.ToLower(g)] = true
		}
	}
	var out []RoleAssignment
	for _, ra := range s.cache.rbac.Load().assignments {
		if len(principals) > 0 && !principals[ra.PrincipalID] {
			continue
		}
		as, err := authz.ParseScope(ra.Scope)
		if err != nil {
			continue
		}
		if !as.Contains(sc) && (f.AtScope || !sc.Contains(as)) {
			continue
		}
		if !strings.EqualFold(ra.TenantID, c.TenantID) {
			continue
		}
		out = append(out, *ra)
	}
	slices.SortFunc(out, func(a, b RoleAssignment) int {
		if c := strings.Compare(strings.ToLower(a.Scope), strings.ToLower(b.Scope)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}
