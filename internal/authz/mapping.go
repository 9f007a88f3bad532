package authz

import (
	"slices"
)

// permissionMapping is one access policy permission and the RBAC data actions that together
// stand for it, from Microsoft's access-policy-to-RBAC comparison tool
// (Azure/KeyVault-AccessPolicyToRBAC-CompareTool). The tables are read-only.
type permissionMapping struct {
	name    string
	actions []string
}

const kv = "Microsoft.KeyVault/vaults/"

var secretMappings = []permissionMapping{
	{"get", []string{DataActionSecretGet}},
	{"list", []string{DataActionSecretReadMetadata}},
	{"set", []string{DataActionSecretSet, DataActionSecretUpdate}},
	{"delete", []string{DataActionSecretDelete}},
	{"recover", []string{DataActionSecretRecover}},
	{"backup", []string{DataActionSecretBackup}},
	{"restore", []string{DataActionSecretRestore}},
	{"purge", []string{DataActionSecretPurge}},
}

var keyMappings = []permissionMapping{
	{"get", []string{kv + "keys/read"}},
	{"list", []string{kv + "keys/read"}},
	{"update", []string{kv + "keys/update/action"}},
	{"create", []string{kv + "keys/create/action"}},
	{"import", []string{kv + "keys/import/action"}},
	{"delete", []string{kv + "keys/delete"}},
	{"recover", []string{kv + "keys/recover/action"}},
	{"backup", []string{kv + "keys/backup/action"}},
	{"restore", []string{kv + "keys/restore/action"}},
	{"decrypt", []string{kv + "keys/decrypt/action"}},
	{"encrypt", []string{kv + "keys/encrypt/action"}},
	{"unwrapKey", []string{kv + "keys/unwrap/action"}},
	{"wrapKey", []string{kv + "keys/wrap/action"}},
	{"verify", []string{kv + "keys/verify/action"}},
	{"sign", []string{kv + "keys/sign/action"}},
	{"purge", []string{kv + "keys/purge/action"}},
	{"release", []string{kv + "keys/release/action"}},
	{"rotate", []string{kv + "keys/rotate/action"}},
	{"getrotationpolicy", []string{kv + "keyrotationpolicies/read"}},
	{"setrotationpolicy", []string{kv + "keyrotationpolicies/write"}},
}

var certificateMappings = []permissionMapping{
	{"get", []string{kv + "certificates/read"}},
	{"list", []string{kv + "certificates/read"}},
	{"update", []string{kv + "certificates/update/action"}},
	{"create", []string{kv + "certificates/create/action"}},
	{"import", []string{kv + "certificates/import/action"}},
	{"delete", []string{kv + "certificates/delete"}},
	{"recover", []string{kv + "certificates/recover/action"}},
	{"backup", []string{kv + "certificates/backup/action"}},
	{"restore", []string{kv + "certificates/restore/action"}},
	{"managecontacts", []string{kv + "certificatecontacts/write"}},
	{"manageissuers", []string{kv + "certificatecas/write"}},
	{"getissuers", []string{kv + "certificatecas/read"}},
	{"listissuers", []string{kv + "certificatecas/read"}},
	{"setissuers", []string{kv + "certificatecas/write"}},
	{"deleteissuers", []string{kv + "certificatecas/delete"}},
	{"purge", []string{kv + "certificates/purge/action"}},
}

var storageMappings = []permissionMapping{
	{"get", []string{kv + "storageaccounts/read"}},
	{"list", []string{kv + "storageaccounts/read"}},
	{"delete", []string{kv + "storageaccounts/delete"}},
	{"set", []string{kv + "storageaccounts/set/action"}},
	{"update", []string{kv + "storageaccounts/set/action"}},
	{"regeneratekey", []string{kv + "storageaccounts/regeneratekey/action"}},
	{"getsas", []string{kv + "storageaccounts/sas/read"}},
	{"listsas", []string{kv + "storageaccounts/sas/read"}},
	{"deletesas", []string{kv + "storageaccounts/sas/delete"}},
	{"setsas", []string{kv + "storageaccounts/sas/set/action"}},
	{"recover", []string{kv + "storageaccounts/recover/action"}},
	{"backup", []string{kv + "storageaccounts/backup/action"}},
	{"restore", []string{kv + "storageaccounts/restore/action"}},
	{"purge", []string{kv + "storageaccounts/purge/action"}},
}

func mappings(c PermissionCategory) []permissionMapping {
	switch c {
	case KeyPermissions:
		return keyMappings
	case SecretPermissions:
		return secretMappings
	case CertificatePermissions:
		return certificateMappings
	case StoragePermissions:
		return storageMappings
	}
	return nil
}

// PermissionCategories returns the four access policy categories.
func PermissionCategories() []PermissionCategory {
	return []PermissionCategory{KeyPermissions, SecretPermissions, CertificatePermissions, StoragePermissions}
}

// PermissionNames returns the canonical permission names of category c ("all" excluded), in
// the order Azure's documentation lists them; nil for an unknown category.
func PermissionNames(c PermissionCategory) []string {
	m := mappings(c)
	if m == nil {
		return nil
	}
	names := make([]string, len(m))
	for i, p := range m {
		names[i] = p.name
	}
	return names
}

// CanonicalPermission returns the canonical spelling of permission name in category c, matching
// case-insensitively, and whether it exists. "all" is canonical as "all".
func CanonicalPermission(c PermissionCategory, name string) (string, bool) {
	if mappings(c) == nil {
		return "", false
	}
	if equalFoldASCII(name, PermissionAll) {
		return PermissionAll, true
	}
	for _, p := range mappings(c) {
		if equalFoldASCII(p.name, name) {
			return p.name, true
		}
	}
	return "", false
}

// DataActionsFor returns the RBAC data actions that stand for an access policy permission:
// all of them are needed to do what the permission allows. "all" maps to every data action of
// its category. Nil for an unknown permission.
func DataActionsFor(p PolicyPermission) []string {
	var out []string
	for _, m := range mappings(p.Category) {
		if equalFoldASCII(p.Name, PermissionAll) || equalFoldASCII(p.Name, m.name) {
			for _, a := range m.actions {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// PolicyPermissionsFor returns the access policy permissions that the RBAC data action stands
// for, in the other direction: Microsoft.KeyVault/vaults/keys/read gives keys/get and keys/list.
// The data action must be a concrete action (no wildcard); case is ignored. Nil when no policy
// permission maps to it.
func PolicyPermissionsFor(dataAction string) []PolicyPermission {
	var out []PolicyPermission
	for _, c := range PermissionCategories() {
		for _, m := range mappings(c) {
			for _, a := range m.actions {
				if equalFoldASCII(a, dataAction) {
					out = append(out, PolicyPermission{Category: c, Name: m.name})
				}
			}
		}
	}
	return out
}

// PolicyEquivalent returns the access policy permissions the role's data actions fully
// cover: a permission is included when the role grants every data action that stands for it.
// Key Vault Secrets User gives secrets [get list]; Key Vault Administrator gives every
// permission of every category (listed by name, not as "all"). Conditions are ignored.
func (r *RoleDefinition) PolicyEquivalent() AccessPolicyPermissions {
	var out AccessPolicyPermissions
	for _, c := range PermissionCategories() {
		var names []string
		for _, m := range mappings(c) {
			covered := true
			for _, a := range m.actions {
				if !r.grantsIgnoringConditions(a) {
					covered = false
					break
				}
			}
			if covered {
				names = append(names, m.name)
			}
		}
		out.set(c, names)
	}
	return out
}

func (r *RoleDefinition) grantsIgnoringConditions(dataAction string) bool {
	for _, p := range r.Permissions {
		if matchAny(p.DataActions, dataAction) && !matchAny(p.NotDataActions, dataAction) {
			return true
		}
	}
	return false
}
