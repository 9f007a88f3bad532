package authz

import (
	"github.com/keystage/keystage/internal/fault"
)

// SecretOperation is one Key Vault secrets data-plane operation. The values are stable: 1 to
// 12 in the order of keyvault.md §1.2 (set, get, list, list versions, update, delete, get
// deleted, list deleted, recover, purge, backup, restore), so an enum of the HTTP layer that
// follows the same order converts with SecretOperation(op).
type SecretOperation uint8

// The secrets operations of the Key Vault REST API.
const (
	SecretSet          SecretOperation = iota + 1 // PUT /secrets/{name}
	SecretGet                                     // GET /secrets/{name}[/{version}]
	SecretList                                    // GET /secrets
	SecretListVersions                            // GET /secrets/{name}/versions
	SecretUpdate                                  // PATCH /secrets/{name}[/{version}]
	SecretDelete                                  // DELETE /secrets/{name}
	SecretGetDeleted                              // GET /deletedsecrets/{name}
	SecretListDeleted                             // GET /deletedsecrets
	SecretRecover                                 // POST /deletedsecrets/{name}/recover
	SecretPurge                                   // DELETE /deletedsecrets/{name}
	SecretBackup                                  // POST /secrets/{name}/backup
	SecretRestore                                 // POST /secrets/restore
)

type secretOp struct {
	name       string
	permission string // access policy permission in the secrets category
	dataAction string
	onSecret   bool // the RBAC scope is the secret; otherwise the vault
}

// secretOps is read-only. GetDeleted needs getSecret like Get does, mirroring the policy
// permission "get" it needs; the list operations need readMetadata like "list".
var secretOps = [...]secretOp{
	SecretSet:          {"set", "set", DataActionSecretSet, true},
	SecretGet:          {"get", "get", DataActionSecretGet, true},
	SecretList:         {"list", "list", DataActionSecretReadMetadata, false},
	SecretListVersions: {"listVersions", "list", DataActionSecretReadMetadata, true},
	SecretUpdate:       {"update", "set", DataActionSecretUpdate, true},
	SecretDelete:       {"delete", "delete", DataActionSecretDelete, true},
	SecretGetDeleted:   {"getDeleted", "get", DataActionSecretGet, true},
	SecretListDeleted:  {"listDeleted", "list", DataActionSecretReadMetadata, false},
	SecretRecover:      {"recover", "recover", DataActionSecretRecover, true},
	SecretPurge:        {"purge", "purge", DataActionSecretPurge, true},
	SecretBackup:       {"backup", "backup", DataActionSecretBackup, true},
	SecretRestore:      {"restore", "restore", DataActionSecretRestore, false},
}

func (op SecretOperation) info() (secretOp, bool) {
	if op == 0 || int(op) >= len(secretOps) {
		return secretOp{}, false
	}
	return secretOps[op], true
}

// String names the operation ("get", "listVersions", ...), or "invalid".
func (op SecretOperation) String() string {
	if i, ok := op.info(); ok {
		return i.name
	}
	return "invalid"
}

// Permission returns the access policy permission the operation needs (Update needs "set",
// as in Azure; GetDeleted "get"; ListVersions and ListDeleted "list").
func (op SecretOperation) Permission() PolicyPermission {
	i, _ := op.info()
	return PolicyPermission{Category: SecretPermissions, Name: i.permission}
}

// DataAction returns the RBAC data action the operation needs.
func (op SecretOperation) DataAction() string {
	i, _ := op.info()
	return i.dataAction
}

// OnSecret reports whether RBAC checks the operation at the secret's scope
// (.../vaults/{v}/secrets/{name}); List, ListDeleted and Restore are checked at the vault.
func (op SecretOperation) OnSecret() bool {
	i, _ := op.info()
	return i.onSecret
}

// Vault is what a secrets data-plane check needs to know about a vault.
type Vault struct {
	Name     string
	Location string
	// Scope is the vault's ARM resource id as a scope (see VaultScope).
	Scope Scope
	// EnableRBACAuthorization selects RBAC; the access policies are then ignored.
	EnableRBACAuthorization bool
	AccessPolicies          []AccessPolicyEntry
}

// SecretAccess is the outcome of AuthorizeSecret.
type SecretAccess struct {
	Allowed bool
	// ByRBAC reports that RBAC decided (the vault has EnableRBACAuthorization); otherwise the
	// access policies did, and Policy holds their decision.
	ByRBAC   bool
	Policy   PolicyDecision
	Decision Decision
	// Err is Key Vault's 403 for a denial (innererror AccessDenied, ForbiddenByPolicy or
	// ForbiddenByRbac), nil when allowed.
	Err *fault.Error
}

// AuthorizeSecret decides whether the caller may perform op on the secret named secretName
// (ignored by List, ListDeleted and Restore) in vault v: through RBAC when the vault has
// EnableRBACAuthorization — rbac then supplies the assignments and roles, and the access
// policies are ignored — and through the vault's access policies otherwise. The caller must have
// validated the token (tenant, audience, expiry) and the secret name first; a name that cannot
// form a scope is denied. An unknown op is denied.
func AuthorizeSecret(v *Vault, c *Caller, op SecretOperation, secretName string, rbac *RBAC) SecretAccess {
	info, ok := op.info()
	if !v.EnableRBACAuthorization {
		if !ok {
			return SecretAccess{Policy: PolicyDecision{Reason: PolicyNoMatchingEntry},
				Err: KeyVaultAccessDenied(c, PolicyPermission{Category: SecretPermissions, Name: "unknown"}, v.Name, v.Location)}
		}
		perm := PolicyPermission{Category: SecretPermissions, Name: info.permission}
		d := EvaluateAccessPolicies(v.AccessPolicies, c, perm)
		out := SecretAccess{Allowed: d.Allowed, Policy: d}
		switch {
		case d.Allowed:
		case d.Reason == PolicyRequiresOnBehalfOf:
			out.Err = KeyVaultRequiresOnBehalfOf(c)
		default:
			out.Err = KeyVaultAccessDenied(c, perm, v.Name, v.Location)
		}
		return out
	}
	deny := func(resource string, d Decision) SecretAccess {
		return SecretAccess{ByRBAC: true, Decision: d, Err: KeyVaultForbiddenByRbac(c, info.dataAction, resource, d, v.Name, v.Location)}
	}
	req := Request{
		Principal:  c.principal(),
		Action:     info.dataAction,
		DataAction: true,
		Scope:      v.Scope,
	}
	if info.onSecret {
		s, err := v.Scope.Child("secrets", secretName)
		if err != nil {
			return deny(v.Scope.String()+"/secrets/"+secretName, Decision{Reason: DeniedWithNoValidRBAC})
		}
		req.Scope = s
	}
	if !ok || rbac == nil {
		return deny(req.Scope.String(), Decision{Reason: DeniedWithNoValidRBAC})
	}
	d := rbac.Check(&req)
	if !d.Allowed {
		return deny(req.Scope.String(), d)
	}
	return SecretAccess{Allowed: true, ByRBAC: true, Decision: d}
}
