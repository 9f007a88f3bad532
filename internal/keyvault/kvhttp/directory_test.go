package kvhttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/arm/armhttp"
	"github.com/keystage/keystage/internal/arm/armtest"
	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/identity/token"
)

// armEnv is the handler over the real management plane, with principals in an in-memory
// directory: the authorization cases of identity.md §5 that the data plane decides.
type armEnv struct {
	*env
	arm    *arm.Service
	dir    *armtest.Directory
	admin  arm.Caller
	sub    string
	vaults map[string]*arm.VaultInfo
}

func newARMEnv(t *testing.T) *armEnv {
	t.Helper()
	e := newEnv(t, Throttle{Disabled: true})
	ctx := context.Background()
	dir := armtest.NewDirectory()
	adminOID := dir.AddPrincipal(tenantA, arm.PrincipalServicePrincipal)
	svc, err := arm.New(ctx, e.store, dir, arm.Config{VaultSuffix: "vault.localhost", VaultPort: 8443, VaultData: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := svc.Bootstrap(ctx, tenantA, adminOID, arm.PrincipalServicePrincipal)
	if err != nil {
		t.Fatal(err)
	}
	a := &armEnv{env: e, arm: svc, dir: dir, sub: sub.ID, vaults: map[string]*arm.VaultInfo{},
		admin: arm.Caller{TenantID: tenantA, ObjectID: adminOID, AppID: adminOID, Type: arm.PrincipalServicePrincipal}}
	for _, g := range []string{"rg1", "rg2"} {
		if _, _, err := svc.PutGroup(ctx, a.admin, sub.ID, g, arm.GroupParams{Location: "westeurope"}); err != nil {
			t.Fatal(err)
		}
	}
	e.h.dir = ARMDirectory{ARM: svc, GroupsOf: dir.GroupsOf}
	e.admin = e.token(tenantA, adminOID, testResource, 0)
	return a
}

// vault creates a vault in group with the given permission model.
func (a *armEnv) vault(group, name string, rbac bool, policies ...authz.AccessPolicyEntry) {
	a.t.Helper()
	_, _, err := a.arm.PutVault(context.Background(), a.admin, a.sub, group, name, arm.VaultParams{
		Location: "westeurope", TenantID: tenantA, SKU: &arm.SKU{Family: "A", Name: "standard"},
		AccessPolicies: policies, AccessPoliciesSet: true, EnableRbacAuthorization: &rbac,
	})
	if err != nil {
		a.t.Fatal(err)
	}
}

func (a *armEnv) assign(scope, role, principal string) {
	a.t.Helper()
	if _, _, err := a.arm.PutRoleAssignment(context.Background(), a.admin, scope, uuid.NewString(),
		arm.RoleAssignmentParams{RoleDefinitionID: role, PrincipalID: principal}); err != nil {
		a.t.Fatal(err)
	}
}

func (a *armEnv) principal() (oid, bearer string) {
	oid = a.dir.AddPrincipal(tenantA, arm.PrincipalServicePrincipal)
	return oid, a.token(tenantA, oid, testResource, 0)
}

// status sends method target (relative to vault's host) with bearer and returns the status
// and error codes.
func (a *armEnv) status(vault, method, target, bearer string, body any) (int, string) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req := httptest.NewRequest(method, "https://"+vault+".vault.localhost:8443"+target, rd)
	req.Header.Set("Authorization", "Bearer "+bearer)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	code, inner := errorCodes(m)
	if inner != "" {
		code += "/" + inner
	}
	return rec.Code, code
}

func policy(oid string, perms ...string) authz.AccessPolicyEntry {
	return authz.AccessPolicyEntry{TenantID: tenantA, ObjectID: oid, Permissions: authz.AccessPolicyPermissions{Secrets: perms}}
}

func TestAccessPolicies(t *testing.T) {
	a := newARMEnv(t)
	lister, listTok := a.principal()
	getter, getTok := a.principal()
	group := a.dir.AddPrincipal(tenantA, arm.PrincipalGroup)
	member, memberTok := a.principal()
	a.dir.AddMember(tenantA, group, member)
	app := a.dir.AddPrincipal(tenantA, arm.PrincipalServicePrincipal)
	user, userTok := a.principal()
	_, strangerTok := a.principal()
	compound := policy(user, "get")
	compound.ApplicationID = app
	a.vault("rg1", "polv", false, policy(a.admin.ObjectID, "all"), policy(lister, "list"), policy(getter, "get"), policy(group, "get", "list"), compound)
	if code, _ := a.status("polv", "PUT", "/secrets/s"+api, a.env.admin, map[string]string{"value": "v"}); code != 200 {
		t.Fatalf("admin set: %d", code)
	}
	tests := []struct {
		name, token, method, target string
		want                        int
		wantCode                    string
	}{
		{"list-only lists", listTok, "GET", "/secrets", 200, ""},
		{"list-only cannot get (30)", listTok, "GET", "/secrets/s", 403, "Forbidden/AccessDenied"},
		{"get-only gets", getTok, "GET", "/secrets/s", 200, ""},
		{"get-only cannot list (30)", getTok, "GET", "/secrets", 403, "Forbidden/AccessDenied"},
		{"get-only cannot set", getTok, "PUT", "/secrets/s", 403, "Forbidden/AccessDenied"},
		{"group member gets (31)", memberTok, "GET", "/secrets/s", 200, ""},
		{"group member lists (31)", memberTok, "GET", "/secrets", 200, ""},
		{"compound entry does not grant the user alone (32)", userTok, "GET", "/secrets/s", 403, "Forbidden/ForbiddenByPolicy"},
		{"stranger", strangerTok, "GET", "/secrets/s", 403, "Forbidden/AccessDenied"},
		{"admin purge without a deleted secret", a.env.admin, "DELETE", "/deletedsecrets/s", 404, "SecretNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ec := a.status("polv", tt.method, tt.target+api, tt.token, map[string]string{"value": "v"})
			if code != tt.want || ec != tt.wantCode {
				t.Errorf("got %d %q, want %d %q", code, ec, tt.want, tt.wantCode)
			}
		})
	}
	// The denial message names the caller, the permission and the vault (identity.md §2.4).
	req := httptest.NewRequest("GET", "https://polv.vault.localhost:8443/secrets/s"+api, nil)
	req.Header.Set("Authorization", "Bearer "+listTok)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if want := "does not have secrets get permission on key vault 'polv;location=westeurope'"; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("denial %s lacks %q", rec.Body, want)
	}
}

func TestRBACVault(t *testing.T) {
	a := newARMEnv(t)
	a.vault("rg1", "rbacv", true, policy(a.admin.ObjectID, "all")) // policies are ignored (33)
	a.vault("rg1", "rbacv2", true, policy(a.admin.ObjectID, "all"))
	a.vault("rg2", "other", true)
	vaultScope := "/subscriptions/" + a.sub + "/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/rbacv"
	a.assign(vaultScope, authz.KeyVaultSecretsOfficerRoleID, a.admin.ObjectID)
	a.assign("/subscriptions/"+a.sub+"/resourceGroups/rg2/providers/Microsoft.KeyVault/vaults/other", authz.KeyVaultSecretsOfficerRoleID, a.admin.ObjectID)
	for _, v := range []string{"rbacv", "other"} {
		for _, s := range []string{"s1", "s2"} {
			if code, ec := a.status(v, "PUT", "/secrets/"+s+api, a.env.admin, map[string]string{"value": "v"}); code != 200 {
				t.Fatalf("admin set %s/%s: %d %s", v, s, code, ec)
			}
		}
	}

	s1User, s1Tok := a.principal()
	a.assign(vaultScope+"/secrets/s1", authz.KeyVaultSecretsUserRoleID, s1User)
	rgUser, rgTok := a.principal()
	a.assign("/subscriptions/"+a.sub+"/resourceGroups/rg1", authz.KeyVaultSecretsUserRoleID, rgUser)
	var ownerToks []string
	for _, role := range []string{authz.OwnerRoleID, authz.ContributorRoleID, authz.ReaderRoleID} {
		oid, tok := a.principal()
		a.assign("/subscriptions/"+a.sub, role, oid)
		ownerToks = append(ownerToks, tok)
	}
	kvReader, kvReaderTok := a.principal()
	a.assign(vaultScope, authz.KeyVaultReaderRoleID, kvReader)
	custom, customTok := a.principal()
	roleID := uuid.NewString()
	_, err := a.arm.PutRoleDefinition(context.Background(), a.admin, "/subscriptions/"+a.sub, roleID, authz.RoleDefinition{
		RoleName: "Secrets writer", AssignableScopes: []string{"/subscriptions/" + a.sub},
		Permissions: []authz.Permission{{DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}, NotDataActions: []string{authz.DataActionSecretGet}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.assign(vaultScope, roleID, custom)
	_, policyOnlyTok := a.principal()

	type call struct{ vault, method, target, token string }
	tests := []struct {
		name     string
		c        call
		want     int
		wantCode string
	}{
		{"secret-scoped user reads s1 (35)", call{"rbacv", "GET", "/secrets/s1", s1Tok}, 200, ""},
		{"secret-scoped user cannot read s2 (35)", call{"rbacv", "GET", "/secrets/s2", s1Tok}, 403, "Forbidden/ForbiddenByRbac"},
		{"group-scoped user reads in every vault of the group (35)", call{"rbacv2", "GET", "/secrets/anything", rgTok}, 404, "SecretNotFound"},
		{"group-scoped user reads rv (35)", call{"rbacv", "GET", "/secrets/s2", rgTok}, 200, ""},
		{"group-scoped user gets nothing in a sibling group (35)", call{"other", "GET", "/secrets/s1", rgTok}, 403, "Forbidden/ForbiddenByRbac"},
		{"Owner at subscription cannot read (36)", call{"rbacv", "GET", "/secrets/s1", ownerToks[0]}, 403, "Forbidden/ForbiddenByRbac"},
		{"Contributor at subscription cannot read (36)", call{"rbacv", "GET", "/secrets/s1", ownerToks[1]}, 403, "Forbidden/ForbiddenByRbac"},
		{"Reader at subscription cannot read (36)", call{"rbacv", "GET", "/secrets/s1", ownerToks[2]}, 403, "Forbidden/ForbiddenByRbac"},
		{"Key Vault Reader lists (37)", call{"rbacv", "GET", "/secrets", kvReaderTok}, 200, ""},
		{"Key Vault Reader cannot get (37)", call{"rbacv", "GET", "/secrets/s1", kvReaderTok}, 403, "Forbidden/ForbiddenByRbac"},
		{"custom role sets (38)", call{"rbacv", "PUT", "/secrets/s1", customTok}, 200, ""},
		{"custom role cannot get (38)", call{"rbacv", "GET", "/secrets/s1", customTok}, 403, "Forbidden/ForbiddenByRbac"},
		{"access policies are ignored (33)", call{"rbacv2", "GET", "/secrets/s1", a.env.admin}, 403, "Forbidden/ForbiddenByRbac"},
		{"no role at all", call{"rbacv", "GET", "/secrets", policyOnlyTok}, 403, "Forbidden/ForbiddenByRbac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ec := a.status(tt.c.vault, tt.c.method, tt.c.target+api, tt.c.token, map[string]string{"value": "v"})
			if code != tt.want || ec != tt.wantCode {
				t.Errorf("got %d %q, want %d %q", code, ec, tt.want, tt.wantCode)
			}
		})
	}
	// The RBAC denial names the action and the secret's resource, as Key Vault does.
	req := httptest.NewRequest("GET", "https://rbacv.vault.localhost:8443/secrets/s2"+api, nil)
	req.Header.Set("Authorization", "Bearer "+s1Tok)
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	for _, want := range []string{"Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'", "/vaults/rbacv/secrets/s2'"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("denial lacks %q: %s", want, rec.Body)
		}
	}

	// Flipping the vault back to access policies restores them (33).
	rbac := false
	if _, err := a.arm.PatchVault(context.Background(), a.admin, a.sub, "rg1", "rbacv2", arm.VaultParams{EnableRbacAuthorization: &rbac}); err != nil {
		t.Fatal(err)
	}
	if code, ec := a.status("rbacv2", "GET", "/secrets/s1"+api, a.env.admin, nil); code != 404 {
		t.Errorf("after switching to access policies: %d %s", code, ec)
	}
}

func TestPurgedVaultLosesItsSecrets(t *testing.T) {
	a := newARMEnv(t)
	a.vault("rg1", "gone", false, policy(a.admin.ObjectID, "all"))
	if code, _ := a.status("gone", "PUT", "/secrets/s"+api, a.env.admin, map[string]string{"value": "v"}); code != 200 {
		t.Fatal(code)
	}
	ctx := context.Background()
	if _, err := a.arm.DeleteVault(ctx, a.admin, a.sub, "rg1", "gone"); err != nil {
		t.Fatal(err)
	}
	if code, ec := a.status("gone", "GET", "/secrets/s"+api, a.env.admin, nil); code != 404 || ec != "VaultNotFound" {
		t.Errorf("deleted vault: %d %s", code, ec)
	}
	if _, err := a.arm.PurgeDeletedVault(ctx, a.admin, a.sub, "westeurope", "gone"); err != nil {
		t.Fatal(err)
	}
	a.vault("rg1", "gone", false, policy(a.admin.ObjectID, "all"))
	if code, ec := a.status("gone", "GET", "/secrets/s"+api, a.env.admin, nil); code != 404 || ec != "SecretNotFound" {
		t.Errorf("re-created vault: %d %s", code, ec)
	}
}

func TestAuditHandler(t *testing.T) {
	a := newARMEnv(t)
	keys := token.NewKeyStore(a.store, token.KeyStoreConfig{Now: a.now.Now})
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Authority: testAuthority, Now: a.now.Now})
	if err != nil {
		t.Fatal(err)
	}
	ah := &AuditHandler{Audit: a.audit, ARM: a.arm, Auth: armhttp.NewTokenAuthenticator(verifier, []string{armhttp.AudienceManagement}), GroupsOf: a.dir.GroupsOf}
	a.vault("rg1", "auditv", false, policy(a.admin.ObjectID, "all"))
	for range 3 {
		a.status("auditv", "PUT", "/secrets/s"+api, a.env.admin, map[string]string{"value": "hunter2"})
	}
	a.status("auditv", "GET", "/secrets/s"+api, a.env.admin, nil)
	mgmt := a.token(tenantA, a.admin.ObjectID, armhttp.AudienceManagement, 0)
	get := func(target, bearer string) (int, map[string]any) {
		req := httptest.NewRequest("GET", "https://localhost:8443"+target, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		ah.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Fatal("the audit API returned a secret value")
		}
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, m
	}
	base := "/keystage/keyvault/vaults/auditv/auditEvents"
	var ops []string
	target := base + "?top=2"
	for target != "" {
		code, m := get(target, mgmt)
		if code != 200 {
			t.Fatalf("%s: %d %v", target, code, m)
		}
		for _, ev := range m["value"].([]any) {
			ops = append(ops, ev.(map[string]any)["operation"].(string))
		}
		target = ""
		if next, _ := m["nextLink"].(string); next != "" {
			u, _ := url.Parse(next)
			target = u.RequestURI()
		}
	}
	if strings.Join(ops, ",") != "SecretSet,SecretSet,SecretSet,SecretGet" {
		t.Errorf("operations %v", ops)
	}
	if code, m := get(base+"?operation=SecretGet", mgmt); code != 200 || len(m["value"].([]any)) != 1 {
		t.Errorf("filtered: %d %v", code, m)
	}
	// A Key Vault Secrets User (data only) may not read the trail; a Reader may.
	user, _ := a.principal()
	a.assign("/subscriptions/"+a.sub, authz.KeyVaultSecretsUserRoleID, user)
	if code, m := get(base, a.token(tenantA, user, armhttp.AudienceManagement, 0)); code != 403 {
		t.Errorf("secrets user: %d %v", code, m)
	}
	reader, _ := a.principal()
	a.assign("/subscriptions/"+a.sub+"/resourceGroups/rg1", authz.ReaderRoleID, reader)
	if code, _ := get(base, a.token(tenantA, reader, armhttp.AudienceManagement, 0)); code != 200 {
		t.Errorf("reader: %d", code)
	}
	for _, tc := range []struct {
		target, bearer string
		want           int
	}{
		{base, "", 401},
		{base, a.env.admin, 401}, // a vault token is not a management token
		{"/keystage/keyvault/vaults/nosuch/auditEvents", mgmt, 404},
		{base + "?since=yesterday", mgmt, 400},
		{base + "?top=0x", mgmt, 400},
		{"/keystage/keyvault/vaults/auditv/other", mgmt, 404},
	} {
		if code, m := get(tc.target, tc.bearer); code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.target, code, m, tc.want)
		}
	}
	req := httptest.NewRequest("POST", "https://localhost:8443"+base, nil)
	rec := httptest.NewRecorder()
	ah.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// TestDeletedSecretPermissions is identity.md §5 item 40 under access policies: deleted
// secrets are listed and read with list and get, but recovering and purging need their own
// permissions, and purge protection refuses even those.
func TestDeletedSecretPermissions(t *testing.T) {
	a := newARMEnv(t)
	deleter, delTok := a.principal()
	recoverer, recTok := a.principal()
	a.vault("rg1", "softdel", false, policy(a.admin.ObjectID, "all"), policy(deleter, "get", "list", "delete", "set"), policy(recoverer, "recover", "purge"))
	if code, _ := a.status("softdel", "PUT", "/secrets/s"+api, delTok, map[string]string{"value": "v"}); code != 200 {
		t.Fatal(code)
	}
	steps := []struct {
		name, token, method, target string
		want                        int
		wantCode                    string
	}{
		{"delete", delTok, "DELETE", "/secrets/s", 200, ""},
		{"get is 404", delTok, "GET", "/secrets/s", 404, "SecretNotFound"},
		{"listed under deleted with list", delTok, "GET", "/deletedsecrets", 200, ""},
		{"read deleted with get", delTok, "GET", "/deletedsecrets/s", 200, ""},
		{"re-create conflicts", delTok, "PUT", "/secrets/s", 409, "Conflict/ObjectIsDeletedButRecoverable"},
		{"recover needs recover", delTok, "POST", "/deletedsecrets/s/recover", 403, "Forbidden/AccessDenied"},
		{"purge needs purge", delTok, "DELETE", "/deletedsecrets/s", 403, "Forbidden/AccessDenied"},
		{"recover with recover", recTok, "POST", "/deletedsecrets/s/recover", 200, ""},
		{"delete again", delTok, "DELETE", "/secrets/s", 200, ""},
		{"purge with purge", recTok, "DELETE", "/deletedsecrets/s", 204, ""},
		{"name reusable", delTok, "PUT", "/secrets/s", 200, ""},
	}
	for _, st := range steps {
		code, ec := a.status("softdel", st.method, st.target+api, st.token, map[string]string{"value": "v"})
		if code != st.want || ec != st.wantCode {
			t.Fatalf("%s: got %d %q, want %d %q", st.name, code, ec, st.want, st.wantCode)
		}
	}
}
