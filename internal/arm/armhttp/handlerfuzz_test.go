package armhttp_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/keystage/keystage/internal/arm"
)

// FuzzHandler sends arbitrary requests, authenticated as the administrator, through the
// whole ARM surface: whatever the method, path, query and body, the answer is never a 500.
func FuzzHandler(f *testing.F) {
	e, h := newFakeHandler(f)
	ctx := context.Background()
	tok, _ := e.Admin.GetToken(ctx, policy.TokenRequestOptions{})
	admin := arm.Caller{TenantID: e.TenantID, ObjectID: e.AdminID, Type: arm.PrincipalServicePrincipal}
	if _, _, err := e.Service.PutGroup(ctx, admin, e.Subscription, "rg", arm.GroupParams{Location: "westeurope"}); err != nil {
		f.Fatal(err)
	}
	sub := "/subscriptions/" + e.Subscription
	vault := `{"location":"westeurope","properties":{"tenantId":"` + e.TenantID + `","sku":{"family":"A","name":"standard"}}}`
	seeds := []struct {
		method byte
		path   string
		query  string
		body   string
	}{
		{0, sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-fuzz", "api-version=2024-11-01", vault},
		{0, sub + "/resourceGroups/rg", "api-version=2021-04-01", `{"location":"eastus"}`},
		{1, sub + "/resourceGroups", "api-version=2021-04-01&$top=1&$skiptoken=abc", ""},
		{0, sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-fuzz/accessPolicies/add", "api-version=2024-11-01", `{"properties":{"accessPolicies":[{"tenantId":"x","objectId":"y","permissions":{"secrets":["get"]}}]}}`},
		{1, sub + "/providers/Microsoft.Authorization/roleAssignments", "api-version=2022-04-01&$filter=atScope()+and+assignedTo('x')", ""},
		{0, sub + "/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000001", "api-version=2022-04-01", `{"properties":{"roleDefinitionId":"x","principalId":"y","condition":"((("}}`},
		{0, sub + "/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-000000000002", "api-version=2022-04-01", `{"properties":{"roleName":"r","permissions":[{"actions":["**"]}],"assignableScopes":["/"]}}`},
		{4, sub + "/providers/Microsoft.KeyVault/checkNameAvailability", "api-version=2024-11-01", `{"name":"kv-fuzz"}`},
		{4, sub + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv-fuzz/purge", "api-version=2024-11-01", ""},
		{3, sub + "/resourceGroups/rg", "api-version=2021-04-01", ""},
		{0, sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials/f", "api-version=2024-11-30", `{"properties":{"issuer":"http://169.254.169.254","subject":"*","audiences":[]}}`},
		{1, sub + "/operationresults/zzz", "api-version=2021-04-01", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, []byte(s.body))
	}
	methods := []string{http.MethodPut, http.MethodGet, http.MethodPatch, http.MethodDelete, http.MethodPost, http.MethodHead, "OPTIONS"}
	f.Fuzz(func(t *testing.T, m byte, path, query string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t?#") || strings.ContainsAny(query, " \r\n\t#") {
			return // not something an HTTP client can send as a request target
		}
		if _, err := url.Parse("https://localhost" + path + "?" + query); err != nil {
			return
		}
		req := httptest.NewRequest(methods[int(m)%len(methods)], "https://localhost"+path+"?"+query, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s %q = %d %s", req.Method, path, query, body, rec.Code, rec.Body.String())
		}
	})
}
