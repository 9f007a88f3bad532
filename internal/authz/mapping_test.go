package authz

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPermissionNames(t *testing.T) {
	want := map[PermissionCategory][]string{
		SecretPermissions: {"get", "list", "set", "delete", "recover", "backup", "restore", "purge"},
		KeyPermissions: {"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore", "decrypt",
			"encrypt", "unwrapKey", "wrapKey", "verify", "sign", "purge", "release", "rotate", "getrotationpolicy", "setrotationpolicy"},
		CertificatePermissions: {"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore",
			"managecontacts", "manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers", "purge"},
		StoragePermissions: {"get", "list", "delete", "set", "update", "regeneratekey", "getsas", "listsas", "deletesas",
			"setsas", "recover", "backup", "restore", "purge"},
	}
	for c, names := range want {
		if diff := cmp.Diff(names, PermissionNames(c)); diff != "" {
			t.Errorf("PermissionNames(%s) (-want +got):\n%s", c, diff)
		}
	}
	if PermissionNames("vaults") != nil {
		t.Error("unknown category has names")
	}
	for _, tt := range []struct {
		c        PermissionCategory
		in, want string
		ok       bool
	}{
		{KeyPermissions, "UNWRAPKEY", "unwrapKey", true},
		{SecretPermissions, "ALL", "all", true},
		{StoragePermissions, "RegenerateKey", "regeneratekey", true},
		{SecretPermissions, "decrypt", "", false},
		{"vaults", "get", "", false},
	} {
		if got, ok := CanonicalPermission(tt.c, tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalPermission(%s, %q) = %q, %v; want %q, %v", tt.c, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestPolicyDataActionMapping checks identity.md §3.2 in both directions.
func TestPolicyDataActionMapping(t *testing.T) {
	tests := []struct {
		perm PolicyPermission
		want []string
	}{
		{PolicyPermission{SecretPermissions, "get"}, []string{"Microsoft.KeyVault/vaults/secrets/getSecret/action"}},
		{PolicyPermission{SecretPermissions, "list"}, []string{"Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{PolicyPermission{SecretPermissions, "set"}, []string{"Microsoft.KeyVault/vaults/secrets/setSecret/action", "Microsoft.KeyVault/vaults/secrets/update/action"}},
		{PolicyPermission{SecretPermissions, "delete"}, []string{"Microsoft.KeyVault/vaults/secrets/delete"}},
		{PolicyPermission{SecretPermissions, "Recover"}, []string{"Microsoft.KeyVault/vaults/secrets/recover/action"}},
		{PolicyPermission{SecretPermissions, "backup"}, []string{"Microsoft.KeyVault/vaults/secrets/backup/action"}},
		{PolicyPermission{SecretPermissions, "restore"}, []string{"Microsoft.KeyVault/vaults/secrets/restore/action"}},
		{PolicyPermission{SecretPermissions, "purge"}, []string{"Microsoft.KeyVault/vaults/secrets/purge/action"}},
		{PolicyPermission{KeyPermissions, "unwrapKey"}, []string{"Microsoft.KeyVault/vaults/keys/unwrap/action"}},
		{PolicyPermission{KeyPermissions, "getrotationpolicy"}, []string{"Microsoft.KeyVault/vaults/keyrotationpolicies/read"}},
		{PolicyPermission{CertificatePermissions, "managecontacts"}, []string{"Microsoft.KeyVault/vaults/certificatecontacts/write"}},
		{PolicyPermission{StoragePermissions, "update"}, []string{"Microsoft.KeyVault/vaults/storageaccounts/set/action"}},
		{PolicyPermission{SecretPermissions, "decrypt"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.perm.String(), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, DataActionsFor(tt.perm)); diff != "" {
				t.Errorf("DataActionsFor (-want +got):\n%s", diff)
			}
		})
	}
	if got := DataActionsFor(PolicyPermission{SecretPermissions, "all"}); len(got) != 9 {
		t.Errorf("secrets/all maps to %d data actions, want the 9 secrets data actions: %v", len(got), got)
	}
	// Every data action maps back to the permission it came from.
	for _, c := range PermissionCategories() {
		for _, name := range PermissionNames(c) {
			p := PolicyPermission{c, name}
			for _, a := range DataActionsFor(p) {
				if !slices.Contains(PolicyPermissionsFor(a), p) {
					t.Errorf("PolicyPermissionsFor(%q) = %v, missing %v", a, PolicyPermissionsFor(a), p)
				}
			}
		}
	}
	reverse := []struct {
		action string
		want   []PolicyPermission
	}{
		{"Microsoft.KeyVault/vaults/keys/read", []PolicyPermission{{KeyPermissions, "get"}, {KeyPermissions, "list"}}},
		{"microsoft.keyvault/vaults/secrets/UPDATE/action", []PolicyPermission{{SecretPermissions, "set"}}},
		{"Microsoft.KeyVault/vaults/certificatecas/write", []PolicyPermission{{CertificatePermissions, "manageissuers"}, {CertificatePermissions, "setissuers"}}},
		{"Microsoft.KeyVault/vaults/secrets/*", nil},
	}
	for _, tt := range reverse {
		if diff := cmp.Diff(tt.want, PolicyPermissionsFor(tt.action)); diff != "" {
			t.Errorf("PolicyPermissionsFor(%q) (-want +got):\n%s", tt.action, diff)
		}
	}
}

func TestPolicyEquivalent(t *testing.T) {
	all := func(c PermissionCategory) []string { return PermissionNames(c) }
	setter := validCustomRole()
	tests := []struct {
		name string
		role *RoleDefinition
		want AccessPolicyPermissions
	}{
		{"Secrets User", role(t, KeyVaultSecretsUserRoleID), AccessPolicyPermissions{Secrets: []string{"get", "list"}}},
		{"Secrets Officer", role(t, KeyVaultSecretsOfficerRoleID), AccessPolicyPermissions{Secrets: all(SecretPermissions)}},
		{"Key Vault Reader", role(t, KeyVaultReaderRoleID), AccessPolicyPermissions{
			Keys: []string{"get", "list", "getrotationpolicy"}, Secrets: []string{"list"},
			Certificates: []string{"get", "list", "getissuers", "listissuers"}, Storage: []string{"get", "list", "getsas", "listsas"}}},
		{"Administrator", role(t, KeyVaultAdministratorRoleID), AccessPolicyPermissions{
			Keys: all(KeyPermissions), Secrets: all(SecretPermissions), Certificates: all(CertificatePermissions), Storage: all(StoragePermissions)}},
		{"Owner", role(t, OwnerRoleID), AccessPolicyPermissions{}},
		{"custom secrets/* minus getSecret", &setter, AccessPolicyPermissions{Secrets: []string{"list", "set", "delete", "recover", "backup", "restore", "purge"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.role.PolicyEquivalent()); diff != "" {
				t.Errorf("PolicyEquivalent (-want +got):\n%s", diff)
			}
		})
	}
}
