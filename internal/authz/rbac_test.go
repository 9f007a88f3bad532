package authz

import (
	"errors"
	"strings"
	"testing"
)

// Fixture identities and scopes shared by the RBAC and Key Vault tests.
const (
	aliceID   = "a11ce000-0000-4000-8000-000000000001" // a user
	bobID     = "b0b00000-0000-4000-8000-000000000002" // another user
	appSPID   = "5e7a1ce0-0000-4000-8000-000000000003" // a service principal
	groupID   = "6a0b0000-0000-4000-8000-000000000004" // a group alice belongs to
	tenantID  = "7e4a4700-0000-4000-8000-000000000005"
	appID     = "a9910000-0000-4000-8000-000000000006" // the service principal's application (client) id
	otherApp  = "04b07795-8ddb-461a-bbee-02f9e1bf7b46" // the Azure CLI's client id
	subScope  = "/subscriptions/" + testSub
	rg1Scope  = subScope + "/resourceGroups/rg1"
	rg2Scope  = subScope + "/resourceGroups/rg2"
	kv2Scope  = rg1Scope + "/providers/Microsoft.KeyVault/vaults/kv2"
	kv3Scope  = rg2Scope + "/providers/Microsoft.KeyVault/vaults/kv3"
	s1Scope   = testVault + "/secrets/s1"
	s2Scope   = testVault + "/secrets/s2"
	raIDSufix = "/providers/Microsoft.Authorization/roleAssignments/"
)

func assign(t testing.TB, n int, scope, roleID, principal string) Assignment {
	t.Helper()
	a := Assignment{
		ID:               scope + raIDSufix + "00000000-0000-4000-8000-0000000000" + string(rune('1'+n/10)) + string(rune('0'+n%10)),
		Scope:            mustScope(t, scope),
		RoleDefinitionID: "/subscriptions/" + testSub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
		PrincipalID:      principal,
		PrincipalType:    PrincipalUser,
	}
	if err := a.Compile(); err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return a
}

func dataReq(t testing.TB, principal Principal, action, scope string) *Request {
	return &Request{Principal: principal, Action: action, DataAction: true, Scope: mustScope(t, scope)}
}

func TestRBACCheck(t *testing.T) {
	roles := builtinSet(t)
	secretSetter := validCustomRole() // secrets/* minus getSecret (item 38)
	withCustom, err := NewRoleSet(append(BuiltinRoles(), secretSetter)...)
	if err != nil {
		t.Fatal(err)
	}
	alice := Principal{ObjectID: aliceID, GroupIDs: []string{groupID}}
	bob := Principal{ObjectID: bobID}
	tests := []struct {
		name        string
		assignments []Assignment
		roles       RoleLookup
		req         *Request
		want        bool
		wantReason  DecisionReason
		wantIndex   int // index of the granting assignment when allowed
	}{
		{"item 35: Secrets User at s1 reads s1",
			[]Assignment{assign(t, 0, s1Scope, KeyVaultSecretsUserRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), true, AllowedByRoleAssignment, 0},
		{"item 35: Secrets User at s1 does not read s2",
			[]Assignment{assign(t, 0, s1Scope, KeyVaultSecretsUserRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s2Scope), false, DeniedWithNoValidRBAC, -1},
		{"item 35: Secrets User at s1 cannot list the vault",
			[]Assignment{assign(t, 0, s1Scope, KeyVaultSecretsUserRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretReadMetadata, testVault), false, DeniedWithNoValidRBAC, -1},
		{"item 35: Secrets User at the group inherits to every vault in it",
			[]Assignment{assign(t, 0, rg1Scope, KeyVaultSecretsUserRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, kv2Scope+"/secrets/x"), true, AllowedByRoleAssignment, 0},
		{"item 35: Secrets User at the group gives nothing in a sibling group",
			[]Assignment{assign(t, 0, rg1Scope, KeyVaultSecretsUserRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, kv3Scope+"/secrets/x"), false, DeniedWithNoValidRBAC, -1},
		{"item 36: Owner at subscription cannot get secrets",
			[]Assignment{assign(t, 0, subScope, OwnerRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"item 36: Contributor at subscription cannot get secrets",
			[]Assignment{assign(t, 0, subScope, ContributorRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"item 36: Reader at subscription cannot get secrets",
			[]Assignment{assign(t, 0, subScope, ReaderRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"item 37: Key Vault Reader lists metadata",
			[]Assignment{assign(t, 0, testVault, KeyVaultReaderRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretReadMetadata, testVault), true, AllowedByRoleAssignment, 0},
		{"item 37: Key Vault Reader cannot get a value",
			[]Assignment{assign(t, 0, testVault, KeyVaultReaderRoleID, aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"item 38: custom secrets/* minus getSecret can set",
			[]Assignment{assign(t, 0, testVault, secretSetter.ID, aliceID)}, withCustom,
			dataReq(t, alice, DataActionSecretSet, s1Scope), true, AllowedByRoleAssignment, 0},
		{"item 38: custom secrets/* minus getSecret cannot get",
			[]Assignment{assign(t, 0, testVault, secretSetter.ID, aliceID)}, withCustom,
			dataReq(t, alice, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"NotDataActions subtract, they do not deny: a second role still grants",
			[]Assignment{assign(t, 0, testVault, secretSetter.ID, aliceID), assign(t, 1, testVault, KeyVaultSecretsUserRoleID, aliceID)}, withCustom,
			dataReq(t, alice, DataActionSecretGet, s1Scope), true, AllowedByRoleAssignment, 1},
		{"NotActions subtract, they do not deny: User Access Administrator grants what Contributor excludes",
			[]Assignment{assign(t, 0, subScope, ContributorRoleID, aliceID), assign(t, 1, subScope, UserAccessAdministratorRoleID, aliceID)}, roles,
			&Request{Principal: alice, Action: raWrite, Scope: mustScope(t, testVault+raIDSufix+"x")}, true, AllowedByRoleAssignment, 1},
		{"a group's assignment applies to its members",
			[]Assignment{assign(t, 0, testVault, KeyVaultSecretsUserRoleID, groupID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), true, AllowedByRoleAssignment, 0},
		{"another principal's assignment does not apply",
			[]Assignment{assign(t, 0, testVault, KeyVaultSecretsUserRoleID, aliceID)}, roles,
			dataReq(t, bob, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"ids compare case-insensitively",
			[]Assignment{assign(t, 0, strings.ToUpper(testVault[:40])+testVault[40:], KeyVaultSecretsUserRoleID, strings.ToUpper(aliceID))}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), true, AllowedByRoleAssignment, 0},
		{"an unknown role grants nothing",
			[]Assignment{assign(t, 0, testVault, "99999999-0000-4000-8000-000000000000", aliceID)}, roles,
			dataReq(t, alice, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"no role lookup grants nothing",
			[]Assignment{assign(t, 0, testVault, KeyVaultSecretsUserRoleID, aliceID)}, nil,
			dataReq(t, alice, DataActionSecretGet, s1Scope), false, DeniedWithNoValidRBAC, -1},
		{"the first granting assignment is reported",
			[]Assignment{assign(t, 0, rg2Scope, KeyVaultAdministratorRoleID, aliceID), assign(t, 1, subScope, ReaderRoleID, aliceID), assign(t, 2, rg1Scope, KeyVaultSecretsOfficerRoleID, groupID)}, roles,
			dataReq(t, alice, DataActionSecretDelete, s1Scope), true, AllowedByRoleAssignment, 2},
		{"control action: Reader at subscription reads the vault",
			[]Assignment{assign(t, 0, subScope, ReaderRoleID, aliceID)}, roles,
			&Request{Principal: alice, Action: "Microsoft.KeyVault/vaults/read", Scope: mustScope(t, testVault)}, true, AllowedByRoleAssignment, 0},
		{"control action: Secrets Officer cannot write the vault",
			[]Assignment{assign(t, 0, testVault, KeyVaultSecretsOfficerRoleID, aliceID)}, roles,
			&Request{Principal: alice, Action: "Microsoft.KeyVault/vaults/write", Scope: mustScope(t, testVault)}, false, DeniedWithNoValidRBAC, -1},
		{"item 34: Contributor may edit a vault's access policies",
			[]Assignment{assign(t, 0, rg1Scope, ContributorRoleID, aliceID)}, roles,
			&Request{Principal: alice, Action: "Microsoft.KeyVault/vaults/accessPolicies/write", Scope: mustScope(t, testVault)}, true, AllowedByRoleAssignment, 0},
		{"item 34: Key Vault Contributor may edit a vault's access policies",
			[]Assignment{assign(t, 0, testVault, KeyVaultContributorRoleID, aliceID)}, roles,
			&Request{Principal: alice, Action: "Microsoft.KeyVault/vaults/accessPolicies/write", Scope: mustScope(t, testVault)}, true, AllowedByRoleAssignment, 0},
		{"item 34: Reader may not edit access policies",
			[]Assignment{assign(t, 0, rg1Scope, ReaderRoleID, aliceID)}, roles,
			&Request{Principal: alice, Action: "Microsoft.KeyVault/vaults/accessPolicies/write", Scope: mustScope(t, testVault)}, false, DeniedWithNoValidRBAC, -1},
		{"item 34: Secrets Officer may not edit access policies",
			[]Assignment{assign(t, 0, testVault, KeyVaultSecretsOfficerRoleID, aliceID)}, roles,
			&Request{Principal: alice, Action: "Microsoft.KeyVault/vaults/accessPolicies/write", Scope: mustScope(t, testVault)}, false, DeniedWithNoValidRBAC, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &RBAC{Assignments: tt.assignments, Roles: tt.roles}
			d := r.Check(tt.req)
			if d.Allowed != tt.want || d.Reason != tt.wantReason {
				t.Fatalf("Check = allowed %v (%s), want %v (%s)", d.Allowed, d.Reason, tt.want, tt.wantReason)
			}
			if tt.want && d.Assignment != &tt.assignments[tt.wantIndex] {
				t.Errorf("granting assignment = %v, want index %d", d.Assignment, tt.wantIndex)
			}
			if !tt.want && d.Assignment != nil {
				t.Errorf("denied decision names assignment %v", d.Assignment)
			}
		})
	}
}

// TestRoleAssignmentWrites covers identity.md §5 item 39: writing role assignments needs
// Microsoft.Authorization/roleAssignments/write, and ABAC conditions constrain which roles a
// delegate may hand out.
func TestRoleAssignmentWrites(t *testing.T) {
	roles := builtinSet(t)
	alice := Principal{ObjectID: aliceID}
	target := testVault + raIDSufix + "7c0ffee0-0000-4000-8000-000000000000"
	delegated := assign(t, 0, rg1Scope, RoleBasedAccessControlAdministratorRoleID, aliceID)
	delegated.Condition, delegated.ConditionVersion = constrainRolesAndTypes, "2.0"
	if err := delegated.Compile(); err != nil {
		t.Fatal(err)
	}
	uncompiled := delegated
	uncompiled.cond = nil
	tests := []struct {
		name          string
		assignment    Assignment
		action        string
		roleID        string
		principalType PrincipalType
		want          bool
		condNotMet    bool
	}{
		{"item 39: Contributor lacks roleAssignments/write", assign(t, 0, subScope, ContributorRoleID, aliceID), raWrite, KeyVaultSecretsUserRoleID, PrincipalUser, false, false},
		{"item 39: Reader lacks roleAssignments/write", assign(t, 0, subScope, ReaderRoleID, aliceID), raWrite, KeyVaultSecretsUserRoleID, PrincipalUser, false, false},
		{"Owner may assign anything", assign(t, 0, subScope, OwnerRoleID, aliceID), raWrite, OwnerRoleID, PrincipalUser, true, false},
		{"item 39: Data Access Administrator may assign Secrets User", assign(t, 0, testVault, KeyVaultDataAccessAdministratorRoleID, aliceID), raWrite, KeyVaultSecretsUserRoleID, PrincipalServicePrincipal, true, false},
		{"item 39: Data Access Administrator may not assign Owner", assign(t, 0, testVault, KeyVaultDataAccessAdministratorRoleID, aliceID), raWrite, OwnerRoleID, PrincipalUser, false, true},
		{"item 39: Data Access Administrator may not assign Key Vault Contributor", assign(t, 0, testVault, KeyVaultDataAccessAdministratorRoleID, aliceID), raWrite, KeyVaultContributorRoleID, PrincipalUser, false, true},
		{"item 39: Data Access Administrator may not delete an Owner assignment", assign(t, 0, testVault, KeyVaultDataAccessAdministratorRoleID, aliceID), raDelete, OwnerRoleID, PrincipalUser, false, true},
		{"item 39: Data Access Administrator may delete a Secrets Officer assignment", assign(t, 0, testVault, KeyVaultDataAccessAdministratorRoleID, aliceID), raDelete, KeyVaultSecretsOfficerRoleID, PrincipalUser, true, false},
		{"delegated RBAC Administrator may assign Key Vault Reader to a service principal", delegated, raWrite, KeyVaultReaderRoleID, PrincipalServicePrincipal, true, false},
		{"delegated RBAC Administrator may not assign Owner", delegated, raWrite, OwnerRoleID, PrincipalServicePrincipal, false, true},
		{"delegated RBAC Administrator may not assign to a group", delegated, raWrite, KeyVaultReaderRoleID, PrincipalGroup, false, true},
		{"uncompiled condition is still enforced", uncompiled, raWrite, OwnerRoleID, PrincipalServicePrincipal, false, true},
		{"delegated RBAC Administrator still reads", delegated, "Microsoft.KeyVault/vaults/read", "", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Principal: alice, Action: tt.action, Scope: mustScope(t, target)}
			if tt.roleID != "" {
				a := attrs(tt.roleID, tt.principalType)
				if tt.action == raDelete {
					req.ResourceAttributes = a
				} else {
					req.RequestAttributes = a
				}
			}
			r := &RBAC{Assignments: []Assignment{tt.assignment}, Roles: roles}
			d := r.Check(req)
			if d.Allowed != tt.want || d.ConditionNotMet != tt.condNotMet {
				t.Errorf("Check = allowed %v, conditionNotMet %v; want %v, %v", d.Allowed, d.ConditionNotMet, tt.want, tt.condNotMet)
			}
		})
	}
}

func TestDenyAssignments(t *testing.T) {
	roles := builtinSet(t)
	alice := Principal{ObjectID: aliceID, GroupIDs: []string{groupID}}
	grant := []Assignment{assign(t, 0, subScope, KeyVaultAdministratorRoleID, aliceID)}
	denyGet := func(scope string, principals []DenyPrincipal, exclude []DenyPrincipal, noChildren bool) DenyAssignment {
		return DenyAssignment{
			ID: scope + "/providers/Microsoft.Authorization/denyAssignments/d1", Name: "no secret reads",
			Scope:                   mustScope(t, scope),
			Permissions:             []Permission{{DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}, NotDataActions: []string{DataActionSecretReadMetadata}}},
			Principals:              principals,
			ExcludePrincipals:       exclude,
			DoNotApplyToChildScopes: noChildren,
		}
	}
	everyone := []DenyPrincipal{{ID: EveryonePrincipalID, Type: "SystemDefined"}}
	tests := []struct {
		name   string
		deny   DenyAssignment
		action string
		scope  string
		want   bool
	}{
		{"deny for everyone overrides the grant", denyGet(rg1Scope, everyone, nil, false), DataActionSecretGet, s1Scope, false},
		{"deny's NotDataActions leave metadata readable", denyGet(rg1Scope, everyone, nil, false), DataActionSecretReadMetadata, testVault, true},
		{"deny for the principal's group", denyGet(rg1Scope, []DenyPrincipal{{ID: groupID, Type: "Group"}}, nil, false), DataActionSecretGet, s1Scope, false},
		{"deny for someone else", denyGet(rg1Scope, []DenyPrincipal{{ID: bobID, Type: "User"}}, nil, false), DataActionSecretGet, s1Scope, true},
		{"excluded principal", denyGet(rg1Scope, everyone, []DenyPrincipal{{ID: aliceID, Type: "User"}}, false), DataActionSecretGet, s1Scope, true},
		{"deny elsewhere", denyGet(rg2Scope, everyone, nil, false), DataActionSecretGet, s1Scope, true},
		{"deny not applied to children", denyGet(testVault, everyone, nil, true), DataActionSecretGet, s1Scope, true},
		{"deny not applied to children still applies at its scope", denyGet(testVault, everyone, nil, true), DataActionSecretSet, testVault, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.deny.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			r := &RBAC{Assignments: grant, DenyAssignments: []DenyAssignment{tt.deny}, Roles: roles}
			d := r.Check(dataReq(t, alice, tt.action, tt.scope))
			if d.Allowed != tt.want {
				t.Fatalf("Check = %+v, want allowed %v", d, tt.want)
			}
			if !tt.want && (d.Reason != DeniedWithDenyAssignment || d.DenyAssignment != &r.DenyAssignments[0] || d.Assignment != &r.Assignments[0]) {
				t.Errorf("denied decision = %+v", d)
			}
		})
	}
	// A deny assignment only overrides a grant: without one the reason stays DeniedWithNoValidRBAC.
	r := &RBAC{DenyAssignments: []DenyAssignment{denyGet(rg1Scope, everyone, nil, false)}, Roles: roles}
	if d := r.Check(dataReq(t, alice, DataActionSecretGet, s1Scope)); d.Reason != DeniedWithNoValidRBAC {
		t.Errorf("without a grant, reason = %s", d.Reason)
	}
}

func TestAssignmentCompile(t *testing.T) {
	base := func() Assignment {
		return Assignment{ID: "a", Scope: mustScope(t, testVault), RoleDefinitionID: KeyVaultSecretsUserRoleID, PrincipalID: aliceID, PrincipalType: PrincipalServicePrincipal}
	}
	tests := []struct {
		name    string
		edit    func(a *Assignment)
		wantErr error
		text    string
	}{
		{"valid", func(a *Assignment) {}, nil, ""},
		{"valid with full role id and condition", func(a *Assignment) {
			a.RoleDefinitionID = RoleDefinitionResourceID(mustScope(t, subScope), a.RoleDefinitionID)
			a.Condition, a.ConditionVersion = constrainRolesAndTypes, "2.0"
		}, nil, ""},
		{"no scope", func(a *Assignment) { a.Scope = Scope{} }, ErrInvalidAssignment, "no scope"},
		{"bad role id", func(a *Assignment) { a.RoleDefinitionID = "Reader" }, ErrInvalidAssignment, "roleDefinitionId"},
		{"bad principal id", func(a *Assignment) { a.PrincipalID = "alice" }, ErrInvalidAssignment, "principalId"},
		{"bad principal type", func(a *Assignment) { a.PrincipalType = "Robot" }, ErrInvalidAssignment, "principalType"},
		{"version without condition", func(a *Assignment) { a.ConditionVersion = "2.0" }, ErrInvalidAssignment, "without a condition"},
		{"unsupported condition", func(a *Assignment) {
			a.Condition = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'x'"
		}, ErrUnsupportedCondition, "Microsoft.Storage"},
		{"malformed condition", func(a *Assignment) { a.Condition = "((" }, ErrInvalidCondition, "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base()
			tt.edit(&a)
			err := a.Compile()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Compile = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Compile = %v, want %v containing %q", err, tt.wantErr, tt.text)
			}
		})
	}
}

func TestDenyAssignmentValidate(t *testing.T) {
	valid := DenyAssignment{ID: "d", Scope: mustScope(t, testVault), Principals: []DenyPrincipal{{ID: EveryonePrincipalID}},
		Permissions: []Permission{{Actions: []string{"*"}}}}
	if err := valid.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	tests := []struct {
		name string
		edit func(d *DenyAssignment)
		text string
	}{
		{"no scope", func(d *DenyAssignment) { d.Scope = Scope{} }, "no scope"},
		{"no principals", func(d *DenyAssignment) { d.Principals = nil }, "no principals"},
		{"bad principal", func(d *DenyAssignment) { d.ExcludePrincipals = []DenyPrincipal{{ID: "x"}} }, "not a GUID"},
		{"no permissions", func(d *DenyAssignment) { d.Permissions = nil }, "at least one permission"},
		{"condition", func(d *DenyAssignment) { d.Permissions = []Permission{{Actions: []string{"*"}, Condition: "x"}} }, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid
			tt.edit(&d)
			if err := d.Validate(); !errors.Is(err, ErrInvalidAssignment) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Validate = %v, want ErrInvalidAssignment containing %q", err, tt.text)
			}
		})
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	r := &RBAC{Assignments: typicalAssignments(t), Roles: builtinSet(t)}
	req := dataReq(t, Principal{ObjectID: appSPID, GroupIDs: []string{groupID}}, DataActionSecretGet, s1Scope)
	allocs := testing.AllocsPerRun(100, func() {
		if !r.Check(req).Allowed {
			t.Fatal("typical check denied")
		}
	})
	if allocs != 0 {
		t.Errorf("Check allocated %v times per run", allocs)
	}
}

// typicalAssignments is a data-plane caller's view: five assignments, one of which (at
// resource-group scope) grants secret reads to the caller.
func typicalAssignments(t testing.TB) []Assignment {
	return []Assignment{
		assign(t, 0, subScope, ReaderRoleID, bobID),
		assign(t, 1, subScope, ReaderRoleID, appSPID),
		assign(t, 2, rg2Scope, KeyVaultSecretsOfficerRoleID, appSPID),
		assign(t, 3, testVault, KeyVaultAdministratorRoleID, aliceID),
		assign(t, 4, rg1Scope, KeyVaultSecretsUserRoleID, appSPID),
	}
}

func TestRoleResolution(t *testing.T) {
	alice := Principal{ObjectID: aliceID}
	req := dataReq(t, alice, DataActionSecretGet, s1Scope)
	upper := assign(t, 0, testVault, strings.ToUpper(KeyVaultSecretsUserRoleID), aliceID)
	changed := assign(t, 1, testVault, KeyVaultSecretsUserRoleID, aliceID)
	changed.RoleDefinitionID = ReaderRoleID // edited after Compile: the new role counts
	tests := []struct {
		name string
		a    Assignment
		want bool
	}{
		{"upper-case role GUID", upper, true},
		{"uncompiled assignment", Assignment{Scope: mustScope(t, testVault), RoleDefinitionID: KeyVaultSecretsUserRoleID, PrincipalID: aliceID}, true},
		{"uncompiled full role id", Assignment{Scope: mustScope(t, testVault), PrincipalID: aliceID,
			RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/" + strings.ToUpper(KeyVaultSecretsUserRoleID)}, true},
		{"role changed after Compile", changed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &RBAC{Assignments: []Assignment{tt.a}, Roles: builtinSet(t)}
			if got := r.Check(req).Allowed; got != tt.want {
				t.Errorf("Check = %v, want %v", got, tt.want)
			}
		})
	}
}
