package authz

import (
	"slices"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/fault"
)

func testVaultAccess(t testing.TB, rbac bool) *Vault {
	return &Vault{
		Name: "kv1", Location: "westeurope", Scope: mustScope(t, testVault),
		EnableRBACAuthorization: rbac,
		AccessPolicies:          []AccessPolicyEntry{entry(appSPID, "", "get", "list")},
	}
}

// TestAuthorizeSecret covers the switch between the two models (identity.md §5 item 33) and
// the 403 bodies each model answers with.
func TestAuthorizeSecret(t *testing.T) {
	sp := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, AppOnly: true, Issuer: "https://sts.windows.net/" + tenantID + "/"}
	rbacNone := &RBAC{Roles: builtinSet(t)}
	rbacUser := &RBAC{Assignments: []Assignment{assign(t, 0, s1Scope, KeyVaultSecretsUserRoleID, appSPID)}, Roles: builtinSet(t)}
	compound := testVaultAccess(t, false)
	compound.AccessPolicies = []AccessPolicyEntry{entry(appSPID, appID, "get")}
	tests := []struct {
		name      string
		vault     *Vault
		op        SecretOperation
		secret    string
		rbac      *RBAC
		want      bool
		wantRBAC  bool
		wantInner string
	}{
		{"item 33: policies grant get on a policy vault", testVaultAccess(t, false), SecretGet, "s1", rbacNone, true, false, ""},
		{"item 33: policies deny set on a policy vault", testVaultAccess(t, false), SecretSet, "s1", rbacUser, false, false, InnerAccessDenied},
		{"item 33: policies are ignored on an RBAC vault", testVaultAccess(t, true), SecretGet, "s1", rbacNone, false, true, InnerForbiddenByRbac},
		{"item 33: RBAC grants on an RBAC vault", testVaultAccess(t, true), SecretGet, "s1", rbacUser, true, true, ""},
		{"item 33: flipping back restores the policies", testVaultAccess(t, false), SecretList, "", rbacNone, true, false, ""},
		{"RBAC at the secret does not list the vault", testVaultAccess(t, true), SecretList, "", rbacUser, false, true, InnerForbiddenByRbac},
		{"RBAC at s1 does not reach s2", testVaultAccess(t, true), SecretGet, "s2", rbacUser, false, true, InnerForbiddenByRbac},
		{"an RBAC vault without RBAC data denies", testVaultAccess(t, true), SecretGet, "s1", nil, false, true, InnerForbiddenByRbac},
		{"a name that cannot form a scope is denied", testVaultAccess(t, true), SecretGet, "a/b", rbacUser, false, true, InnerForbiddenByRbac},
		{"an unknown operation is denied by policy", testVaultAccess(t, false), SecretOperation(99), "s1", nil, false, false, InnerAccessDenied},
		{"an unknown operation is denied by RBAC", testVaultAccess(t, true), SecretOperation(99), "s1", rbacUser, false, true, InnerForbiddenByRbac},
		{"compound entry for an app-only token needs OBO", compound, SecretGet, "s1", nil, false, false, InnerForbiddenByPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AuthorizeSecret(tt.vault, sp, tt.op, tt.secret, tt.rbac)
			if got.Allowed != tt.want || got.ByRBAC != tt.wantRBAC {
				t.Fatalf("AuthorizeSecret = allowed %v byRBAC %v, want %v %v", got.Allowed, got.ByRBAC, tt.want, tt.wantRBAC)
			}
			if tt.want {
				if got.Err != nil {
					t.Errorf("allowed with error %v", got.Err)
				}
				return
			}
			if got.Err == nil || got.Err.Kind != fault.Forbidden || got.Err.Code != "Forbidden" || got.Err.Inner != tt.wantInner {
				t.Errorf("Err = %+v, want Forbidden/%s", got.Err, tt.wantInner)
			}
		})
	}
}

func TestAuthorizeSecretAllocations(t *testing.T) {
	sp := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, AppOnly: true}
	policy := testVaultAccess(t, false)
	rbacVault := testVaultAccess(t, true)
	r := &RBAC{Assignments: typicalAssignments(t), Roles: builtinSet(t)}
	if n := testing.AllocsPerRun(100, func() { AuthorizeSecret(policy, sp, SecretGet, "s1", nil) }); n != 0 {
		t.Errorf("policy check allocated %v times", n)
	}
	// The secret's scope is one string concatenation; nothing else allocates.
	if n := testing.AllocsPerRun(100, func() { AuthorizeSecret(rbacVault, sp, SecretGet, "s1", r) }); n > 1 {
		t.Errorf("RBAC check allocated %v times, want at most 1", n)
	}
}

func TestKeyVaultMessages(t *testing.T) {
	c := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, GroupIDs: []string{groupID, bobID},
		Issuer: "https://sts.windows.net/" + tenantID + "/"}
	tests := []struct {
		name  string
		err   *fault.Error
		code  string
		inner string
		msg   string
	}{
		{"access policy", KeyVaultAccessDenied(c, secretsGet, "kv1", "westeurope"), "Forbidden", "AccessDenied",
			"The user, group or application 'appid=" + appID + ";oid=" + appSPID + ";numgroups=2;iss=https://sts.windows.net/" + tenantID +
				"/' does not have secrets get permission on key vault 'kv1;location=westeurope'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"},
		{"on-behalf-of", KeyVaultRequiresOnBehalfOf(&Caller{ObjectID: appSPID, ApplicationID: appID, Issuer: "https://sts.windows.net/" + tenantID + "/"}), "Forbidden", "ForbiddenByPolicy",
			"The policy requires the caller 'appid=" + appID + ";oid=" + appSPID + ";iss=https://sts.windows.net/" + tenantID +
				"/' to use on-behalf-of (OBO) flow. For more information on OBO, please see https://go.microsoft.com/fwlink/?linkid=2152310"},
		{"RBAC", KeyVaultForbiddenByRbac(&Caller{ObjectID: appSPID, ApplicationID: appID, Issuer: "https://sts.windows.net/" + tenantID + "/"},
			DataActionSecretGet, s1Scope, Decision{Reason: DeniedWithNoValidRBAC}, "kv1", "westeurope"), "Forbidden", "ForbiddenByRbac",
			"Caller is not authorized to perform action on resource.\r\n" +
				"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n" +
				"Caller: appid=" + appID + ";oid=" + appSPID + ";iss=https://sts.windows.net/" + tenantID + "/\r\n" +
				"Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n" +
				"Resource: '/subscriptions/" + testSub + "/resourcegroups/rg1/providers/microsoft.keyvault/vaults/kv1/secrets/s1'\r\n" +
				"Assignment: (not found)\r\n" +
				"DenyAssignmentId: null\r\n" +
				"DecisionReason: 'DeniedWithNoValidRBAC' \r\n" +
				"Vault: kv1;location=westeurope\r\n"},
		{"RBAC with a deny assignment", KeyVaultForbiddenByRbac(&Caller{ObjectID: appSPID},
			DataActionSecretGet, s1Scope, Decision{Reason: DeniedWithDenyAssignment, Assignment: &Assignment{ID: "/ra/1"}, DenyAssignment: &DenyAssignment{ID: "/da/1"}}, "kv1", "westeurope"),
			"Forbidden", "ForbiddenByRbac", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Kind != fault.Forbidden || tt.err.Kind.Status() != 403 || tt.err.Code != tt.code || tt.err.Inner != tt.inner {
				t.Errorf("kind/code/inner = %v/%q/%q, want Forbidden/%q/%q", tt.err.Kind, tt.err.Code, tt.err.Inner, tt.code, tt.inner)
			}
			if tt.msg != "" && tt.err.Message != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", tt.err.Message, tt.msg)
			}
		})
	}
	deny := tests[3].err.Message
	for _, want := range []string{"Assignment: /ra/1\r\n", "DenyAssignmentId: /da/1\r\n", "DecisionReason: 'DeniedWithDenyAssignment' \r\n", "Caller: appid=;oid=" + appSPID + ";iss=\r\n"} {
		if !strings.Contains(deny, want) {
			t.Errorf("deny message %q lacks %q", deny, want)
		}
	}
}

func TestARMMessages(t *testing.T) {
	scope := testVault + raIDSufix + "7c0ffee0-0000-4000-8000-000000000000"
	tests := []struct {
		name string
		err  *fault.Error
		code string
		msg  string
	}{
		{"service principal", AuthorizationFailed("", appSPID, "Microsoft.KeyVault/vaults/write", testVault), "AuthorizationFailed",
			"The client '" + appSPID + "' with object id '" + appSPID + "' does not have authorization to perform action 'Microsoft.KeyVault/vaults/write' over scope '" +
				testVault + "' or the scope is invalid. If access was recently granted, please refresh your credentials."},
		{"user", AuthorizationFailed("alice@contoso.com", aliceID, "Microsoft.Resources/subscriptions/resourceGroups/read", rg1Scope), "AuthorizationFailed",
			"The client 'alice@contoso.com' with object id '" + aliceID + "' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/read' over scope '" +
				rg1Scope + "' or the scope is invalid. If access was recently granted, please refresh your credentials."},
		{"role assignment write", AuthorizationFailed("", appSPID, raWrite, scope), "AuthorizationFailed",
			"The client '" + appSPID + "' with object id '" + appSPID + "' does not have authorization or an ABAC condition not fulfilled to perform action '" + raWrite +
				"' over scope '" + scope + "' or the scope is invalid. If access was recently granted, please refresh your credentials."},
		{"deny assignment", DenyAssignmentAuthorizationFailed("", appSPID, "Microsoft.KeyVault/vaults/delete", testVault,
			&DenyAssignment{ID: "d-1", Name: "locked by stack", Scope: mustScope(t, rg1Scope)}), "DenyAssignmentAuthorizationFailed",
			"The client '" + appSPID + "' with object id '" + appSPID + "' has permission to perform action 'Microsoft.KeyVault/vaults/delete' on scope '" + testVault +
				"'; however, the access is denied because of the deny assignment with name 'locked by stack' and Id 'd-1' at scope '" + rg1Scope + "'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Kind != fault.Forbidden || tt.err.Code != tt.code || tt.err.Message != tt.msg || tt.err.Inner != "" {
				t.Errorf("got %v/%q/%q\nmessage %q\n   want %q", tt.err.Kind, tt.err.Code, tt.err.Inner, tt.err.Message, tt.msg)
			}
		})
	}
	if ManagementDenial("", appSPID, "a.b/c", testVault, Decision{Allowed: true}) != nil {
		t.Error("ManagementDenial of an allowed decision must be nil")
	}
	if e := ManagementDenial("", appSPID, "a.b/c", testVault, Decision{Reason: DeniedWithDenyAssignment, DenyAssignment: &DenyAssignment{ID: "x"}}); e.Code != CodeDenyAssignmentAuthorizationFailed {
		t.Errorf("ManagementDenial with a deny assignment = %q", e.Code)
	}
	if e := ManagementDenial("", appSPID, "a.b/c", testVault, Decision{Reason: DeniedWithNoValidRBAC}); e.Code != CodeAuthorizationFailed {
		t.Errorf("ManagementDenial without a grant = %q", e.Code)
	}
}

func TestSecretOperations(t *testing.T) {
	tests := []struct {
		op               SecretOperation
		name, permission string
		dataAction       string
		onSecret         bool
	}{
		{SecretSet, "set", "set", "Microsoft.KeyVault/vaults/secrets/setSecret/action", true},
		{SecretGet, "get", "get", "Microsoft.KeyVault/vaults/secrets/getSecret/action", true},
		{SecretList, "list", "list", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", false},
		{SecretListVersions, "listVersions", "list", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", true},
		{SecretUpdate, "update", "set", "Microsoft.KeyVault/vaults/secrets/update/action", true},
		{SecretDelete, "delete", "delete", "Microsoft.KeyVault/vaults/secrets/delete", true},
		{SecretGetDeleted, "getDeleted", "get", "Microsoft.KeyVault/vaults/secrets/getSecret/action", true},
		{SecretListDeleted, "listDeleted", "list", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", false},
		{SecretRecover, "recover", "recover", "Microsoft.KeyVault/vaults/secrets/recover/action", true},
		{SecretPurge, "purge", "purge", "Microsoft.KeyVault/vaults/secrets/purge/action", true},
		{SecretBackup, "backup", "backup", "Microsoft.KeyVault/vaults/secrets/backup/action", true},
		{SecretRestore, "restore", "restore", "Microsoft.KeyVault/vaults/secrets/restore/action", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.op.String() != tt.name || tt.op.Permission() != (PolicyPermission{SecretPermissions, tt.permission}) ||
				tt.op.DataAction() != tt.dataAction || tt.op.OnSecret() != tt.onSecret {
				t.Errorf("%v: %v %q %v", tt.op, tt.op.Permission(), tt.op.DataAction(), tt.op.OnSecret())
			}
			// The data action an operation needs is one its policy permission stands for.
			if !slices.Contains(DataActionsFor(tt.op.Permission()), tt.op.DataAction()) {
				t.Errorf("%v needs %q, which %v does not stand for", tt.op, tt.op.DataAction(), tt.op.Permission())
			}
		})
	}
	if SecretOperation(0).String() != "invalid" || SecretOperation(200).DataAction() != "" {
		t.Error("invalid operations must have no name and no data action")
	}
}
