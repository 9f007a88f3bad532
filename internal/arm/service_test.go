package arm_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/arm/armtest"
	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

// env is a management plane over a fresh SQLite database, bootstrapped with an
// administrator.
type env struct {
	t      testing.TB
	svc    *arm.Service
	store  storage.Backend
	dir    *armtest.Directory
	clock  *clock
	tenant string
	sub    string
	admin  arm.Caller
	purged *purgeLog
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type purgeLog struct {
	mu   sync.Mutex
	keys []string
}

func (p *purgeLog) PurgeVaultData(_ context.Context, key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, key)
	return nil
}

func newEnv(t testing.TB, configure ...func(*arm.Config)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "arm.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, store: db, dir: armtest.NewDirectory(), clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, tenant: uuid.NewString(), purged: &purgeLog{}}
	cfg := arm.Config{VaultSuffix: "vault.localhost", VaultPort: 8443, Now: e.clock.Now, VaultData: e.purged}
	for _, f := range configure {
		f(&cfg)
	}
	e.svc, err = arm.New(ctx, db, e.dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.admin = e.principal(arm.PrincipalServicePrincipal)
	sub, err := e.svc.Bootstrap(ctx, e.tenant, e.admin.ObjectID, arm.PrincipalServicePrincipal)
	if err != nil {
		t.Fatal(err)
	}
	e.sub = sub.ID
	return e
}

// principal registers a new principal in the tenant and returns it as a caller.
func (e *env) principal(typ arm.PrincipalType) arm.Caller {
	id := e.dir.AddPrincipal(e.tenant, typ)
	return arm.Caller{TenantID: e.tenant, ObjectID: id, AppID: uuid.NewString(), Type: typ}
}

// grant assigns role (a GUID) to c at scope, as the administrator.
func (e *env) grant(c arm.Caller, role, scope string) arm.RoleAssignment {
	e.t.Helper()
	ra, _, err := e.svc.PutRoleAssignment(context.Background(), e.admin, scope, uuid.NewString(), arm.RoleAssignmentParams{RoleDefinitionID: role, PrincipalID: c.ObjectID})
	if err != nil {
		e.t.Fatalf("grant %s at %s: %v", role, scope, err)
	}
	return ra
}

func (e *env) group(name string) {
	e.t.Helper()
	if _, _, err := e.svc.PutGroup(context.Background(), e.admin, e.sub, name, arm.GroupParams{Location: "westeurope"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) vaultParams() arm.VaultParams {
	return arm.VaultParams{Location: "westeurope", TenantID: e.tenant, SKU: &arm.SKU{Family: "A", Name: "standard"}}
}

func (e *env) vault(group, name string, mod ...func(*arm.VaultParams)) arm.Vault {
	e.t.Helper()
	p := e.vaultParams()
	for _, m := range mod {
		m(&p)
	}
	v, _, err := e.svc.PutVault(context.Background(), e.admin, e.sub, group, name, p)
	if err != nil {
		e.t.Fatalf("create vault %s: %v", name, err)
	}
	return v
}

func (e *env) groupScope(name string) string {
	return "/subscriptions/" + e.sub + "/resourceGroups/" + name
}

// wantCode checks that err is a fault with the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", code)
	}
	fe, ok := fault.As(err)
	if !ok || fe.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func TestBootstrapIsIdempotentAndGivesTheAdministratorOwnerAtRoot(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	again, err := e.svc.Bootstrap(ctx, e.tenant, e.admin.ObjectID, arm.PrincipalServicePrincipal)
	if err != nil || again.ID != e.sub {
		t.Fatalf("second bootstrap = %v, %v; want subscription %s", again.ID, err, e.sub)
	}
	subs, err := e.svc.ListSubscriptions(ctx, e.admin)
	if err != nil || len(subs) != 1 || subs[0].ID != e.sub || subs[0].DisplayName != arm.DefaultSubscriptionName {
		t.Fatalf("admin subscriptions = %+v, %v", subs, err)
	}
	ras, err := e.svc.ListRoleAssignments(ctx, e.admin, "/", arm.AssignmentFilter{AtScope: true})
	if err != nil || len(ras) != 1 || ras[0].RoleDefinitionID != authz.OwnerRoleID || ras[0].Scope != "/" {
		t.Fatalf("root assignments = %+v, %v; want one Owner at /", ras, err)
	}
	stranger := e.principal(arm.PrincipalUser)
	if subs, _ := e.svc.ListSubscriptions(ctx, stranger); len(subs) != 0 {
		t.Errorf("a principal without role assignments sees %d subscriptions", len(subs))
	}
	_, err = e.svc.GetSubscription(ctx, stranger, e.sub)
	wantCode(t, err, "SubscriptionNotFound")
}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g, created, err := e.svc.PutGroup(ctx, e.admin, e.sub, "RG-One", arm.GroupParams{Location: "West Europe", Tags: map[string]string{"env": "test"}})
	if err != nil || !created || g.Location != "westeurope" || g.ProvisioningState != "Succeeded" {
		t.Fatalf("create = %+v, %v, %v", g, created, err)
	}
	if _, created, err = e.svc.PutGroup(ctx, e.admin, e.sub, "rg-one", arm.GroupParams{Location: "westeurope"}); err != nil || created {
		t.Fatalf("update (other case) created=%v err=%v, want an update", created, err)
	}
	got, err := e.svc.GetGroup(ctx, e.admin, e.sub, "RG-ONE")
	if err != nil || got.Name != "RG-One" || len(got.Tags) != 0 {
		t.Fatalf("get = %+v, %v; want the original name and tags replaced by the PUT", got, err)
	}
	for name, tc := range map[string]struct {
		group, loc, code string
	}{
		"other location": {"rg-one", "eastus", "InvalidResourceGroupLocation"},
		"bad name":       {"bad name!", "eastus", "InvalidResourceGroup"},
		"trailing dot":   {"rg.", "eastus", "InvalidResourceGroup"},
		"no location":    {"rg-two", "", "LocationRequired"},
		"unknown region": {"rg-two", "atlantis", "LocationNotAvailableForResourceType"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.svc.PutGroup(ctx, e.admin, e.sub, tc.group, arm.GroupParams{Location: tc.loc})
			wantCode(t, err, tc.code)
		})
	}
	_, err = e.svc.GetGroup(ctx, e.admin, e.sub, "missing")
	wantCode(t, err, "ResourceGroupNotFound")
	_, err = e.svc.GetGroup(ctx, e.admin, uuid.NewString(), "rg")
	wantCode(t, err, "SubscriptionNotFound")
	_, err = e.svc.GetGroup(ctx, e.admin, "not-a-guid", "rg")
	wantCode(t, err, "InvalidSubscriptionId")
}

func TestVaultNameRules(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "a-b-c": true, "Vault1": true, "abcdefghijklmnopqrstuvwx": true,
		"ab": false, "abcdefghijklmnopqrstuvwxy": false, "1abc": false, "-abc": false, "abc-": false,
		"a--b": false, "a_b": false, "a.b": false, "äbc": false, "": false,
	} {
		if err := arm.CheckVaultName(name); (err == nil) != ok {
			t.Errorf("CheckVaultName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestVaultLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("rg1")
	e.group("rg2")
	v := e.vault("rg1", "Kv-One")
	if v.Properties.VaultURI != "https://kv-one.vault.localhost:8443/" || v.Properties.SoftDeleteRetentionInDays != 90 || v.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("vault = %+v", v.Properties)
	}
	info, ok := e.svc.LookupVault("KV-ONE")
	if !ok || info.ID != v.ID() || info.TenantID != e.tenant || info.Key == "" {
		t.Fatalf("LookupVault = %+v, %v", info, ok)
	}

	_, _, err := e.svc.PutVault(ctx, e.admin, e.sub, "rg2", "kv-one", e.vaultParams())
	wantCode(t, err, "VaultAlreadyExists")

	ret := 7
	_, _, err = e.svc.PutVault(ctx, e.admin, e.sub, "rg1", "kv-one", arm.VaultParams{Location: "westeurope", SoftDeleteRetentionInDays: &ret})
	wantCode(t, err, "BadRequest")
	off := false
	_, _, err = e.svc.PutVault(ctx, e.admin, e.sub, "rg1", "kv-one", arm.VaultParams{Location: "westeurope", EnablePurgeProtection: &off})
	wantCode(t, err, "BadRequest")

	existed, err := e.svc.DeleteVault(ctx, e.admin, e.sub, "rg1", "kv-one")
	if err != nil || !existed {
		t.Fatalf("delete = %v, %v", existed, err)
	}
	if _, ok := e.svc.LookupVault("kv-one"); ok {
		t.Fatal("a deleted vault is still served to the data plane")
	}
	dvs, err := e.svc.ListDeletedVaults(ctx, e.admin, e.sub)
	if err != nil || len(dvs) != 1 || dvs[0].Vault.Name != "Kv-One" || !dvs[0].ScheduledPurgeDate.Equal(e.clock.Now().Add(90*24*time.Hour)) {
		t.Fatalf("deleted vaults = %+v, %v", dvs, err)
	}
	_, _, err = e.svc.PutVault(ctx, e.admin, e.sub, "rg2", "kv-one", e.vaultParams())
	wantCode(t, err, "ConflictError")
	a, err := e.svc.CheckVaultNameAvailability(ctx, e.admin, e.sub, "kv-one")
	if err != nil || a.NameAvailable || a.Reason != "AlreadyExists" {
		t.Fatalf("name availability of a soft-deleted name = %+v, %v", a, err)
	}

	rec, created, err := e.svc.PutVault(ctx, e.admin, e.sub, "rg1", "kv-one", arm.VaultParams{Location: "westeurope", CreateMode: "recover"})
	if err != nil || !created || rec.Key != v.Key || rec.Name != "Kv-One" {
		t.Fatalf("recover = %+v, %v, %v; want the same vault back", rec, created, err)
	}
	if _, err := e.svc.DeleteVault(ctx, e.admin, e.sub, "rg1", "kv-one"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PurgeDeletedVault(ctx, e.admin, e.sub, "westeurope", "kv-one"); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if len(e.purged.keys) != 1 || e.purged.keys[0] != v.Key {
		t.Fatalf("purged data keys = %v, want [%s]", e.purged.keys, v.Key)
	}
	again := e.vault("rg2", "kv-one")
	if again.Key == v.Key {
		t.Error("a purged name reused got the old vault's key")
	}
	if existed, err := e.svc.DeleteVault(ctx, e.admin, e.sub, "rg1", "never"); err != nil || existed {
		t.Errorf("deleting a missing vault = %v, %v; want not existed", existed, err)
	}
}

func TestPurgeProtection(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("rg")
	on, days := true, 7
	e.vault("rg", "protected", func(p *arm.VaultParams) { p.EnablePurgeProtection, p.SoftDeleteRetentionInDays = &on, &days })
	if _, err := e.svc.DeleteVault(ctx, e.admin, e.sub, "rg", "protected"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.PurgeDeletedVault(ctx, e.admin, e.sub, "westeurope", "protected")
	wantCode(t, err, "InvalidOperation")
	e.clock.Advance(7*24*time.Hour - time.Second)
	if n, err := e.svc.PurgeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("PurgeExpired before the end of retention = %d, %v", n, err)
	}
	e.clock.Advance(time.Second)
	if n, err := e.svc.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeExpired at the end of retention = %d, %v", n, err)
	}
	if dvs, _ := e.svc.ListDeletedVaults(ctx, e.admin, e.sub); len(dvs) != 0 {
		t.Errorf("deleted vaults after retention = %d", len(dvs))
	}
	e.vault("rg", "protected") // the name is free again
}

func TestVaultValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("rg")
	bad := func(f func(*arm.VaultParams)) arm.VaultParams { p := e.vaultParams(); f(&p); return p }
	days := func(n int) *int { return &n }
	str := func(s string) *string { return &s }
	f := false
	for name, tc := range map[string]struct {
		vault string
		p     arm.VaultParams
		code  string
	}{
		"invalid name":    {"a--b", e.vaultParams(), "VaultNameNotValid"},
		"retention 6":     {"kv0", bad(func(p *arm.VaultParams) { p.SoftDeleteRetentionInDays = days(6) }), "InvalidParameter"},
		"retention 91":    {"kv1", bad(func(p *arm.VaultParams) { p.SoftDeleteRetentionInDays = days(91) }), "InvalidParameter"},
		"no tenant":       {"kv2", bad(func(p *arm.VaultParams) { p.TenantID = "" }), "BadRequest"},
		"other tenant":    {"kv3", bad(func(p *arm.VaultParams) { p.TenantID = uuid.NewString() }), "InvalidParameter"},
		"no sku":          {"kv4", bad(func(p *arm.VaultParams) { p.SKU = nil }), "BadRequest"},
		"bad sku":         {"kv5", bad(func(p *arm.VaultParams) { p.SKU = &arm.SKU{Name: "gold"} }), "InvalidParameter"},
		"soft delete off": {"kv6", bad(func(p *arm.VaultParams) { p.EnableSoftDelete = &f }), "BadRequest"},
		"private only":    {"kv7", bad(func(p *arm.VaultParams) { p.PublicNetworkAccess = str("Disabled") }), "FeatureNotSupported"},
		"network deny":    {"kv8", bad(func(p *arm.VaultParams) { p.NetworkACLs = &arm.NetworkACLs{DefaultAction: "Deny"} }), "FeatureNotSupported"},
		"bad createMode":  {"kv9", bad(func(p *arm.VaultParams) { p.CreateMode = "restore" }), "InvalidParameter"},
		"unknown group":   {"kv10", e.vaultParams(), "ResourceGroupNotFound"},
		"recover nothing": {"kv11", bad(func(p *arm.VaultParams) { p.CreateMode = "recover" }), "ResourceNotFound"},
		"bad access policy": {"kv12", bad(func(p *arm.VaultParams) {
			p.AccessPolicies, p.AccessPoliciesSet = []authz.AccessPolicyEntry{{TenantID: e.tenant, ObjectID: "x"}}, true
		}), "InvalidParameter"},
		"unknown permission": {"kv13", bad(func(p *arm.VaultParams) {
			p.AccessPolicies, p.AccessPoliciesSet = []authz.AccessPolicyEntry{{TenantID: e.tenant, ObjectID: uuid.NewString(), Permissions: authz.AccessPolicyPermissions{Secrets: []string{"fly"}}}}, true
		}), "InvalidParameter"},
	} {
		t.Run(name, func(t *testing.T) {
			group := "rg"
			if name == "unknown group" {
				group = "nope"
			}
			_, _, err := e.svc.PutVault(ctx, e.admin, e.sub, group, tc.vault, tc.p)
			wantCode(t, err, tc.code)
		})
	}
}

func TestAccessPolicyUpdates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("rg")
	e.vault("rg", "kv0")
	obj := uuid.NewString()
	entry := func(perms ...string) []authz.AccessPolicyEntry {
		return []authz.AccessPolicyEntry{{TenantID: e.tenant, ObjectID: obj, Permissions: authz.AccessPolicyPermissions{Secrets: perms}}}
	}
	step := func(kind string, perms []string, want []string) {
		t.Helper()
		if _, err := e.svc.UpdateAccessPolicies(ctx, e.admin, e.sub, "rg", "kv0", kind, entry(perms...)); err != nil {
			t.Fatalf("%s %v: %v", kind, perms, err)
		}
		info, _ := e.svc.LookupVault("kv0")
		var got []string
		if len(info.AccessPolicies) > 0 {
			got = info.AccessPolicies[0].Permissions.Secrets
		}
		if len(info.AccessPolicies) > 1 || len(got) != len(want) {
			t.Fatalf("after %s %v: policies %+v, want secrets %v", kind, perms, info.AccessPolicies, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("after %s %v: secrets %v, want %v", kind, perms, got, want)
			}
		}
	}
	step("add", []string{"Get"}, []string{"get"})
	step("add", []string{"list", "get"}, []string{"get", "list"})
	step("replace", []string{"set"}, []string{"set"})
	step("remove", nil, nil)
	_, err := e.svc.UpdateAccessPolicies(ctx, e.admin, e.sub, "rg", "kv0", "merge", entry("get"))
	wantCode(t, err, "InvalidParameter")
}

func TestGroupDeleteTakesEverythingWithIt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("doomed")
	e.group("kept")
	e.vault("doomed", "kv-doomed")
	e.vault("kept", "kv-kept")
	id, _, err := e.svc.PutIdentity(ctx, e.admin, e.sub, "doomed", "uami", arm.IdentityParams{Location: "westeurope"})
	if err != nil {
		t.Fatal(err)
	}
	reader := e.principal(arm.PrincipalUser)
	e.grant(reader, authz.ReaderRoleID, e.groupScope("doomed"))
	e.grant(reader, authz.ReaderRoleID, e.groupScope("doomed")+"/providers/Microsoft.KeyVault/vaults/kv-doomed")

	op, err := e.svc.DeleteGroup(ctx, e.admin, e.sub, "doomed")
	if err != nil || op.Status != "Succeeded" {
		t.Fatalf("delete group = %+v, %v", op, err)
	}
	if got, err := e.svc.GetOperation(ctx, e.admin, e.sub, op.ID); err != nil || got.Status != "Succeeded" {
		t.Fatalf("operation = %+v, %v", got, err)
	}
	if _, err := e.svc.GetOperation(ctx, reader, e.sub, op.ID); err == nil {
		t.Error("another principal can poll the administrator's operation")
	}
	_, err = e.svc.GetGroup(ctx, e.admin, e.sub, "doomed")
	wantCode(t, err, "ResourceGroupNotFound")
	dvs, _ := e.svc.ListDeletedVaults(ctx, e.admin, e.sub)
	if len(dvs) != 1 || dvs[0].Vault.Name != "kv-doomed" {
		t.Fatalf("deleted vaults = %+v, want kv-doomed", dvs)
	}
	if e.dir.ManagedIdentityExists(e.tenant, id.ClientID) {
		t.Error("the identity's service principal survived its group")
	}
	if ras := e.svc.RoleAssignmentsFor(authz.Principal{ObjectID: reader.ObjectID}, authz.RootScope()); len(ras) != 0 {
		t.Errorf("role assignments below a deleted group survived: %+v", ras)
	}
	if _, ok := e.svc.LookupVault("kv-kept"); !ok {
		t.Error("a vault of another group was deleted")
	}
	// A group of the same name starts empty.
	e.group("doomed")
	if vs, _ := e.svc.ListVaults(ctx, e.admin, e.sub, "doomed"); len(vs) != 0 {
		t.Errorf("a recreated group has %d vaults", len(vs))
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("rg")
	other := uuid.NewString()
	id := e.dir.AddPrincipal(other, arm.PrincipalServicePrincipal)
	intruder := arm.Caller{TenantID: other, ObjectID: id, Type: arm.PrincipalServicePrincipal}
	// Even an Owner assignment for a principal of another tenant does not let it in.
	if _, _, err := e.svc.PutRoleAssignment(ctx, e.admin, e.groupScope("rg"), uuid.NewString(), arm.RoleAssignmentParams{RoleDefinitionID: authz.OwnerRoleID, PrincipalID: id}); err == nil {
		t.Fatal("assigned a role to a principal of another tenant")
	} else {
		wantCode(t, err, "PrincipalNotFound")
	}
	_, err := e.svc.GetGroup(ctx, intruder, e.sub, "rg")
	wantCode(t, err, "InvalidAuthenticationTokenTenant")
	if subs, _ := e.svc.ListSubscriptions(ctx, intruder); len(subs) != 0 {
		t.Errorf("a principal of another tenant lists %d subscriptions", len(subs))
	}
	if ras, err := e.svc.ListRoleAssignments(ctx, intruder, "/", arm.AssignmentFilter{}); err == nil && len(ras) != 0 {
		t.Errorf("a principal of another tenant sees role assignments: %+v", ras)
	}
}

func TestConcurrentCreatesOfOneVaultNameHaveOneWinner(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 8
	for i := 0; i < n; i++ {
		e.group("rg" + string(rune('a'+i)))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, errs[i] = e.svc.PutVault(ctx, e.admin, e.sub, "rg"+string(rune('a'+i)), "kv-race", e.vaultParams())
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			wantCode(t, err, "VaultAlreadyExists")
		}
	}
	if wins != 1 {
		t.Fatalf("%d creations of one vault name succeeded, want 1", wins)
	}
}

func TestRunPurgesExpiredVaultsUntilCanceled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.group("rg")
	days := 7
	e.vault("rg", "kv-expiring", func(p *arm.VaultParams) { p.SoftDeleteRetentionInDays = &days })
	if _, err := e.svc.DeleteVault(ctx, e.admin, e.sub, "rg", "kv-expiring"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(8 * 24 * time.Hour)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.svc.Run(runCtx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.purged.mu.Lock()
		n := len(e.purged.keys)
		e.purged.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not purge the expired vault")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestRoleAssignmentLimit(t *testing.T) {
	e := newEnv(t, func(c *arm.Config) { c.MaxRoleAssignments = 2 })
	e.group("rg")
	e.grant(e.principal(arm.PrincipalUser), authz.ReaderRoleID, e.groupScope("rg"))
	e.grant(e.principal(arm.PrincipalUser), authz.ReaderRoleID, "/subscriptions/"+e.sub)
	// The administrator's Owner at / counts against the scopes above subscriptions, not
	// against the subscription.
	e.grant(e.principal(arm.PrincipalUser), authz.ReaderRoleID, "/")
	_, _, err := e.svc.PutRoleAssignment(context.Background(), e.admin, e.groupScope("rg"), uuid.NewString(),
		arm.RoleAssignmentParams{RoleDefinitionID: authz.ReaderRoleID, PrincipalID: e.principal(arm.PrincipalUser).ObjectID})
	wantCode(t, err, "RoleAssignmentLimitExceeded")
}

// TestCustomRoleNamesCollideAsTheRoleSetSees refuses a custom role whose name differs from
// another's only in a way strings.EqualFold keeps apart but the role set folds together
// ("i" and "İ"): accepting it would make the role set unbuildable and drop every custom role.
func TestCustomRoleNamesCollideAsTheRoleSetSees(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	scope := "/subscriptions/" + e.sub
	def := func(name string) authz.RoleDefinition {
		return authz.RoleDefinition{RoleName: name, Permissions: []authz.Permission{{Actions: []string{"Microsoft.KeyVault/vaults/read"}}}, AssignableScopes: []string{scope}}
	}
	first := uuid.NewString()
	if _, err := e.svc.PutRoleDefinition(ctx, e.admin, scope, first, def("i")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PutRoleDefinition(ctx, e.admin, scope, uuid.NewString(), def("İ")); !fault.Is(err, fault.BadRequest) && !fault.Is(err, fault.Conflict) {
		t.Errorf("second role named like the first = %v, want a 400 or 409", err)
	}
	if _, ok := e.svc.Roles().Role(first); !ok {
		t.Errorf("custom role %s is gone from the role set", first)
	}
}
