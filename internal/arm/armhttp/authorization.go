package armhttp

import (
	"net/http"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/authz"
)

type roleAssignmentJSON struct {
	ID         string                       `json:"id"`
	Name       string                       `json:"name"`
	Type       string                       `json:"type"`
	Properties roleAssignmentPropertiesJSON `json:"properties"`
}

type roleAssignmentPropertiesJSON struct {
	RoleDefinitionID                   string  `json:"roleDefinitionId"`
	PrincipalID                        string  `json:"principalId"`
	PrincipalType                      string  `json:"principalType,omitempty"`
	Scope                              string  `json:"scope"`
	Condition                          *string `json:"condition"`
	ConditionVersion                   *string `json:"conditionVersion"`
	Description                        *string `json:"description"`
	CreatedOn                          string  `json:"createdOn,omitempty"`
	UpdatedOn                          string  `json:"updatedOn,omitempty"`
	CreatedBy                          string  `json:"createdBy,omitempty"`
	UpdatedBy                          string  `json:"updatedBy,omitempty"`
	DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func renderRoleAssignment(ra arm.RoleAssignment) any {
	return roleAssignmentJSON{
		ID: ra.ID(), Name: ra.Name, Type: "Microsoft.Authorization/roleAssignments",
		Properties: roleAssignmentPropertiesJSON{
			RoleDefinitionID: ra.RoleDefinitionResourceID(), PrincipalID: ra.PrincipalID, PrincipalType: string(ra.PrincipalType),
			Scope: ra.Scope, Condition: optional(ra.Condition), ConditionVersion: optional(ra.ConditionVersion),
			Description: optional(ra.Description),
			CreatedOn:   ra.CreatedOn.UTC().Format(time.RFC3339Nano), UpdatedOn: ra.UpdatedOn.UTC().Format(time.RFC3339Nano),
			CreatedBy: ra.CreatedBy, UpdatedBy: ra.UpdatedBy,
		},
	}
}

func assignmentKey(ra arm.RoleAssignment) string { return lowerKey(ra.Scope) + "\x00" + ra.Name }

type roleAssignmentBody struct {
	Properties *struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Condition        string `json:"condition"`
		ConditionVersion string `json:"conditionVersion"`
		Description      string `json:"description"`
		// DelegatedManagedIdentityResourceID is refused when set: Keystage has no
		// cross-tenant delegation.
		DelegatedManagedIdentityResourceID string `json:"delegatedManagedIdentityResourceId"`
	} `json:"properties"`
}

func putRoleAssignment(q *request) error {
	var b roleAssignmentBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.Properties == nil {
		return errInvalidParameter("The role assignment needs properties with roleDefinitionId and principalId.")
	}
	if b.Properties.DelegatedManagedIdentityResourceID != "" {
		return errInvalidParameter("delegatedManagedIdentityResourceId is not supported: Keystage has no cross-tenant delegation.")
	}
	p := arm.RoleAssignmentParams{
		RoleDefinitionID: b.Properties.RoleDefinitionID, PrincipalID: b.Properties.PrincipalID,
		PrincipalType: arm.PrincipalType(b.Properties.PrincipalType), Condition: b.Properties.Condition,
		ConditionVersion: b.Properties.ConditionVersion, Description: b.Properties.Description,
	}
	ra, created, err := q.h.svc.PutRoleAssignment(q.r.Context(), q.caller, q.args[0], q.args[1], p)
	if err != nil {
		return err
	}
	writeJSON(q.w, createdStatus(created), renderRoleAssignment(ra))
	return nil
}

func getRoleAssignment(q *request) error {
	ra, err := q.h.svc.GetRoleAssignment(q.r.Context(), q.caller, q.args[0], q.args[1])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderRoleAssignment(ra))
	return nil
}

func deleteRoleAssignment(q *request) error {
	ra, existed, err := q.h.svc.DeleteRoleAssignment(q.r.Context(), q.caller, q.args[0], q.args[1])
	if err != nil {
		return err
	}
	if !existed {
		q.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(q.w, 200, renderRoleAssignment(ra))
	return nil
}

func listRoleAssignments(q *request) error {
	f, err := parseAssignmentFilter(q.query("$filter"))
	if err != nil {
		return err
	}
	list, err := q.h.svc.ListRoleAssignments(q.r.Context(), q.caller, q.args[0], f)
	if err != nil {
		return err
	}
	return writeList(q, list, assignmentKey, renderRoleAssignment)
}

type roleDefinitionJSON struct {
	ID         string                       `json:"id"`
	Name       string                       `json:"name"`
	Type       string                       `json:"type"`
	Properties roleDefinitionPropertiesJSON `json:"properties"`
}

type roleDefinitionPropertiesJSON struct {
	RoleName         string             `json:"roleName"`
	Type             string             `json:"type"`
	Description      string             `json:"description"`
	AssignableScopes []string           `json:"assignableScopes"`
	Permissions      []authz.Permission `json:"permissions"`
	CreatedOn        string             `json:"createdOn,omitempty"`
	UpdatedOn        string             `json:"updatedOn,omitempty"`
	CreatedBy        string             `json:"createdBy,omitempty"`
	UpdatedBy        string             `json:"updatedBy,omitempty"`
}

// renderRoleDefinition renders d as seen from scope: ARM gives a role definition's id under
// the subscription it was read through, or at the root.
func renderRoleDefinition(scope string) func(arm.RoleDefinition) any {
	base := authz.RootScope()
	if sc, err := authz.ParseScope(scope); err == nil && sc.SubscriptionID() != "" {
		if s, err := authz.ParseScope("/subscriptions/" + sc.SubscriptionID()); err == nil {
			base = s
		}
	}
	return func(d arm.RoleDefinition) any {
		out := roleDefinitionJSON{
			ID: authz.RoleDefinitionResourceID(base, d.ID), Name: d.ID, Type: "Microsoft.Authorization/roleDefinitions",
			Properties: roleDefinitionPropertiesJSON{
				RoleName: d.RoleName, Type: string(d.RoleType), Description: d.Description,
				AssignableScopes: d.AssignableScopes, Permissions: d.Permissions,
			},
		}
		if !d.CreatedOn.IsZero() {
			out.Properties.CreatedOn = d.CreatedOn.UTC().Format(time.RFC3339Nano)
			out.Properties.UpdatedOn = d.UpdatedOn.UTC().Format(time.RFC3339Nano)
			out.Properties.CreatedBy, out.Properties.UpdatedBy = d.CreatedBy, d.UpdatedBy
		}
		return out
	}
}

func roleType(s string) authz.RoleType {
	switch {
	case strings.EqualFold(s, string(authz.BuiltInRole)):
		return authz.BuiltInRole
	case strings.EqualFold(s, string(authz.CustomRole)):
		return authz.CustomRole
	}
	return authz.RoleType(s)
}

func listRoleDefinitions(q *request) error {
	f, err := parseRoleDefinitionFilter(q.query("$filter"))
	if err != nil {
		return err
	}
	defs, err := q.h.svc.ListRoleDefinitions(q.r.Context(), q.caller, q.args[0], f)
	if err != nil {
		return err
	}
	return writeList(q, defs, func(d arm.RoleDefinition) string { return d.RoleName }, renderRoleDefinition(q.args[0]))
}

func getRoleDefinition(q *request) error {
	d, err := q.h.svc.GetRoleDefinition(q.r.Context(), q.caller, q.args[0], q.args[1])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderRoleDefinition(q.args[0])(d))
	return nil
}

type roleDefinitionBody struct {
	Properties *struct {
		RoleName         string             `json:"roleName"`
		Description      string             `json:"description"`
		Type             string             `json:"type"`
		Permissions      []authz.Permission `json:"permissions"`
		AssignableScopes []string           `json:"assignableScopes"`
	} `json:"properties"`
}

// putRoleDefinition creates or updates a custom role. ARM answers 201 for both, and the SDK
// accepts nothing else.
func putRoleDefinition(q *request) error {
	var b roleDefinitionBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.Properties == nil {
		return errInvalidParameter("The role definition needs properties with roleName, permissions and assignableScopes.")
	}
	def := authz.RoleDefinition{
		RoleName: b.Properties.RoleName, Description: b.Properties.Description, RoleType: roleType(b.Properties.Type),
		Permissions: b.Properties.Permissions, AssignableScopes: b.Properties.AssignableScopes,
	}
	d, err := q.h.svc.PutRoleDefinition(q.r.Context(), q.caller, q.args[0], q.args[1], def)
	if err != nil {
		return err
	}
	writeJSON(q.w, http.StatusCreated, renderRoleDefinition(q.args[0])(d))
	return nil
}

func deleteRoleDefinition(q *request) error {
	d, existed, err := q.h.svc.DeleteRoleDefinition(q.r.Context(), q.caller, q.args[0], q.args[1])
	if err != nil {
		return err
	}
	if !existed {
		q.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(q.w, 200, renderRoleDefinition(q.args[0])(d))
	return nil
}
