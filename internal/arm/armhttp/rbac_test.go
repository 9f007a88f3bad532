package armhttp_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/authz"
)

// rbacWorld is the fixture of the RBAC table: two groups, a vault in each, a deleted vault,
// and helpers to act as any principal.
type rbacWorld struct {
	e        *sdkEnv
	sub      string // /subscriptions/{id}
	rg, rg2  string // group scopes
	vault    string // vault id in rg
	victim   string // a principal that role assignments are made for
	ownerRA  string // an Owner assignment for victim at rg
	kvUserRA string // a Key Vault Secrets User assignment for victim at rg
}

func newRBACWorld(t *testing.T, e *sdkEnv) *rbacWorld {
	w := &rbacWorld{e: e, sub: "/subscriptions/" + e.Subscription}
	w.rg, w.rg2 = w.sub+"/resourceGroups/rbac-rg", w.sub+"/resourceGroups/rbac-rg2"
	createGroup(t, e, "rbac-rg")
	createGroup(t, e, "rbac-rg2")
	c := newVaultsClient(t, e, nil)
	v := createVault(t, c, "rbac-rg", "kv-rbac", vaultParams(e))
	w.vault = *v.ID
	createVault(t, c, "rbac-rg2", "kv-rbac2", vaultParams(e))
	for _, n := range []string{"kv-rbac-gone", "kv-rbac-gone2"} {
		createVault(t, c, "rbac-rg", n, vaultParams(e))
		if _, err := c.Delete(context.Background(), "rbac-rg", n, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, w.victim = e.NewPrincipal(t)
	w.ownerRA = assign(t, e, w.victim, authz.OwnerRoleID, w.rg)
	w.kvUserRA = assign(t, e, w.victim, authz.KeyVaultSecretsUserRoleID, w.rg)
	return w
}

func (w *rbacWorld) assignAs(t *testing.T, cred azcore.TokenCredential, role, scope string) error {
	_, err := newAssignmentsClient(t, w.e, cred).Create(context.Background(), scope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID:      ptr(w.victim),
			RoleDefinitionID: ptr(w.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role),
		},
	}, nil)
	return err
}

// TestRBAC checks, through the REST API with real principals, who may do what on the
// management plane (identity.md §5 items 34, 36, 37 and 39, plus the built-in roles' basic
// promises). Each case gives a fresh principal one role at one scope, then runs one
// operation as that principal.
func TestRBAC(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		w := newRBACWorld(t, e)
		ctx := context.Background()
		getVault := func(cred azcore.TokenCredential) error {
			_, err := newVaultsClient(t, e, cred).Get(ctx, "rbac-rg", "kv-rbac", nil)
			return err
		}
		createVaultAs := func(cred azcore.TokenCredential) error {
			p, err := newVaultsClient(t, e, cred).BeginCreateOrUpdate(ctx, "rbac-rg", "kv-"+uuid.NewString()[:8], vaultParams(e), nil)
			if err == nil {
				_, err = p.PollUntilDone(ctx, nil)
			}
			return err
		}
		setPolicy := func(cred azcore.TokenCredential) error {
			_, err := newVaultsClient(t, e, cred).UpdateAccessPolicy(ctx, "rbac-rg", "kv-rbac", armkeyvault.AccessPolicyUpdateKindAdd, armkeyvault.VaultAccessPolicyParameters{
				Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{{
					TenantID: ptr(e.TenantID), ObjectID: ptr(uuid.NewString()),
					Permissions: &armkeyvault.Permissions{Secrets: []*armkeyvault.SecretPermissions{ptr(armkeyvault.SecretPermissionsGet)}},
				}}},
			}, nil)
			return err
		}
		getGroup := func(cred azcore.TokenCredential) error {
			c, _ := armresources.NewResourceGroupsClient(e.Subscription, cred, e.options())
			_, err := c.Get(ctx, "rbac-rg", nil)
			return err
		}
		writeGroupTags := func(cred azcore.TokenCredential) error {
			c, _ := armresources.NewResourceGroupsClient(e.Subscription, cred, e.options())
			_, err := c.Update(ctx, "rbac-rg", armresources.ResourceGroupPatchable{Tags: map[string]*string{"k": ptr("v")}}, nil)
			return err
		}
		listAssignments := func(cred azcore.TokenCredential) error {
			p := newAssignmentsClient(t, e, cred).NewListForScopePager(w.rg, nil)
			_, err := p.NextPage(ctx)
			return err
		}
		purge := func(name string) func(azcore.TokenCredential) error {
			return func(cred azcore.TokenCredential) error {
				_, err := newVaultsClient(t, e, cred).BeginPurgeDeleted(ctx, name, "westeurope", nil)
				return err
			}
		}
		scopes := map[string]string{"sub": w.sub, "rg": w.rg, "rg2": w.rg2, "vault": w.vault}
		assignRole := func(role, scope string) func(azcore.TokenCredential) error {
			return func(cred azcore.TokenCredential) error { return w.assignAs(t, cred, role, scopes[scope]) }
		}
		deleteAssignment := func(name *string) func(azcore.TokenCredential) error {
			return func(cred azcore.TokenCredential) error {
				_, err := newAssignmentsClient(t, e, cred).Delete(ctx, w.rg, *name, nil)
				return err
			}
		}
		const ok = 0
		cases := []struct {
			name  string
			role  string
			scope string // "sub", "rg", "rg2", "vault"
			op    func(azcore.TokenCredential) error
			want  int
		}{
			{"no role cannot read a vault", "", "", getVault, http.StatusForbidden},
			{"Reader reads a vault", authz.ReaderRoleID, "sub", getVault, ok},
			{"Reader reads a group", authz.ReaderRoleID, "rg", getGroup, ok},
			{"Reader lists role assignments", authz.ReaderRoleID, "sub", listAssignments, ok},
			{"Reader cannot create a vault", authz.ReaderRoleID, "sub", createVaultAs, http.StatusForbidden},
			{"Reader cannot tag a group", authz.ReaderRoleID, "sub", writeGroupTags, http.StatusForbidden},
			{"Reader cannot set access policies", authz.ReaderRoleID, "sub", setPolicy, http.StatusForbidden},
			{"Reader in a sibling group sees nothing", authz.ReaderRoleID, "rg2", getVault, http.StatusForbidden},
			{"Contributor creates a vault", authz.ContributorRoleID, "rg", createVaultAs, ok},
			{"Contributor sets access policies (item 34)", authz.ContributorRoleID, "vault", setPolicy, ok},
			{"Contributor cannot assign roles (item 39)", authz.ContributorRoleID, "sub", assignRole(authz.ReaderRoleID, "rg"), http.StatusForbidden},
			{"Contributor purges a deleted vault", authz.ContributorRoleID, "sub", purge("kv-rbac-gone"), ok},
			{"Key Vault Contributor cannot purge", authz.KeyVaultContributorRoleID, "sub", purge("kv-rbac-gone2"), http.StatusForbidden},
			{"Key Vault Contributor sets access policies (item 34)", authz.KeyVaultContributorRoleID, "vault", setPolicy, ok},
			{"Key Vault Secrets Officer cannot set access policies", authz.KeyVaultSecretsOfficerRoleID, "vault", setPolicy, http.StatusForbidden},
			{"Key Vault Reader reads the vault (item 37)", authz.KeyVaultReaderRoleID, "vault", getVault, ok},
			{"Key Vault Reader cannot write it (item 37)", authz.KeyVaultReaderRoleID, "rg", setPolicy, http.StatusForbidden},
			{"Key Vault Secrets User cannot read the vault resource", authz.KeyVaultSecretsUserRoleID, "vault", getVault, http.StatusForbidden},
			{"Owner at a group assigns there", authz.OwnerRoleID, "rg", assignRole(authz.ReaderRoleID, "rg"), ok},
			{"Owner at a group cannot assign at the subscription", authz.OwnerRoleID, "rg", assignRole(authz.ReaderRoleID, "sub"), http.StatusForbidden},
			{"User Access Administrator assigns roles", authz.UserAccessAdministratorRoleID, "sub", assignRole(authz.ContributorRoleID, "rg"), ok},
			{"User Access Administrator cannot create vaults", authz.UserAccessAdministratorRoleID, "sub", createVaultAs, http.StatusForbidden},
			{"Data Access Administrator assigns Key Vault Secrets User (item 39)", authz.KeyVaultDataAccessAdministratorRoleID, "rg", assignRole(authz.KeyVaultSecretsUserRoleID, "vault"), ok},
			{"Data Access Administrator cannot assign Owner (item 39)", authz.KeyVaultDataAccessAdministratorRoleID, "rg", assignRole(authz.OwnerRoleID, "vault"), http.StatusForbidden},
			{"Data Access Administrator cannot assign Contributor", authz.KeyVaultDataAccessAdministratorRoleID, "rg", assignRole(authz.ContributorRoleID, "rg"), http.StatusForbidden},
			{"Data Access Administrator deletes a Key Vault Secrets User assignment", authz.KeyVaultDataAccessAdministratorRoleID, "rg", deleteAssignment(&w.kvUserRA), ok},
			{"Data Access Administrator cannot delete an Owner assignment", authz.KeyVaultDataAccessAdministratorRoleID, "rg", deleteAssignment(&w.ownerRA), http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cred, id := e.NewPrincipal(t)
				if tc.role != "" {
					assign(t, e, id, tc.role, scopes[tc.scope])
				}
				err := tc.op(cred)
				switch {
				case tc.want == ok && err != nil:
					t.Fatalf("got %v, want success", firstLine(err.Error()))
				case tc.want != ok && err == nil:
					t.Fatalf("succeeded, want %d", tc.want)
				case tc.want != ok:
					re := respErr(t, err)
					if re.StatusCode != tc.want || (tc.want == http.StatusForbidden && re.ErrorCode != "AuthorizationFailed") {
						t.Fatalf("got %d %s, want %d AuthorizationFailed", re.StatusCode, re.ErrorCode, tc.want)
					}
				}
			})
		}
	})
}

// TestRBACDataActions checks what role assignments made through the REST API grant on the
// data plane, through the cached check the Key Vault data plane uses (identity.md §5 items
// 35, 36, 37 and 38).
func TestRBACDataActions(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		w := newRBACWorld(t, e)
		ctx := context.Background()
		dc, _ := armauthorization.NewRoleDefinitionsClient(e.Admin, e.options())
		custom := uuid.NewString()
		if _, err := dc.CreateOrUpdate(ctx, w.sub, custom, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
			RoleName: ptr("Secrets writer without read"), RoleType: ptr("CustomRole"),
			Permissions: []*armauthorization.Permission{{
				DataActions:    []*string{ptr("Microsoft.KeyVault/vaults/secrets/*")},
				NotDataActions: []*string{ptr("Microsoft.KeyVault/vaults/secrets/getSecret/action")},
			}},
			AssignableScopes: []*string{ptr(w.sub)},
		}}, nil); err != nil {
			t.Fatal(err)
		}
		secret := func(vault, name string) authz.Scope {
			info, ok := e.Service.LookupVault(vault)
			if !ok {
				t.Fatalf("vault %s unknown to the data plane", vault)
			}
			sc, err := info.Scope.Child("secrets", name)
			if err != nil {
				t.Fatal(err)
			}
			return sc
		}
		const (
			get  = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
			set  = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
			meta = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
		)
		cases := []struct {
			name   string
			role   string
			scope  string
			vault  string
			secret string
			action string
			want   bool
		}{
			{"Secrets User at a secret reads it (35)", authz.KeyVaultSecretsUserRoleID, w.vault + "/secrets/s1", "kv-rbac", "s1", get, true},
			{"Secrets User at a secret does not read another (35)", authz.KeyVaultSecretsUserRoleID, w.vault + "/secrets/s1", "kv-rbac", "s2", get, false},
			{"Secrets User at a group reads every vault in it (35)", authz.KeyVaultSecretsUserRoleID, w.rg, "kv-rbac", "any", get, true},
			{"Secrets User at a group gets nothing in a sibling group (35)", authz.KeyVaultSecretsUserRoleID, w.rg, "kv-rbac2", "any", get, false},
			{"Owner at the subscription has no data actions (36)", authz.OwnerRoleID, w.sub, "kv-rbac", "s1", get, false},
			{"Contributor at the subscription has no data actions (36)", authz.ContributorRoleID, w.sub, "kv-rbac", "s1", get, false},
			{"Reader at the subscription has no data actions (36)", authz.ReaderRoleID, w.sub, "kv-rbac", "s1", get, false},
			{"Key Vault Reader reads metadata (37)", authz.KeyVaultReaderRoleID, w.vault, "kv-rbac", "s1", meta, true},
			{"Key Vault Reader cannot read values (37)", authz.KeyVaultReaderRoleID, w.vault, "kv-rbac", "s1", get, false},
			{"custom secrets/* minus getSecret can set (38)", custom, w.vault, "kv-rbac", "s1", set, true},
			{"custom secrets/* minus getSecret cannot get (38)", custom, w.vault, "kv-rbac", "s1", get, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, id := e.NewPrincipal(t)
				assign(t, e, id, tc.role, tc.scope)
				d := e.Service.CheckAccess(authz.Principal{ObjectID: id}, secret(tc.vault, tc.secret), tc.action, true)
				if d.Allowed != tc.want {
					t.Fatalf("CheckAccess(%s on %s/%s) = %+v, want allowed=%v", tc.action, tc.vault, tc.secret, d, tc.want)
				}
			})
		}
	})
}

// TestRoleAssignmentConditions gives a principal User Access Administrator under an ABAC
// condition that only allows assigning Key Vault Secrets User, then checks what it can
// assign; a malformed condition is refused when the assignment is written.
func TestRoleAssignmentConditions(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		w := newRBACWorld(t, e)
		ctx := context.Background()
		cred, id := e.NewPrincipal(t)
		condition := "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR " +
			"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {" + authz.KeyVaultSecretsUserRoleID + "}))"
		ac := newAssignmentsClient(t, e, nil)
		_, err := ac.Create(ctx, w.rg, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: ptr(id), RoleDefinitionID: ptr(w.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + authz.UserAccessAdministratorRoleID),
			Condition: ptr(condition), ConditionVersion: ptr("2.0"),
		}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.assignAs(t, cred, authz.KeyVaultSecretsUserRoleID, w.vault); err != nil {
			t.Fatalf("assigning the allowed role: %v", err)
		}
		err = w.assignAs(t, cred, authz.ReaderRoleID, w.vault)
		wantError(t, err, http.StatusForbidden, "AuthorizationFailed")

		_, err = ac.Create(ctx, w.rg, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: ptr(id), RoleDefinitionID: ptr(w.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + authz.ReaderRoleID),
			Condition: ptr("((("), ConditionVersion: ptr("2.0"),
		}}, nil)
		wantError(t, err, http.StatusBadRequest, "InvalidCondition")
	})
}
