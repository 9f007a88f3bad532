package authz

import (
	"errors"
	"fmt"
)

// PrincipalType is the kind of directory object a role assignment names.
type PrincipalType string

// The principal types ARM accepts on a role assignment.
const (
	PrincipalUser             PrincipalType = "User"
	PrincipalGroup            PrincipalType = "Group"
	PrincipalServicePrincipal PrincipalType = "ServicePrincipal"
	PrincipalForeignGroup     PrincipalType = "ForeignGroup"
	PrincipalDevice           PrincipalType = "Device"
)

func (t PrincipalType) valid() bool {
	switch t {
	case PrincipalUser, PrincipalGroup, PrincipalServicePrincipal, PrincipalForeignGroup, PrincipalDevice:
		return true
	}
	return false
}

// ErrInvalidAssignment is wrapped by every role- and deny-assignment validation error.
var ErrInvalidAssignment = errors.New("invalid assignment")

// Principal is the caller of an authorization check: its object id (the token's oid) and the
// object ids of the groups it belongs to, transitively, as the caller resolved them.
type Principal struct {
	ObjectID string
	GroupIDs []string
}

// matches reports whether id is the principal or one of its groups.
func (p *Principal) matches(id string) bool {
	if id == "" {
		return false
	}
	if equalFoldASCII(id, p.ObjectID) {
		return true
	}
	for _, g := range p.GroupIDs {
		if equalFoldASCII(id, g) {
			return true
		}
	}
	return false
}

// Assignment is a role assignment: a principal holds a role at a scope, optionally under an
// ABAC condition. ID is the assignment's resource id (or name), used in audit and messages;
// RoleDefinitionID is the role's GUID or full resource id.
type Assignment struct {
	ID               string
	Scope            Scope
	RoleDefinitionID string
	PrincipalID      string
	PrincipalType    PrincipalType
	Condition        string
	ConditionVersion string

	cond    *Condition
	roleKey string // the role's lower-case GUID, set by Compile
}

// Compile validates the assignment as ARM does when it is written (GUID role and principal
// ids, a known principal type when one is given, a valid scope, a supported condition) and
// parses its condition so that evaluation never reparses it. Call it once when an assignment is
// created or loaded; an uncompiled assignment with a condition still evaluates correctly, only
// slower. Compile must not be called while the assignment is being evaluated.
func (a *Assignment) Compile() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("authz: role assignment %q: %s: %w", clip(a.ID), fmt.Sprintf(format, args...), ErrInvalidAssignment)
	}
	if a.Scope.IsZero() {
		return fail("no scope")
	}
	key, err := RoleDefinitionGUID(a.RoleDefinitionID)
	if err != nil {
		return fail("roleDefinitionId: %v", err)
	}
	if !isGUID(a.PrincipalID) {
		return fail("principalId %q is not a GUID", clip(a.PrincipalID))
	}
	if a.PrincipalType != "" && !a.PrincipalType.valid() {
		return fail("principalType %q is not one of User, Group, ServicePrincipal, ForeignGroup, Device", clip(string(a.PrincipalType)))
	}
	a.cond, a.roleKey = nil, key
	if a.Condition == "" {
		if a.ConditionVersion != "" {
			return fail("conditionVersion is set without a condition")
		}
		return nil
	}
	c, err := ParseCondition(a.Condition, a.ConditionVersion)
	if err != nil {
		return fmt.Errorf("authz: role assignment %q: %w", clip(a.ID), err)
	}
	a.cond = c
	return nil
}

// roleID returns the role's GUID as Compile normalized it, or RoleDefinitionID as given when
// the assignment was not compiled or was changed since.
func (a *Assignment) roleID() string {
	if a.roleKey != "" && hasSuffixFold(a.RoleDefinitionID, a.roleKey) {
		return a.roleKey
	}
	return a.RoleDefinitionID
}

// conditionHolds evaluates the assignment's condition; no condition holds.
func (a *Assignment) conditionHolds(req *Request) bool {
	if a.Condition == "" {
		return true
	}
	c := a.cond
	if c == nil || c.text != a.Condition {
		var err error
		if c, err = ParseCondition(a.Condition, a.ConditionVersion); err != nil {
			return false
		}
	}
	return c.Evaluate(req)
}

// EveryonePrincipalID is the SystemDefined principal of a deny assignment that applies to all
// principals.
const EveryonePrincipalID = "00000000-0000-0000-0000-000000000000"

// DenyPrincipal names a principal of a deny assignment.
type DenyPrincipal struct {
	ID   string
	Type string // User, Group, ServicePrincipal, or SystemDefined for EveryonePrincipalID
}

// DenyAssignment blocks principals from actions at a scope even when a role assignment grants
// them. Its permission blocks deny Actions minus NotActions and DataActions minus
// NotDataActions. It applies to Principals (or everyone, through EveryonePrincipalID) except
// ExcludePrincipals, at Scope and, unless DoNotApplyToChildScopes, below it. Conditions on deny
// assignments are not supported.
type DenyAssignment struct {
	ID                      string
	Name                    string
	Scope                   Scope
	Permissions             []Permission
	Principals              []DenyPrincipal
	ExcludePrincipals       []DenyPrincipal
	DoNotApplyToChildScopes bool
}

// Validate checks a deny assignment: a scope, at least one principal, GUID principal ids, and
// permission blocks with well-formed action strings and no conditions.
func (d *DenyAssignment) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("authz: deny assignment %q: %s: %w", clip(d.ID), fmt.Sprintf(format, args...), ErrInvalidAssignment)
	}
	if d.Scope.IsZero() {
		return fail("no scope")
	}
	if len(d.Principals) == 0 {
		return fail("no principals")
	}
	for _, list := range [][]DenyPrincipal{d.Principals, d.ExcludePrincipals} {
		for _, p := range list {
			if !isGUID(p.ID) {
				return fail("principal id %q is not a GUID", clip(p.ID))
			}
		}
	}
	if err := checkPermissions(d.Permissions, maxBuiltinWildcards); err != nil {
		return fail("%v", err)
	}
	for _, p := range d.Permissions {
		if p.Condition != "" || p.ConditionVersion != "" {
			return fail("conditions on deny assignments are not supported")
		}
	}
	return nil
}

// applies reports whether d blocks req.
func (d *DenyAssignment) applies(req *Request) bool {
	if d.DoNotApplyToChildScopes {
		if !d.Scope.Equal(req.Scope) {
			return false
		}
	} else if !d.Scope.Contains(req.Scope) {
		return false
	}
	for i := range d.ExcludePrincipals {
		if req.Principal.matches(d.ExcludePrincipals[i].ID) {
			return false
		}
	}
	named := false
	for i := range d.Principals {
		if d.Principals[i].ID == EveryonePrincipalID || req.Principal.matches(d.Principals[i].ID) {
			named = true
			break
		}
	}
	if !named {
		return false
	}
	for i := range d.Permissions {
		p := &d.Permissions[i]
		allow, except := p.Actions, p.NotActions
		if req.DataAction {
			allow, except = p.DataActions, p.NotDataActions
		}
		if matchAny(allow, req.Action) && !matchAny(except, req.Action) {
			return true
		}
	}
	return false
}

// RoleAssignmentAttributes are the attributes an ABAC condition can test on a role
// assignment being written (Request.RequestAttributes) or deleted (Request.ResourceAttributes).
type RoleAssignmentAttributes struct {
	RoleDefinitionID string // GUID or full role definition resource id
	PrincipalID      string
	PrincipalType    PrincipalType
}

// Request is one authorization question: may Principal perform Action (a data action when
// DataAction is set) at Scope? For role-assignment writes and deletes, the caller fills
// RequestAttributes (the assignment being written) or ResourceAttributes (the assignment being
// deleted) so that ABAC conditions can be evaluated.
type Request struct {
	Principal          Principal
	Action             string
	DataAction         bool
	Scope              Scope
	RequestAttributes  *RoleAssignmentAttributes
	ResourceAttributes *RoleAssignmentAttributes
}

// DecisionReason explains a Decision. The denial reasons are the DecisionReason values Key
// Vault prints in its ForbiddenByRbac message.
type DecisionReason string

// The decision reasons.
const (
	// AllowedByRoleAssignment: a role assignment grants the action.
	AllowedByRoleAssignment DecisionReason = "AllowedByRoleAssignment"
	// DeniedWithNoValidRBAC: no role assignment grants the action (Azure's text).
	DeniedWithNoValidRBAC DecisionReason = "DeniedWithNoValidRBAC"
	// DeniedWithDenyAssignment: a deny assignment blocks the action.
	DeniedWithDenyAssignment DecisionReason = "DeniedWithDenyAssignment"
)

// Decision is the outcome of an RBAC check. Assignment and DenyAssignment point into the
// slices the check was given. Assignment is the role assignment that granted the action (also
// set when a deny assignment then blocked it); DenyAssignment is the deny assignment that
// blocked a granted action.
type Decision struct {
	Allowed        bool
	Reason         DecisionReason
	Assignment     *Assignment
	DenyAssignment *DenyAssignment
	// ConditionNotMet reports that some role assignment would have granted the action but an
	// ABAC condition (on the assignment or in its role) did not hold.
	ConditionNotMet bool
}

// RBAC holds what an RBAC check reads: every role assignment and deny assignment the caller
// loaded (Check filters them by principal and scope) and a way to find role definitions. It is
// read-only during Check and may be shared by concurrent checks.
type RBAC struct {
	Assignments     []Assignment
	DenyAssignments []DenyAssignment
	Roles           RoleLookup
}

// Check decides req. The action is granted when some role assignment of the principal (or of
// one of its groups) at the request's scope or an ancestor names a role that grants it, with
// every ABAC condition on the way holding; assignments whose role is unknown grant nothing. A
// granted action is then denied if a deny assignment applies, which is how Azure reports it
// ("has permission ...; however, the access is denied because of the deny assignment").
// Check does not allocate.
func (r *RBAC) Check(req *Request) Decision {
	granted, condNotMet := r.grant(req)
	if granted == nil {
		return Decision{Reason: DeniedWithNoValidRBAC, ConditionNotMet: condNotMet}
	}
	for i := range r.DenyAssignments {
		if d := &r.DenyAssignments[i]; d.applies(req) {
			return Decision{Reason: DeniedWithDenyAssignment, Assignment: granted, DenyAssignment: d, ConditionNotMet: condNotMet}
		}
	}
	return Decision{Allowed: true, Reason: AllowedByRoleAssignment, Assignment: granted, ConditionNotMet: condNotMet}
}

func (r *RBAC) grant(req *Request) (granted *Assignment, condNotMet bool) {
	if r.Roles == nil {
		return nil, false
	}
	for i := range r.Assignments {
		a := &r.Assignments[i]
		if !req.Principal.matches(a.PrincipalID) || !a.Scope.Contains(req.Scope) {
			continue
		}
		role, ok := r.Roles.Role(a.roleID())
		if !ok {
			continue
		}
		ok, failed := role.grants(req)
		if failed {
			condNotMet = true
		}
		if !ok {
			continue
		}
		if !a.conditionHolds(req) {
			condNotMet = true
			continue
		}
		return a, condNotMet
	}
	return nil, condNotMet
}
