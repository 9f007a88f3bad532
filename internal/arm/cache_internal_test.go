package arm

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/authz"
)

// TestRoleSetLeavesOutOnlyClashingRoles: stored custom roles that cannot live together (a
// database written before writes checked the whole set) must cost only the clashing role,
// loudly, never every custom role.
func TestRoleSetLeavesOutOnlyClashingRoles(t *testing.T) {
	role := func(id, name string) *CustomRole {
		return &CustomRole{Definition: authz.RoleDefinition{ID: id, RoleName: name, RoleType: "CustomRole",
			Permissions:      []authz.Permission{{Actions: []string{"Microsoft.KeyVault/vaults/read"}}},
			AssignableScopes: []string{"/subscriptions/11111111-1111-1111-1111-111111111111"}}}
	}
	const a, b, c = "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002", "cccccccc-0000-0000-0000-000000000003"
	custom := map[string]*CustomRole{a: role(a, "i"), b: role(b, "İ"), c: role(c, "Vault peeker")}
	var logs bytes.Buffer
	roles := roleSet(custom, slog.New(slog.NewTextHandler(&logs, nil)))
	for id, want := range map[string]bool{a: true, b: false, c: true, authz.ReaderRoleID: true} {
		if _, ok := roles.Role(id); ok != want {
			t.Errorf("role %s present = %v, want %v", id, ok, want)
		}
	}
	if !strings.Contains(logs.String(), "custom role left out") || !strings.Contains(logs.String(), b) {
		t.Errorf("the left-out role was not logged:\n%s", logs.String())
	}
}
