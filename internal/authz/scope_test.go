package authz

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	testSub   = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	testVault = "/subscriptions/" + testSub + "/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1"
)

func mustScope(t testing.TB, s string) Scope {
	t.Helper()
	sc, err := ParseScope(s)
	if err != nil {
		t.Fatalf("ParseScope(%q): %v", s, err)
	}
	return sc
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		name, in, want string
		kind           ScopeKind
		sub, rg        string
	}{
		{"root", "/", "/", ScopeRoot, "", ""},
		{"subscription", "/subscriptions/" + testSub, "/subscriptions/" + testSub, ScopeSubscription, testSub, ""},
		{"subscription trailing slash", "/subscriptions/" + testSub + "/", "/subscriptions/" + testSub, ScopeSubscription, testSub, ""},
		{"keyword case", "/SUBSCRIPTIONS/" + testSub + "/resourcegroups/RG1", "/subscriptions/" + testSub + "/resourceGroups/RG1", ScopeResourceGroup, testSub, "RG1"},
		{"resource group", "/subscriptions/s/resourceGroups/my-rg_(1).x", "/subscriptions/s/resourceGroups/my-rg_(1).x", ScopeResourceGroup, "s", "my-rg_(1).x"},
		{"vault", testVault, testVault, ScopeResource, testSub, "rg1"},
		{"vault lower keywords", strings.ToLower(testVault), "/subscriptions/" + testSub + "/resourceGroups/rg1/providers/microsoft.keyvault/vaults/kv1", ScopeResource, testSub, "rg1"},
		{"secret", testVault + "/secrets/db-password", testVault + "/secrets/db-password", ScopeResource, testSub, "rg1"},
		{"subscription-level resource", "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x", "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x", ScopeResource, "s", ""},
		{"extension resource", testVault + "/PROVIDERS/Microsoft.Authorization/roleAssignments/a", testVault + "/providers/Microsoft.Authorization/roleAssignments/a", ScopeResource, testSub, "rg1"},
		{"management group", "/providers/microsoft.management/managementgroups/mg1", "/providers/Microsoft.Management/managementGroups/mg1", ScopeManagementGroup, "", ""},
		{"tenant resource", "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", ScopeResource, "", ""},
		{"unicode name", "/subscriptions/s/resourceGroups/grüße", "/subscriptions/s/resourceGroups/grüße", ScopeResourceGroup, "s", "grüße"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if err != nil {
				t.Fatalf("ParseScope(%q) error: %v", tt.in, err)
			}
			if got.String() != tt.want || got.Kind() != tt.kind {
				t.Errorf("ParseScope(%q) = %q (%s), want %q (%s)", tt.in, got, got.Kind(), tt.want, tt.kind)
			}
			if got.SubscriptionID() != tt.sub || got.ResourceGroup() != tt.rg {
				t.Errorf("sub, rg = %q, %q; want %q, %q", got.SubscriptionID(), got.ResourceGroup(), tt.sub, tt.rg)
			}
			again, err := ParseScope(got.String())
			if err != nil || again != got {
				t.Errorf("reparse of %q = %q, %v; want idempotent", got, again, err)
			}
		})
	}
}

func TestParseScopeErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"empty", "", "empty"},
		{"relative", "subscriptions/s", "must start with '/'"},
		{"double slash", "/subscriptions//resourceGroups/g", "empty segment"},
		{"two trailing slashes", "/subscriptions/s//", "empty segment"},
		{"no subscription id", "/subscriptions", "missing the subscription id"},
		{"no group name", "/subscriptions/s/resourceGroups", "missing the resource group name"},
		{"unknown root", "/tenants/t", "starts with /subscriptions or /providers"},
		{"dot dot", "/subscriptions/s/resourceGroups/..", "not a name"},
		{"dot", "/subscriptions/./resourceGroups/g", "not a name"},
		{"wildcard", "/subscriptions/*", "character '*'"},
		{"percent", "/subscriptions/s/resourceGroups/a%2Fb", "character '%'"},
		{"space", "/subscriptions/s/resourceGroups/a b", "whitespace"},
		{"control", "/subscriptions/s\x00", "control character"},
		{"backslash", "/subscriptions/s/resourceGroups/a\\b", "character '\\\\'"},
		{"query", "/subscriptions/s?x=1", "character '?'"},
		{"junk after group", "/subscriptions/s/resourceGroups/g/vaults/v", "expected \"providers\""},
		{"namespace without dot", "/subscriptions/s/providers/KeyVault/vaults/v", "must look like Company.Provider"},
		{"type without name", testVault + "/secrets", "has no name"},
		{"namespace only", "/subscriptions/s/providers/Microsoft.KeyVault", "followed by a resource type"},
		{"bad type", "/subscriptions/s/providers/Microsoft.KeyVault/va+ults/v", "resource type"},
		{"invalid utf8", "/subscriptions/\xff", "UTF-8"},
		{"too long", "/subscriptions/" + strings.Repeat("a", MaxScopeLength), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if err == nil {
				t.Fatalf("ParseScope(%q) = %q, want an error containing %q", tt.in, got, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidScope) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseScope(%q) error = %v, want ErrInvalidScope containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestScopeContains(t *testing.T) {
	sub := "/subscriptions/" + testSub
	rg := sub + "/resourceGroups/rg1"
	tests := []struct {
		name, outer, inner string
		want               bool
	}{
		{"root contains subscription", "/", sub, true},
		{"root contains secret", "/", testVault + "/secrets/s1", true},
		{"subscription contains vault", sub, testVault, true},
		{"group contains secret", rg, testVault + "/secrets/s1", true},
		{"vault contains itself", testVault, testVault, true},
		{"case-insensitive", strings.ToUpper(rg[:20]) + rg[20:], testVault, true},
		{"vault contains its secret", testVault, testVault + "/secrets/s1", true},
		{"secret does not contain vault", testVault + "/secrets/s1", testVault, false},
		{"secret does not contain sibling", testVault + "/secrets/s1", testVault + "/secrets/s2", false},
		{"prefix is not a parent", testVault + "/secrets/s1", testVault + "/secrets/s10", false},
		{"sibling group", sub + "/resourceGroups/rg2", testVault, false},
		{"group name prefix", sub + "/resourceGroups/rg", testVault, false},
		{"other subscription", "/subscriptions/1b1f6471-1bf0-4dda-aec3-cb9272f09590", testVault, false},
		{"subscription does not contain root", sub, "/", false},
		{"management group contains itself", "/providers/Microsoft.Management/managementGroups/mg", "/providers/Microsoft.Management/managementGroups/MG", true},
		{"management group and subscriptions", "/providers/Microsoft.Management/managementGroups/mg", sub, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, i := mustScope(t, tt.outer), mustScope(t, tt.inner)
			if got := o.Contains(i); got != tt.want {
				t.Errorf("%q.Contains(%q) = %v, want %v", o, i, got, tt.want)
			}
		})
	}
	if (Scope{}).Contains(RootScope()) || RootScope().Contains(Scope{}) {
		t.Error("the zero Scope must neither contain nor be contained")
	}
}

func TestScopeChildAndVaultScope(t *testing.T) {
	v, err := VaultScope(testSub, "rg1", "kv1")
	if err != nil || v.String() != testVault {
		t.Fatalf("VaultScope = %q, %v; want %q", v, err, testVault)
	}
	s, err := v.Child("secrets", "db-password")
	if err != nil || s.String() != testVault+"/secrets/db-password" || s.Kind() != ScopeResource {
		t.Fatalf("Child = %q, %v", s, err)
	}
	for _, bad := range []struct{ typ, name string }{{"secrets", ""}, {"secrets", "a/b"}, {"secrets", ".."}, {"sec rets", "a"}, {"", "a"}} {
		if _, err := v.Child(bad.typ, bad.name); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("Child(%q, %q) error = %v, want ErrInvalidScope", bad.typ, bad.name, err)
		}
	}
	if _, err := mustScope(t, "/subscriptions/s").Child("secrets", "a"); err == nil {
		t.Error("Child of a subscription must fail")
	}
	if _, err := VaultScope(testSub, "rg 1", "kv1"); err == nil {
		t.Error("VaultScope with a space in the group must fail")
	}
}

// FuzzParseScope checks that parsing never panics, that accepted scopes are normalized
// (reparsing is the identity) and that every scope contains itself and lies under the root.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"/", "", "/subscriptions/" + testSub, testVault, testVault + "/secrets/x/",
		"/providers/Microsoft.Management/managementGroups/mg", "/SUBSCRIPTIONS/a/RESOURCEGROUPS/b",
		"/subscriptions/a/providers/Microsoft.Authorization/roleAssignments/b",
		testVault + "/providers/Microsoft.Authorization/roleAssignments/x", "//", "/subscriptions/a/../b",
		"/subscriptions/%2e%2e", "/providers/a.b/c/d/providers/e.f/g/h", "/subscriptions/\u00a0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseScope(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidScope) {
				t.Fatalf("ParseScope(%q) error %v does not wrap ErrInvalidScope", in, err)
			}
			return
		}
		if s.IsZero() || !utf8.ValidString(s.String()) || len(s.String()) > len(in) {
			t.Fatalf("ParseScope(%q) = %q (%s)", in, s, s.Kind())
		}
		again, err := ParseScope(s.String())
		if err != nil || again != s {
			t.Fatalf("reparse of %q = %q, %v", s, again, err)
		}
		if !s.Contains(s) || !RootScope().Contains(s) {
			t.Fatalf("%q must contain itself and lie under the root", s)
		}
		if strings.Contains(s.String(), "//") || (s.Kind() != ScopeRoot && strings.HasSuffix(s.String(), "/")) {
			t.Fatalf("%q is not normalized", s)
		}
	})
}
