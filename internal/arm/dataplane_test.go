package arm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/authz"
)

const getSecret = "Microsoft.KeyVault/vaults/secrets/getSecret/action"

func TestDataPlaneViewFollowsWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("rg")
	v := e.vault("rg", "kv-data")
	user := e.principal(arm.PrincipalServicePrincipal)
	info, _ := e.svc.LookupVault("kv-data")
	secret, err := info.Scope.Child("secrets", "db-password")
	if err != nil {
		t.Fatal(err)
	}
	p := authz.Principal{ObjectID: user.ObjectID}
	if d := e.svc.CheckAccess(p, secret, getSecret, true); d.Allowed {
		t.Fatal("allowed before any role assignment")
	}
	ra := e.grant(user, authz.KeyVaultSecretsUserRoleID, v.ID())
	if d := e.svc.CheckAccess(p, secret, getSecret, true); !d.Allowed || d.Assignment == nil || d.Assignment.PrincipalID != user.ObjectID {
		t.Fatalf("after Key Vault Secrets User at the vault: %+v", d)
	}
	if got := e.svc.RoleAssignmentsFor(p, secret); len(got) != 1 {
		t.Fatalf("RoleAssignmentsFor = %+v, want the one assignment", got)
	}
	if d := e.svc.CheckAccess(p, secret, "Microsoft.KeyVault/vaults/secrets/setSecret/action", true); d.Allowed {
		t.Error("Key Vault Secrets User may set secrets")
	}
	if _, _, err := e.svc.DeleteRoleAssignment(ctx, e.admin, ra.Scope, ra.Name); err != nil {
		t.Fatal(err)
	}
	if d := e.svc.CheckAccess(p, secret, getSecret, true); d.Allowed {
		t.Fatal("still allowed after the assignment was deleted")
	}
	// Owner at the root grants no data actions.
	if d := e.svc.CheckAccess(authz.Principal{ObjectID: e.admin.ObjectID}, secret, getSecret, true); d.Allowed {
		t.Error("Owner at / is granted a data action")
	}
	rbac := true
	if _, err := e.svc.PatchVault(ctx, e.admin, e.sub, "rg", "kv-data", arm.VaultParams{EnableRbacAuthorization: &rbac}); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.svc.LookupVault("kv-data"); !info.EnableRbacAuthorization {
		t.Error("the data plane did not see enableRbacAuthorization")
	}
}

func TestReloadSeesStoredState(t *testing.T) {
	e := newEnv(t)
	e.group("rg")
	e.vault("rg", "kv-reload")
	other, err := arm.New(context.Background(), e.store, e.dir, arm.Config{VaultSuffix: "vault.localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.LookupVault("kv-reload"); !ok {
		t.Fatal("a second service over the same storage does not load the vault")
	}
	e.vault("rg", "kv-later")
	if _, ok := other.LookupVault("kv-later"); ok {
		t.Fatal("the second service saw a write before reloading (test assumption broken)")
	}
	if err := other.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.LookupVault("kv-later"); !ok {
		t.Error("Reload did not pick up the other service's write")
	}
}

// benchEnv is a management plane holding vaults vaults and assignments role assignments,
// one of which lets the principal read secrets of the benchmarked vault.
func benchEnv(b *testing.B, vaults, assignments int) (*env, authz.Principal, string) {
	e := newEnv(b)
	e.group("rg")
	for i := 0; i < vaults; i++ {
		e.vault("rg", fmt.Sprintf("kv-%04d", i))
	}
	target := fmt.Sprintf("kv-%04d", vaults/2)
	user := e.principal(arm.PrincipalServicePrincipal)
	info, _ := e.svc.LookupVault(target)
	for i := 0; i < assignments-1; i++ {
		other := e.principal(arm.PrincipalServicePrincipal)
		e.grant(other, authz.KeyVaultReaderRoleID, info.ID)
	}
	e.grant(user, authz.KeyVaultSecretsUserRoleID, e.groupScope("rg"))
	return e, authz.Principal{ObjectID: user.ObjectID}, target
}

// BenchmarkLookupAndCheck is the data plane's per-request path: find the vault by the host
// name's label, then decide getSecret on one of its secrets.
func BenchmarkLookupAndCheck(b *testing.B) {
	e, p, name := benchEnv(b, 200, 200)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		info, ok := e.svc.LookupVault(name)
		if !ok {
			b.Fatal("vault not found")
		}
		if d := e.svc.CheckAccess(p, info.Scope, getSecret, true); !d.Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkLookupAndCheckSecretScope adds building the secret's scope, as the data plane
// does for a per-secret decision.
func BenchmarkLookupAndCheckSecretScope(b *testing.B) {
	e, p, name := benchEnv(b, 200, 200)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		info, _ := e.svc.LookupVault(name)
		sc, err := info.Scope.Child("secrets", "db-password")
		if err != nil {
			b.Fatal(err)
		}
		if d := e.svc.CheckAccess(p, sc, getSecret, true); !d.Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkLookupAndCheckParallel(b *testing.B) {
	e, p, name := benchEnv(b, 200, 200)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			info, _ := e.svc.LookupVault(name)
			if d := e.svc.CheckAccess(p, info.Scope, getSecret, true); !d.Allowed {
				b.Error("denied")
				return
			}
		}
	})
}
