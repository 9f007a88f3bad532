package authz

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RoleType says whether a role definition is built in or custom (ARM's properties.type).
type RoleType string

// The role types.
const (
	BuiltInRole RoleType = "BuiltInRole"
	CustomRole  RoleType = "CustomRole"
)

// Permission is one permission block of a role definition, shaped like ARM's. A role grants a
// control-plane action when some block lists it in Actions and not in NotActions, and a data
// action when some block lists it in DataActions and not in NotDataActions. NotActions only
// subtract from their own block: another block, or another role, may still grant the action.
// Actions never grant data actions, nor DataActions control-plane actions.
//
// Condition and ConditionVersion carry an ABAC condition that must hold for the block to grant
// anything (only Key Vault Data Access Administrator has one among Keystage's built-in roles).
type Permission struct {
	Actions          []string `json:"actions"`
	NotActions       []string `json:"notActions"`
	DataActions      []string `json:"dataActions"`
	NotDataActions   []string `json:"notDataActions"`
	Condition        string   `json:"condition,omitempty"`
	ConditionVersion string   `json:"conditionVersion,omitempty"`

	cond *Condition // parsed Condition, set by NewRoleSet
}

// RoleDefinition is an Azure role definition. ID is the role's GUID (ARM's "name"; the
// resource id is built by RoleDefinitionResourceID). The JSON tags give ARM's
// RoleDefinitionProperties object, the "properties" of the resource; AssignableScopes holds
// scope strings as ARM returns them.
type RoleDefinition struct {
	ID               string       `json:"-"`
	RoleName         string       `json:"roleName"`
	Description      string       `json:"description"`
	RoleType         RoleType     `json:"type"`
	Permissions      []Permission `json:"permissions"`
	AssignableScopes []string     `json:"assignableScopes"`
}

// Custom role limits from Azure's documentation.
const (
	MaxRoleNameLength          = 512
	MaxRoleDescriptionLength   = 2048
	MaxAssignableScopes        = 2000
	maxCustomWildcards         = 1 // "You can have only one wildcard in an action string."
	maxBuiltinWildcards        = 2
	maxActionsPerPermissionSet = 5000
)

// ErrInvalidRole is wrapped by every role-definition validation error.
var ErrInvalidRole = errors.New("invalid role definition")

// ValidateCustom checks a custom role definition as ARM does before storing it: a GUID id, a
// name and description within Azure's lengths, at least one permission block granting at least
// one action or data action, well-formed action strings with at most one wildcard each, and
// assignable scopes that parse, are not the root, hold no wildcard and name at most one
// management group. Conditions on custom role definitions are not supported (Azure offers them
// on role assignments only) and are rejected.
func (r *RoleDefinition) ValidateCustom() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("authz: role definition %q: %s: %w", clip(r.RoleName), fmt.Sprintf(format, args...), ErrInvalidRole)
	}
	if !isGUID(r.ID) {
		return fail("id %q is not a GUID", clip(r.ID))
	}
	if r.RoleType != "" && r.RoleType != CustomRole {
		return fail("type %q: only %s definitions can be created", clip(string(r.RoleType)), CustomRole)
	}
	if strings.TrimSpace(r.RoleName) == "" {
		return fail("roleName is required")
	}
	if n := len([]rune(r.RoleName)); n > MaxRoleNameLength {
		return fail("roleName has %d characters; at most %d are allowed", n, MaxRoleNameLength)
	}
	if n := len([]rune(r.Description)); n > MaxRoleDescriptionLength {
		return fail("description has %d characters; at most %d are allowed", n, MaxRoleDescriptionLength)
	}
	if err := checkPermissions(r.Permissions, maxCustomWildcards); err != nil {
		return fail("%v", err)
	}
	for _, p := range r.Permissions {
		if p.Condition != "" || p.ConditionVersion != "" {
			return fail("conditions on custom role definitions are not supported; put the condition on the role assignment")
		}
	}
	if len(r.AssignableScopes) == 0 {
		return fail("assignableScopes is required")
	}
	if len(r.AssignableScopes) > MaxAssignableScopes {
		return fail("%d assignableScopes; at most %d are allowed", len(r.AssignableScopes), MaxAssignableScopes)
	}
	groups := 0
	for _, raw := range r.AssignableScopes {
		if strings.Contains(raw, "*") {
			return fail("assignable scope %q holds a wildcard", clip(raw))
		}
		s, err := ParseScope(raw)
		if err != nil {
			return fail("assignable scope: %v", err)
		}
		switch s.Kind() {
		case ScopeRoot:
			return fail("a custom role cannot be assignable at the root scope \"/\"")
		case ScopeManagementGroup:
			if groups++; groups > 1 {
				return fail("assignableScopes may name only one management group")
			}
		}
	}
	return nil
}

// checkPermissions validates permission blocks: at least one, each action string well
// formed, and something granted overall.
func checkPermissions(perms []Permission, maxStars int) error {
	if len(perms) == 0 {
		return errors.New("at least one permission is required")
	}
	granted := false
	for i, p := range perms {
		lists := []struct {
			name string
			vals []string
			data bool
		}{
			{"actions", p.Actions, false},
			{"notActions", p.NotActions, false},
			{"dataActions", p.DataActions, true},
			{"notDataActions", p.NotDataActions, true},
		}
		for _, l := range lists {
			if len(l.vals) > maxActionsPerPermissionSet {
				return fmt.Errorf("permissions[%d].%s has %d entries; at most %d are allowed", i, l.name, len(l.vals), maxActionsPerPermissionSet)
			}
			for _, a := range l.vals {
				if err := checkActionPattern(a, l.data, maxStars); err != nil {
					return fmt.Errorf("permissions[%d].%s: %v", i, l.name, err)
				}
			}
		}
		if len(p.Actions) > 0 || len(p.DataActions) > 0 {
			granted = true
		}
	}
	if !granted {
		return errors.New("the permissions grant no action and no data action")
	}
	return nil
}

// CanAssignAt reports, as an error, whether the role may be assigned at scope: the scope must
// lie within one of the role's assignable scopes, and a role with data actions cannot be
// assigned at a management group.
func (r *RoleDefinition) CanAssignAt(scope Scope) error {
	if scope.IsZero() {
		return fmt.Errorf("authz: role %q: the zero scope: %w", r.RoleName, ErrInvalidScope)
	}
	if scope.Kind() == ScopeManagementGroup {
		for _, p := range r.Permissions {
			if len(p.DataActions) > 0 {
				return fmt.Errorf("authz: role %q has data actions and cannot be assigned at a management group: %w", r.RoleName, ErrInvalidRole)
			}
		}
	}
	for _, raw := range r.AssignableScopes {
		if a, err := ParseScope(raw); err == nil && a.Contains(scope) {
			return nil
		}
	}
	return fmt.Errorf("authz: role %q is not assignable at scope %q: %w", r.RoleName, scope, ErrInvalidRole)
}

// Grants reports whether the role grants action (a data action when data is true) to a
// request that carries no condition attributes. Conditions are evaluated, so a block with an
// ABAC condition grants an action only when the condition holds without attributes.
func (r *RoleDefinition) Grants(action string, data bool) bool {
	ok, _ := r.grants(&Request{Action: action, DataAction: data})
	return ok
}

// grants evaluates the role for req. condFailed reports that some block matched the action
// but its condition did not hold (or could not be parsed, which fails closed).
func (r *RoleDefinition) grants(req *Request) (granted, condFailed bool) {
	for i := range r.Permissions {
		p := &r.Permissions[i]
		var allow, deny []string
		if req.DataAction {
			allow, deny = p.DataActions, p.NotDataActions
		} else {
			allow, deny = p.Actions, p.NotActions
		}
		if !matchAny(allow, req.Action) || matchAny(deny, req.Action) {
			continue
		}
		if p.Condition != "" {
			c := p.cond
			if c == nil || c.text != p.Condition {
				var err error
				if c, err = ParseCondition(p.Condition, p.ConditionVersion); err != nil {
					condFailed = true
					continue
				}
			}
			if !c.Evaluate(req) {
				condFailed = true
				continue
			}
		}
		return true, false
	}
	return false, condFailed
}

// RoleLookup finds a role definition by its GUID or its full resource id. Implementations
// must be safe for concurrent use; *RoleSet is one.
type RoleLookup interface {
	Role(id string) (*RoleDefinition, bool)
}

// RoleSet is an immutable set of role definitions indexed by id and by name. It is safe for
// concurrent use.
type RoleSet struct {
	byID   map[string]*RoleDefinition
	byName map[string]*RoleDefinition
}

var _ RoleLookup = (*RoleSet)(nil)

// NewRoleSet copies defs into a set, parsing every permission condition so that evaluation
// never reparses. It fails on a duplicate id or name, a malformed id or an unparsable
// condition. It does not apply the custom-role rules: call ValidateCustom before storing.
func NewRoleSet(defs ...RoleDefinition) (*RoleSet, error) {
	s := &RoleSet{byID: make(map[string]*RoleDefinition, len(defs)), byName: make(map[string]*RoleDefinition, len(defs))}
	for _, d := range defs {
		if !isGUID(d.ID) {
			return nil, fmt.Errorf("authz: role %q: id %q is not a GUID: %w", d.RoleName, clip(d.ID), ErrInvalidRole)
		}
		d.Permissions = append([]Permission(nil), d.Permissions...)
		for i := range d.Permissions {
			p := &d.Permissions[i]
			if p.Condition == "" {
				continue
			}
			c, err := ParseCondition(p.Condition, p.ConditionVersion)
			if err != nil {
				return nil, fmt.Errorf("authz: role %q: %w", d.RoleName, err)
			}
			p.cond = c
		}
		id, name := strings.ToLower(d.ID), strings.ToLower(d.RoleName)
		if _, dup := s.byID[id]; dup {
			return nil, fmt.Errorf("authz: role id %s is defined twice: %w", d.ID, ErrInvalidRole)
		}
		if _, dup := s.byName[name]; dup {
			return nil, fmt.Errorf("authz: role name %q is defined twice: %w", d.RoleName, ErrInvalidRole)
		}
		def := d
		s.byID[id] = &def
		s.byName[name] = &def
	}
	return s, nil
}

// Role returns the definition whose GUID is id, or the last segment of id when id is a full
// role definition resource id. Case is ignored. The returned definition must not be modified.
func (s *RoleSet) Role(id string) (*RoleDefinition, bool) {
	if d, ok := s.byID[id]; ok {
		return d, true // a bare lower-case GUID, the form Assignment.Compile leaves
	}
	d, ok := s.byID[strings.ToLower(roleGUID(id))]
	return d, ok
}

// ByName returns the definition whose roleName is name, ignoring case, as az's --role does.
func (s *RoleSet) ByName(name string) (*RoleDefinition, bool) {
	d, ok := s.byName[strings.ToLower(name)]
	return d, ok
}

// All returns the definitions sorted by roleName. The definitions must not be modified.
func (s *RoleSet) All() []*RoleDefinition {
	out := make([]*RoleDefinition, 0, len(s.byID))
	for _, d := range s.byID {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *RoleDefinition) int { return strings.Compare(a.RoleName, b.RoleName) })
	return out
}

// RoleDefinitionResourceID returns the ARM resource id of the role definition with GUID id as
// seen from scope: "/providers/Microsoft.Authorization/roleDefinitions/{id}" at the root, or
// "{scope}/providers/Microsoft.Authorization/roleDefinitions/{id}" below it (ARM returns built-in
// roles under the subscription they were read through).
func RoleDefinitionResourceID(scope Scope, id string) string {
	if scope.Kind() == ScopeRoot || scope.IsZero() {
		return "/providers/Microsoft.Authorization/roleDefinitions/" + id
	}
	return scope.String() + "/providers/Microsoft.Authorization/roleDefinitions/" + id
}

// RoleDefinitionGUID extracts the role GUID from a role definition id that is either a bare
// GUID or a resource id ending in /providers/Microsoft.Authorization/roleDefinitions/{guid}.
func RoleDefinitionGUID(id string) (string, error) {
	g := roleGUID(id)
	if !isGUID(g) {
		return "", fmt.Errorf("authz: role definition id %q does not end in a GUID: %w", clip(id), ErrInvalidRole)
	}
	if g != id {
		prefix := strings.TrimSuffix(id, g)
		if !hasSuffixFold(prefix, "/providers/Microsoft.Authorization/roleDefinitions/") {
			return "", fmt.Errorf("authz: role definition id %q is not a role definition resource id: %w", clip(id), ErrInvalidRole)
		}
	}
	return strings.ToLower(g), nil
}

// roleGUID returns the last path segment of id without allocating.
func roleGUID(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && equalFoldASCII(s[len(s)-len(suffix):], suffix)
}

// isGUID reports whether s has the 8-4-4-4-12 hexadecimal form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
