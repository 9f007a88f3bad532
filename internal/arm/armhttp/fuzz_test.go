package armhttp

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzSplitPathAndRoute(f *testing.F) {
	for _, s := range []string{
		"/subscriptions", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
		"/providers/Microsoft.Authorization/roleAssignments/abc", "/a//b", "/%2F", "/%zz", "/subscriptions/%00",
		"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/x/providers/Microsoft.Authorization/roleAssignments",
		"/subscriptions/s/providers/Foo.Bar/things", strings.Repeat("/a", 5000),
	} {
		f.Add(s)
	}
	h := New(nil, nil, Config{})
	f.Fuzz(func(t *testing.T, p string) {
		segs, err := splitPath(p)
		if err != nil {
			return
		}
		for _, s := range segs {
			if s == "" || strings.Contains(s, "/") {
				t.Fatalf("splitPath(%q) gave segment %q", p, s)
			}
		}
		rt, args, err := h.route(segs)
		if err == nil && (rt == nil || rt.family == nil || len(rt.methods) == 0) {
			t.Fatalf("route(%q) = %v, %v, nil", segs, rt, args)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"location":"westeurope","properties":{"tenantId":"t","sku":{"family":"A","name":"standard"},"accessPolicies":[{"tenantId":"t","objectId":"o","permissions":{"secrets":["get"]}}]}}`,
		`{"properties":{"softDeleteRetentionInDays":"7"}}`, `{"tags":{"a":1}}`, `[]`, `null`, `{} {}`, `{`, ``, `"x"`,
		`{"properties":{"networkAcls":{"ipRules":[{"value":"1.2.3.4"}]}}}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v vaultBody
		if err := decodeJSON(body, &v); err == nil {
			_ = v.params()
		}
		var ra roleAssignmentBody
		_ = decodeJSON(body, &ra)
		var rd roleDefinitionBody
		_ = decodeJSON(body, &rd)
		var g groupBody
		_ = decodeJSON(body, &g)
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"atScope()", "principalId eq '0b1f'", "assignedTo('x') and atScope()", "roleName eq 'Key Vault Secrets User'",
		"roleName eq 'O''Brien'", "type eq 'BuiltInRole'", "resourceType eq 'Microsoft.KeyVault/vaults'", "atScope( and",
		"x eq", "'", "a eq 'b' or c eq 'd'", "principalId  eq  'x'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseAssignmentFilter(s)
		_, _ = parseRoleDefinitionFilter(s)
		_, _ = parseResourceTypeFilter(s)
	})
}

func FuzzAPIVersion(f *testing.F) {
	for _, s := range []string{"2024-11-01", "2022-05-01-preview", "2099-01-01", "2014-13-01", "2024-11-01-foo", "", "9999-99-99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := checkAPIVersion(familyKeyVault, []string{v})
		if err == nil && got != v {
			t.Fatalf("checkAPIVersion(%q) = %q", v, got)
		}
		if err == nil && !wellFormedAPIVersion(v) {
			t.Fatalf("accepted malformed api-version %q", v)
		}
	})
}

func TestAPIVersion(t *testing.T) {
	for _, tc := range []struct {
		fam  *apiFamily
		in   []string
		want string // error code, "" for ok
	}{
		{familyKeyVault, []string{"2024-11-01"}, ""},
		{familyKeyVault, []string{"2023-07-01"}, ""},
		{familyKeyVault, []string{"2030-01-01"}, ""},
		{familyKeyVault, []string{"2030-01-01-preview"}, ""},
		{familyKeyVault, nil, "MissingApiVersionParameter"},
		{familyKeyVault, []string{""}, "MissingApiVersionParameter"},
		{familyKeyVault, []string{"2020-01-01"}, "InvalidApiVersionParameter"},
		{familyKeyVault, []string{"2030-13-01"}, "InvalidApiVersionParameter"},
		{familyKeyVault, []string{"2024-11-01", "2024-11-01"}, "InvalidApiVersionParameter"},
		{familyRoleAssignments, []string{"2022-04-01"}, ""},
		{familyRoleDefinitions, []string{"2022-05-01-preview"}, ""},
		{familyResources, []string{"2015-11-01"}, ""},
		{familyResources, []string{"2022-12-01"}, ""},
		{familyManagedIdentity, []string{"2023-01-31"}, ""},
	} {
		_, err := checkAPIVersion(tc.fam, tc.in)
		got := ""
		if err != nil {
			got = err.(interface{ Error() string }).Error()
			got, _, _ = strings.Cut(got, ":")
		}
		if got != tc.want {
			t.Errorf("checkAPIVersion(%s, %q) = %q, want %q", tc.fam.name, tc.in, got, tc.want)
		}
	}
}

func TestMetadataEndpoints(t *testing.T) {
	h := NewMetadataHandler("https://keystage.example:8443/", "vault.keystage.example")
	for _, tc := range []struct {
		version string
		list    bool
	}{{"2022-09-01", true}, {"2019-05-01", true}, {"2015-01-01", false}, {"1.0", false}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "https://keystage.example:8443/metadata/endpoints?api-version="+tc.version, nil))
		body := rec.Body.String()
		if rec.Code != 200 || strings.HasPrefix(body, "[") != tc.list || !strings.Contains(body, `"keyVaultDns":".vault.keystage.example"`) ||
			!strings.Contains(body, `"loginEndpoint":"https://keystage.example:8443"`) {
			t.Errorf("api-version %s: %d %s", tc.version, rec.Code, body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://keystage.example:8443/metadata/other", nil))
	if rec.Code != 404 {
		t.Errorf("/metadata/other = %d", rec.Code)
	}
}

func TestAudienceVariants(t *testing.T) {
	got := AudienceVariants([]string{"https://management.azure.com/", "https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000", "https://graph.microsoft.com/"})
	want := []string{"https://management.azure.com/", "https://management.azure.com", "https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("AudienceVariants = %v, want %v", got, want)
	}
}
