package authz

import (
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/fault"
)

// Azure's error codes for authorization failures.
const (
	// CodeAuthorizationFailed is ARM's code for a missing permission.
	CodeAuthorizationFailed = "AuthorizationFailed"
	// CodeDenyAssignmentAuthorizationFailed is ARM's code when a deny assignment blocks a
	// granted action.
	CodeDenyAssignmentAuthorizationFailed = "DenyAssignmentAuthorizationFailed"
	// CodeForbidden is Key Vault's error.code for every 403.
	CodeForbidden = "Forbidden"
	// InnerAccessDenied is Key Vault's innererror.code when access policies do not grant a
	// permission.
	InnerAccessDenied = "AccessDenied"
	// InnerForbiddenByPolicy is Key Vault's innererror.code when a compound-identity policy
	// requires the on-behalf-of flow.
	InnerForbiddenByPolicy = "ForbiddenByPolicy"
	// InnerForbiddenByRbac is Key Vault's innererror.code when RBAC denies a data action.
	InnerForbiddenByRbac = "ForbiddenByRbac"
)

// String formats the caller as Key Vault prints it in 403 messages:
// "appid={appid};oid={oid};numgroups={n};iss={iss}", numgroups only when the caller has groups.
// It holds identifiers only, never credentials.
func (c *Caller) String() string {
	var b strings.Builder
	b.WriteString("appid=")
	b.WriteString(c.ApplicationID)
	b.WriteString(";oid=")
	b.WriteString(c.ObjectID)
	if n := len(c.GroupIDs); n > 0 {
		b.WriteString(";numgroups=")
		b.WriteString(strconv.Itoa(n))
	}
	b.WriteString(";iss=")
	b.WriteString(c.Issuer)
	return b.String()
}

// isRoleAssignmentWrite reports whether action is one of the role-assignment actions ABAC
// conditions can target; ARM words denials of those "does not have authorization or an ABAC
// condition not fulfilled".
func isRoleAssignmentWrite(action string) bool {
	return equalFoldASCII(action, "Microsoft.Authorization/roleAssignments/write") ||
		equalFoldASCII(action, "Microsoft.Authorization/roleAssignments/delete")
}

// AuthorizationFailed returns ARM's 403 AuthorizationFailed error. client is how ARM names the
// caller — a user's UPN, or the object id again for service principals and managed
// identities; an empty client is replaced by objectID. scope is printed as given, so pass the
// full resource id the request targeted. For role-assignment writes and deletes the message
// carries ARM's "or an ABAC condition not fulfilled" wording.
func AuthorizationFailed(client, objectID, action, scope string) *fault.Error {
	if client == "" {
		client = objectID
	}
	auth := "authorization"
	if isRoleAssignmentWrite(action) {
		auth = "authorization or an ABAC condition not fulfilled"
	}
	return &fault.Error{
		Kind: fault.Forbidden,
		Code: CodeAuthorizationFailed,
		Message: "The client '" + client + "' with object id '" + objectID + "' does not have " + auth +
			" to perform action '" + action + "' over scope '" + scope +
			"' or the scope is invalid. If access was recently granted, please refresh your credentials.",
	}
}

// DenyAssignmentAuthorizationFailed returns ARM's 403 when the caller holds the permission but
// the deny assignment d blocks it.
func DenyAssignmentAuthorizationFailed(client, objectID, action, scope string, d *DenyAssignment) *fault.Error {
	if client == "" {
		client = objectID
	}
	return &fault.Error{
		Kind: fault.Forbidden,
		Code: CodeDenyAssignmentAuthorizationFailed,
		Message: "The client '" + client + "' with object id '" + objectID + "' has permission to perform action '" +
			action + "' on scope '" + scope + "'; however, the access is denied because of the deny assignment with name '" +
			d.Name + "' and Id '" + d.ID + "' at scope '" + d.Scope.String() + "'.",
	}
}

// ManagementDenial returns the ARM 403 for a denied Decision: DenyAssignmentAuthorizationFailed
// when a deny assignment blocked a granted action, AuthorizationFailed otherwise. It returns
// nil for an allowed decision.
func ManagementDenial(client, objectID, action, scope string, d Decision) *fault.Error {
	switch {
	case d.Allowed:
		return nil
	case d.DenyAssignment != nil:
		return DenyAssignmentAuthorizationFailed(client, objectID, action, scope, d.DenyAssignment)
	}
	return AuthorizationFailed(client, objectID, action, scope)
}

func vaultRef(vaultName, location string) string {
	return vaultName + ";location=" + location
}

// KeyVaultAccessDenied returns Key Vault's 403 for an access-policy vault whose policies do not
// grant perm: code Forbidden, innererror AccessDenied, "The user, group or application '...'
// does not have secrets get permission on key vault '{vault};location={location}'...".
func KeyVaultAccessDenied(c *Caller, perm PolicyPermission, vaultName, location string) *fault.Error {
	return &fault.Error{
		Kind:  fault.Forbidden,
		Code:  CodeForbidden,
		Inner: InnerAccessDenied,
		Message: "The user, group or application '" + c.String() + "' does not have " + string(perm.Category) + " " +
			perm.Name + " permission on key vault '" + vaultRef(vaultName, location) +
			"'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
	}
}

// KeyVaultRequiresOnBehalfOf returns Key Vault's 403 when only compound-identity entries name
// the caller and the token is not the entry's application acting for it: code Forbidden,
// innererror ForbiddenByPolicy.
func KeyVaultRequiresOnBehalfOf(c *Caller) *fault.Error {
	return &fault.Error{
		Kind:  fault.Forbidden,
		Code:  CodeForbidden,
		Inner: InnerForbiddenByPolicy,
		Message: "The policy requires the caller '" + c.String() +
			"' to use on-behalf-of (OBO) flow. For more information on OBO, please see https://go.microsoft.com/fwlink/?linkid=2152310",
	}
}

// KeyVaultForbiddenByRbac returns Key Vault's 403 for an RBAC vault that denied a data action:
// code Forbidden, innererror ForbiddenByRbac, with Azure's multi-line message naming the
// caller, the action, the resource (lower-cased, as Key Vault prints it), the assignment, the
// deny assignment and the decision reason.
func KeyVaultForbiddenByRbac(c *Caller, action, resource string, d Decision, vaultName, location string) *fault.Error {
	assignment := "(not found)"
	if d.Assignment != nil && d.Assignment.ID != "" {
		assignment = d.Assignment.ID
	}
	deny := "null"
	if d.DenyAssignment != nil {
		deny = d.DenyAssignment.ID
	}
	reason := d.Reason
	if reason == "" || reason == AllowedByRoleAssignment {
		reason = DeniedWithNoValidRBAC
	}
	return &fault.Error{
		Kind:  fault.Forbidden,
		Code:  CodeForbidden,
		Inner: InnerForbiddenByRbac,
		Message: "Caller is not authorized to perform action on resource.\r\n" +
			"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n" +
			"Caller: " + c.String() + "\r\n" +
			"Action: '" + action + "'\r\n" +
			"Resource: '" + strings.ToLower(resource) + "'\r\n" +
			"Assignment: " + assignment + "\r\n" +
			"DenyAssignmentId: " + deny + "\r\n" +
			"DecisionReason: '" + string(reason) + "' \r\n" +
			"Vault: " + vaultRef(vaultName, location) + "\r\n",
	}
}
