package authz

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func builtinSet(t testing.TB) *RoleSet {
	t.Helper()
	s, err := NewRoleSet(BuiltinRoles()...)
	if err != nil {
		t.Fatalf("NewRoleSet(BuiltinRoles()...): %v", err)
	}
	return s
}

func role(t testing.TB, id string) *RoleDefinition {
	t.Helper()
	r, ok := builtinSet(t).Role(id)
	if !ok {
		t.Fatalf("built-in role %s not found", id)
	}
	return r
}

func TestBuiltinRolesShape(t *testing.T) {
	roles := BuiltinRoles()
	wantNames := []string{
		"Owner", "Contributor", "Reader", "User Access Administrator", "Role Based Access Control Administrator",
		"Key Vault Administrator", "Key Vault Certificate User", "Key Vault Certificates Officer", "Key Vault Contributor",
		"Key Vault Crypto Officer", "Key Vault Crypto Service Encryption User", "Key Vault Crypto Service Release User",
		"Key Vault Crypto User", "Key Vault Data Access Administrator", "Key Vault Reader", "Key Vault Secrets Officer",
		"Key Vault Secrets User", "Managed Identity Contributor", "Managed Identity Operator",
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.RoleName)
		if !isGUID(r.ID) || strings.ToLower(r.ID) != r.ID {
			t.Errorf("%s: id %q is not a lower-case GUID", r.RoleName, r.ID)
		}
		if r.RoleType != BuiltInRole || r.Description == "" {
			t.Errorf("%s: type %q, description %q", r.RoleName, r.RoleType, r.Description)
		}
		if diff := cmp.Diff([]string{"/"}, r.AssignableScopes); diff != "" {
			t.Errorf("%s: assignableScopes (-want +got):\n%s", r.RoleName, diff)
		}
		if err := checkPermissions(r.Permissions, maxBuiltinWildcards); err != nil {
			t.Errorf("%s: %v", r.RoleName, err)
		}
		for _, p := range r.Permissions {
			if p.Actions == nil || p.NotActions == nil || p.DataActions == nil || p.NotDataActions == nil {
				t.Errorf("%s: permission lists must be empty, not null, as ARM returns them", r.RoleName)
			}
		}
	}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("built-in role names (-want +got):\n%s", diff)
	}
	set := builtinSet(t)
	if got := len(set.All()); got != len(wantNames) {
		t.Errorf("RoleSet holds %d roles, want %d", got, len(wantNames))
	}
	// BuiltinRoles returns fresh copies: changing one must not change the next.
	roles[0].Permissions[0].Actions[0] = "changed"
	if BuiltinRoles()[0].Permissions[0].Actions[0] != "*" {
		t.Error("BuiltinRoles shares its slices between calls")
	}
}

func TestBuiltinRoleData(t *testing.T) {
	tests := []struct {
		id                                               string
		name                                             string
		actions, notActions, dataActions, notDataActions []string
		hasCondition                                     bool
	}{
		{id: OwnerRoleID, name: "Owner", actions: []string{"*"}},
		{id: ReaderRoleID, name: "Reader", actions: []string{"*/read"}},
		{id: KeyVaultSecretsUserRoleID, name: "Key Vault Secrets User",
			dataActions: []string{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{id: KeyVaultSecretsOfficerRoleID, name: "Key Vault Secrets Officer",
			actions: keyVaultControlActions(), dataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}},
		{id: KeyVaultReaderRoleID, name: "Key Vault Reader",
			actions: keyVaultControlActions(), dataActions: []string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{id: KeyVaultAdministratorRoleID, name: "Key Vault Administrator",
			actions: keyVaultControlActions(), dataActions: []string{"Microsoft.KeyVault/vaults/*"}},
		{id: UserAccessAdministratorRoleID, name: "User Access Administrator",
			actions: []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}},
		{id: RoleBasedAccessControlAdministratorRoleID, name: "Role Based Access Control Administrator",
			actions: []string{"Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read", "Microsoft.Support/*"}},
		{id: KeyVaultContributorRoleID, name: "Key Vault Contributor",
			actions: []string{"Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.KeyVault/*",
				"Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*"},
			notActions: []string{"Microsoft.KeyVault/locations/deletedVaults/purge/action", "Microsoft.KeyVault/hsmPools/*", "Microsoft.KeyVault/managedHsms/*"}},
		{id: KeyVaultDataAccessAdministratorRoleID, name: "Key Vault Data Access Administrator",
			actions: []string{"Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete",
				"Microsoft.Authorization/*/read", "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/subscriptions/read", "Microsoft.Management/managementGroups/read", "Microsoft.Resources/deployments/*",
				"Microsoft.Support/*", "Microsoft.KeyVault/vaults/*/read"},
			hasCondition: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := role(t, tt.id)
			if r.RoleName != tt.name || len(r.Permissions) != 1 {
				t.Fatalf("role %s = %q with %d permission blocks", tt.id, r.RoleName, len(r.Permissions))
			}
			p := r.Permissions[0]
			norm := func(s []string) []string {
				if s == nil {
					return []string{}
				}
				return s
			}
			for _, l := range []struct {
				field     string
				got, want []string
			}{
				{"actions", p.Actions, norm(tt.actions)}, {"notActions", p.NotActions, norm(tt.notActions)},
				{"dataActions", p.DataActions, norm(tt.dataActions)}, {"notDataActions", p.NotDataActions, norm(tt.notDataActions)},
			} {
				if diff := cmp.Diff(l.want, l.got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", l.field, diff)
				}
			}
			if got := p.Condition != ""; got != tt.hasCondition {
				t.Errorf("has condition = %v, want %v", got, tt.hasCondition)
			}
		})
	}
}

func TestBuiltinRoleGrants(t *testing.T) {
	const (
		getSecret  = DataActionSecretGet
		vaultRead  = "Microsoft.KeyVault/vaults/read"
		vaultWrite = "Microsoft.KeyVault/vaults/write"
		raWrite    = "Microsoft.Authorization/roleAssignments/write"
	)
	tests := []struct {
		name   string
		roleID string
		action string
		data   bool
		want   bool
	}{
		{"Owner grants any control action", OwnerRoleID, raWrite, false, true},
		{"Owner grants no data action", OwnerRoleID, getSecret, true, false},
		{"Contributor writes vaults", ContributorRoleID, vaultWrite, false, true},
		{"Contributor edits access policies", ContributorRoleID, "Microsoft.KeyVault/vaults/accessPolicies/write", false, true},
		{"Contributor cannot assign roles", ContributorRoleID, raWrite, false, false},
		{"Contributor cannot elevate", ContributorRoleID, "Microsoft.Authorization/elevateAccess/Action", false, false},
		{"Contributor reads role assignments", ContributorRoleID, "Microsoft.Authorization/roleAssignments/read", false, true},
		{"Contributor grants no data action", ContributorRoleID, getSecret, true, false},
		{"Reader reads vaults", ReaderRoleID, vaultRead, false, true},
		{"Reader reads subscriptions", ReaderRoleID, "Microsoft.Resources/subscriptions/read", false, true},
		{"Reader cannot write", ReaderRoleID, vaultWrite, false, false},
		{"Reader cannot edit access policies", ReaderRoleID, "Microsoft.KeyVault/vaults/accessPolicies/write", false, false},
		{"Reader grants no data action", ReaderRoleID, DataActionSecretReadMetadata, true, false},
		{"Actions never grant DataActions", KeyVaultContributorRoleID, getSecret, true, false},
		{"DataActions never grant Actions", KeyVaultSecretsOfficerRoleID, "Microsoft.KeyVault/vaults/secrets/write", false, false},
		{"Key Vault Contributor writes vaults", KeyVaultContributorRoleID, vaultWrite, false, true},
		{"Key Vault Contributor cannot purge vaults", KeyVaultContributorRoleID, "Microsoft.KeyVault/locations/deletedVaults/purge/action", false, false},
		{"Key Vault Reader reads the vault", KeyVaultReaderRoleID, vaultRead, false, true},
		{"Key Vault Reader reads metadata", KeyVaultReaderRoleID, DataActionSecretReadMetadata, true, true},
		{"Key Vault Reader cannot get values", KeyVaultReaderRoleID, getSecret, true, false},
		{"Secrets User gets values", KeyVaultSecretsUserRoleID, getSecret, true, true},
		{"Secrets User cannot set", KeyVaultSecretsUserRoleID, DataActionSecretSet, true, false},
		{"Secrets Officer purges", KeyVaultSecretsOfficerRoleID, DataActionSecretPurge, true, true},
		{"Secrets Officer cannot touch keys", KeyVaultSecretsOfficerRoleID, "Microsoft.KeyVault/vaults/keys/read", true, false},
		{"Administrator does everything in vaults", KeyVaultAdministratorRoleID, "Microsoft.KeyVault/vaults/keys/decrypt/action", true, true},
		{"Administrator cannot write vaults", KeyVaultAdministratorRoleID, vaultWrite, false, false},
		{"User Access Administrator assigns roles", UserAccessAdministratorRoleID, raWrite, false, true},
		{"RBAC Administrator assigns roles", RoleBasedAccessControlAdministratorRoleID, raWrite, false, true},
		{"RBAC Administrator cannot write role definitions", RoleBasedAccessControlAdministratorRoleID, "Microsoft.Authorization/roleDefinitions/write", false, false},
		{"Data Access Administrator without attributes cannot assign", KeyVaultDataAccessAdministratorRoleID, raWrite, false, false},
		{"Data Access Administrator reads vaults", KeyVaultDataAccessAdministratorRoleID, vaultRead, false, true},
		{"Managed Identity Operator reads identities", ManagedIdentityOperatorRoleID, "Microsoft.ManagedIdentity/userAssignedIdentities/read", false, true},
		{"Managed Identity Operator assigns identities", ManagedIdentityOperatorRoleID, "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", false, true},
		{"Managed Identity Operator cannot write identities", ManagedIdentityOperatorRoleID, "Microsoft.ManagedIdentity/userAssignedIdentities/write", false, false},
		{"Managed Identity Contributor writes federated credentials", ManagedIdentityContributorRoleID, "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write", false, true},
	}
	set := builtinSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := set.Role(tt.roleID)
			if got := r.Grants(tt.action, tt.data); got != tt.want {
				t.Errorf("%s.Grants(%q, data=%v) = %v, want %v", r.RoleName, tt.action, tt.data, got, tt.want)
			}
		})
	}
}

func validCustomRole() RoleDefinition {
	return RoleDefinition{
		ID:          "11111111-2222-3333-4444-555555555555",
		RoleName:    "Secret Setter",
		Description: "Sets secrets but never reads them.",
		RoleType:    CustomRole,
		Permissions: []Permission{{
			DataActions:    []string{"Microsoft.KeyVault/vaults/secrets/*"},
			NotDataActions: []string{DataActionSecretGet},
		}},
		AssignableScopes: []string{"/subscriptions/" + testSub},
	}
}

func TestValidateCustom(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(r *RoleDefinition)
		wantErr string
	}{
		{"valid", func(r *RoleDefinition) {}, ""},
		{"valid without type", func(r *RoleDefinition) { r.RoleType = "" }, ""},
		{"valid with control actions", func(r *RoleDefinition) { r.Permissions[0].Actions = []string{"*/read"} }, ""},
		{"valid management group", func(r *RoleDefinition) {
			r.AssignableScopes = []string{"/providers/Microsoft.Management/managementGroups/mg"}
		}, ""},
		{"id not a GUID", func(r *RoleDefinition) { r.ID = "secret-setter" }, "not a GUID"},
		{"built-in type", func(r *RoleDefinition) { r.RoleType = BuiltInRole }, "only CustomRole"},
		{"no name", func(r *RoleDefinition) { r.RoleName = "  " }, "roleName is required"},
		{"long name", func(r *RoleDefinition) { r.RoleName = strings.Repeat("é", MaxRoleNameLength+1) }, "at most 512"},
		{"long description", func(r *RoleDefinition) { r.Description = strings.Repeat("d", MaxRoleDescriptionLength+1) }, "at most 2048"},
		{"no permission", func(r *RoleDefinition) { r.Permissions = nil }, "at least one permission"},
		{"permission grants nothing", func(r *RoleDefinition) {
			r.Permissions = []Permission{{NotActions: []string{"*"}}}
		}, "grant no action"},
		{"two wildcards", func(r *RoleDefinition) { r.Permissions[0].Actions = []string{"Microsoft.Network/*/subnets/*"} }, "at most 1"},
		{"bad data action", func(r *RoleDefinition) { r.Permissions[0].DataActions = []string{"*"} }, "must name a resource provider"},
		{"malformed not action", func(r *RoleDefinition) { r.Permissions[0].NotDataActions = []string{"bad action"} }, "notDataActions"},
		{"condition", func(r *RoleDefinition) {
			r.Permissions[0].Condition = "(!(ActionMatches{'Microsoft.KeyVault/vaults/secrets/getSecret/action'}))"
		}, "conditions on custom role definitions are not supported"},
		{"no scopes", func(r *RoleDefinition) { r.AssignableScopes = nil }, "assignableScopes is required"},
		{"root scope", func(r *RoleDefinition) { r.AssignableScopes = []string{"/"} }, "root scope"},
		{"wildcard scope", func(r *RoleDefinition) { r.AssignableScopes = []string{"/subscriptions/*"} }, "wildcard"},
		{"bad scope", func(r *RoleDefinition) { r.AssignableScopes = []string{"subscriptions/x"} }, "must start with '/'"},
		{"two management groups", func(r *RoleDefinition) {
			r.AssignableScopes = []string{"/providers/Microsoft.Management/managementGroups/a", "/providers/Microsoft.Management/managementGroups/b"}
		}, "only one management group"},
		{"too many scopes", func(r *RoleDefinition) {
			r.AssignableScopes = slices.Repeat([]string{"/subscriptions/" + testSub}, MaxAssignableScopes+1)
		}, "at most 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validCustomRole()
			tt.edit(&r)
			err := r.ValidateCustom()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateCustom() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRole) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateCustom() = %v, want ErrInvalidRole containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCanAssignAt(t *testing.T) {
	custom := validCustomRole()
	control := validCustomRole()
	control.Permissions = []Permission{{Actions: []string{"*/read"}}}
	control.AssignableScopes = []string{"/providers/Microsoft.Management/managementGroups/mg"}
	reader := role(t, ReaderRoleID)
	mg := "/providers/Microsoft.Management/managementGroups/mg"
	tests := []struct {
		name  string
		role  *RoleDefinition
		scope string
		ok    bool
	}{
		{"built-in at a secret", reader, testVault + "/secrets/s", true},
		{"built-in at the root", reader, "/", true},
		{"custom in its subscription", &custom, testVault, true},
		{"custom at its subscription", &custom, "/subscriptions/" + testSub, true},
		{"custom in another subscription", &custom, "/subscriptions/1b1f6471-1bf0-4dda-aec3-cb9272f09590", false},
		{"custom above its scope", &custom, "/", false},
		{"data-action role at a management group", &custom, mg, false},
		{"control-only role at its management group", &control, mg, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.role.CanAssignAt(mustScope(t, tt.scope))
			if (err == nil) != tt.ok {
				t.Errorf("CanAssignAt(%q) = %v, want ok=%v", tt.scope, err, tt.ok)
			}
		})
	}
}

func TestRoleSetLookup(t *testing.T) {
	set := builtinSet(t)
	for _, id := range []string{
		KeyVaultSecretsUserRoleID,
		strings.ToUpper(KeyVaultSecretsUserRoleID),
		"/subscriptions/" + testSub + "/providers/Microsoft.Authorization/roleDefinitions/" + KeyVaultSecretsUserRoleID,
		"/providers/Microsoft.Authorization/roleDefinitions/" + KeyVaultSecretsUserRoleID,
	} {
		if r, ok := set.Role(id); !ok || r.RoleName != "Key Vault Secrets User" {
			t.Errorf("Role(%q) = %v, %v", id, r, ok)
		}
	}
	if r, ok := set.ByName("key vault secrets user"); !ok || r.ID != KeyVaultSecretsUserRoleID {
		t.Errorf("ByName = %v, %v", r, ok)
	}
	if _, ok := set.Role("00000000-0000-0000-0000-000000000001"); ok {
		t.Error("unknown role found")
	}
	dup := append(BuiltinRoles(), BuiltinRoles()[0])
	if _, err := NewRoleSet(dup...); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("duplicate id: %v", err)
	}
	renamed := validCustomRole()
	renamed.RoleName = "owner"
	if _, err := NewRoleSet(append(BuiltinRoles(), renamed)...); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("duplicate name: %v", err)
	}
	badCond := validCustomRole()
	badCond.Permissions[0].Condition = "@Principal[x] StringEquals 'y'"
	if _, err := NewRoleSet(badCond); !errors.Is(err, ErrUnsupportedCondition) {
		t.Errorf("unsupported condition: %v", err)
	}
	badID := validCustomRole()
	badID.ID = "x"
	if _, err := NewRoleSet(badID); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("bad id: %v", err)
	}
}

func TestRoleDefinitionIDs(t *testing.T) {
	sub := mustScope(t, "/subscriptions/"+testSub)
	full := RoleDefinitionResourceID(sub, ReaderRoleID)
	if want := "/subscriptions/" + testSub + "/providers/Microsoft.Authorization/roleDefinitions/" + ReaderRoleID; full != want {
		t.Errorf("RoleDefinitionResourceID = %q, want %q", full, want)
	}
	if got := RoleDefinitionResourceID(RootScope(), ReaderRoleID); got != "/providers/Microsoft.Authorization/roleDefinitions/"+ReaderRoleID {
		t.Errorf("root RoleDefinitionResourceID = %q", got)
	}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{ReaderRoleID, ReaderRoleID, true},
		{strings.ToUpper(ReaderRoleID), ReaderRoleID, true},
		{full, ReaderRoleID, true},
		{"/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/" + ReaderRoleID, "", false},
		{"reader", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := RoleDefinitionGUID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("RoleDefinitionGUID(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
