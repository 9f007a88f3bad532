package authz

import "testing"

// BenchmarkRBACCheck is the typical data-plane RBAC check: a service principal in one group
// with five assignments loaded, one of which (Key Vault Secrets User at resource-group scope)
// grants getSecret on the secret.
func BenchmarkRBACCheck(b *testing.B) {
	r := &RBAC{Assignments: typicalAssignments(b), Roles: builtinSet(b)}
	req := dataReq(b, Principal{ObjectID: appSPID, GroupIDs: []string{groupID}}, DataActionSecretGet, s1Scope)
	b.ReportAllocs()
	for b.Loop() {
		if !r.Check(req).Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuthorizeSecretRBAC is BenchmarkRBACCheck as the Key Vault handler calls it,
// including building the secret's scope.
func BenchmarkAuthorizeSecretRBAC(b *testing.B) {
	r := &RBAC{Assignments: typicalAssignments(b), Roles: builtinSet(b)}
	v := testVaultAccess(b, true)
	c := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, AppOnly: true, GroupIDs: []string{groupID}}
	b.ReportAllocs()
	for b.Loop() {
		if !AuthorizeSecret(v, c, SecretGet, "s1", r).Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAccessPolicyCheck is the typical access-policy check: four entries, the last of
// which grants the calling service principal get and list.
func BenchmarkAccessPolicyCheck(b *testing.B) {
	entries := typicalPolicies()
	c := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, AppOnly: true, GroupIDs: []string{groupID}}
	b.ReportAllocs()
	for b.Loop() {
		if !EvaluateAccessPolicies(entries, c, secretsGet).Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuthorizeSecretPolicy is BenchmarkAccessPolicyCheck as the Key Vault handler calls
// it.
func BenchmarkAuthorizeSecretPolicy(b *testing.B) {
	v := testVaultAccess(b, false)
	v.AccessPolicies = typicalPolicies()
	c := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, AppOnly: true, GroupIDs: []string{groupID}}
	b.ReportAllocs()
	for b.Loop() {
		if !AuthorizeSecret(v, c, SecretGet, "s1", nil).Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkMatchAction(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		MatchAction("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action")
	}
}

func BenchmarkParseScope(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseScope(s1Scope); err != nil {
			b.Fatal(err)
		}
	}
}
