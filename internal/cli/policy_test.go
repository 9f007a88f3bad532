package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMergePolicy(t *testing.T) {
	const tenant, oid, app = "TENANT", "obj-1", "app-1"
	entry := func(tn, o, ap string, perms map[string]any) map[string]any {
		m := map[string]any{"tenantId": tn, "objectId": o, "permissions": perms}
		if ap != "" {
			m["applicationId"] = ap
		}
		return m
	}
	tests := []struct {
		name  string
		in    []any
		appID string
		given map[string][]string
		want  []any
	}{
		{
			name:  "new principal is appended with only the categories given",
			in:    []any{entry(tenant, "other", "", map[string]any{"secrets": []any{"get"}})},
			given: map[string][]string{"secrets": {"get", "list"}},
			want: []any{
				entry(tenant, "other", "", map[string]any{"secrets": []any{"get"}}),
				entry(tenant, oid, "", map[string]any{"secrets": []any{"get", "list"}}),
			},
		},
		{
			name:  "existing principal: given category replaced, others kept",
			in:    []any{entry(tenant, oid, "", map[string]any{"secrets": []any{"get"}, "keys": []any{"get", "list"}})},
			given: map[string][]string{"secrets": {"set"}},
			want:  []any{entry(tenant, oid, "", map[string]any{"secrets": []any{"set"}, "keys": []any{"get", "list"}})},
		},
		{
			name:  "match is case-insensitive on tenant and object id",
			in:    []any{entry("tenant", "OBJ-1", "", map[string]any{"secrets": []any{"get"}})},
			given: map[string][]string{"certificates": {"list"}},
			want:  []any{entry("tenant", "OBJ-1", "", map[string]any{"secrets": []any{"get"}, "certificates": []any{"list"}})},
		},
		{
			name:  "compound identity is a different principal",
			in:    []any{entry(tenant, oid, "", map[string]any{"secrets": []any{"get"}})},
			appID: app,
			given: map[string][]string{"secrets": {"list"}},
			want: []any{
				entry(tenant, oid, "", map[string]any{"secrets": []any{"get"}}),
				entry(tenant, oid, app, map[string]any{"secrets": []any{"list"}}),
			},
		},
		{
			name:  "compound identity matches its own entry",
			in:    []any{entry(tenant, oid, "APP-1", map[string]any{"secrets": []any{"get"}})},
			appID: app,
			given: map[string][]string{"secrets": {"list"}},
			want:  []any{entry(tenant, oid, "APP-1", map[string]any{"secrets": []any{"list"}})},
		},
		{
			name:  "permissions are de-duplicated, given and kept",
			in:    []any{entry(tenant, oid, "", map[string]any{"keys": []any{"get", "Get", "list"}})},
			given: map[string][]string{"secrets": {"get", "list", "get"}},
			want:  []any{entry(tenant, oid, "", map[string]any{"keys": []any{"get", "list"}, "secrets": []any{"get", "list"}})},
		},
		{
			name:  "empty category given clears it",
			in:    []any{entry(tenant, oid, "", map[string]any{"secrets": []any{"get"}})},
			given: map[string][]string{"secrets": {}},
			want:  []any{entry(tenant, oid, "", map[string]any{"secrets": []any{}})},
		},
		{
			name:  "other tenant's entry for the same object id is not touched",
			in:    []any{entry("other-tenant", oid, "", map[string]any{"secrets": []any{"get"}})},
			given: map[string][]string{"secrets": {"list"}},
			want: []any{
				entry("other-tenant", oid, "", map[string]any{"secrets": []any{"get"}}),
				entry(tenant, oid, "", map[string]any{"secrets": []any{"list"}}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergePolicy(tt.in, tenant, oid, tt.appID, tt.given)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mergePolicy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergePolicyDoesNotModifyInput(t *testing.T) {
	in := []any{map[string]any{"tenantId": "t", "objectId": "o", "permissions": map[string]any{"secrets": []any{"get"}}}}
	if _, err := mergePolicy(in, "t", "o", "", map[string][]string{"secrets": {"list"}}); err != nil {
		t.Fatal(err)
	}
	if got := in[0].(map[string]any)["permissions"].(map[string]any)["secrets"]; !cmp.Equal(got, []any{"get"}) {
		t.Errorf("input policy changed to %v", got)
	}
}

func TestRemovePolicy(t *testing.T) {
	in := []any{
		map[string]any{"tenantId": "t", "objectId": "a"},
		map[string]any{"tenantId": "t", "objectId": "b", "applicationId": "x"},
		map[string]any{"tenantId": "t", "objectId": "b"},
	}
	tests := []struct {
		name      string
		oid, app  string
		wantOK    bool
		wantCount int
	}{
		{"plain principal", "B", "", true, 2},
		{"compound identity", "b", "X", true, 2},
		{"no match", "c", "", false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := removePolicy(in, "T", tt.oid, tt.app)
			if ok != tt.wantOK || len(got) != tt.wantCount {
				t.Errorf("removePolicy = %d entries, %v; want %d, %v", len(got), ok, tt.wantCount, tt.wantOK)
			}
		})
	}
}

func TestNormalizePermissions(t *testing.T) {
	got, err := normalizePermissions("secrets", "--secret-permissions", []string{"Get", "list", "get"})
	if err != nil || !cmp.Equal(got, []string{"get", "list"}) {
		t.Errorf("got %v, %v; want [get list]", got, err)
	}
	if _, err := normalizePermissions("secrets", "--secret-permissions", []string{"sign"}); err == nil {
		t.Error("sign is not a secret permission, want an error")
	}
}
