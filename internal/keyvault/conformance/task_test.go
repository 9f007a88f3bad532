package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keystage/keystage/internal/server/servertest"
)

// TestAzureKeyVaultTask replays, by hand, the requests of the AzureKeyVault@2 pipeline task
// (pipelines.md §5.1): api-version 2016-10-01, the token audience from the 401 challenge's
// resource, GET /secrets?maxresults=25 following nextLink, then GET /secrets/{name} (no
// trailing slash) for each enabled, unexpired secret — and checks it gets what the task
// needs.
func TestAzureKeyVaultTask(t *testing.T) {
	servertest.Each(t, servertest.Options{}, func(t *testing.T, e *servertest.Env) {
		h := newHarness(t, e)
		conn := h.identity("service-connection")
		h.vault("pipeline-kv", vaultSpec{policies: map[string][]string{conn.PrincipalID: {"Get", "List"}}})
		admin := h.secrets("pipeline-kv", h.cred, nil)
		want := map[string]string{}
		for i := range 30 {
			name := fmt.Sprintf("app-secret-%02d", i)
			want[name] = fmt.Sprint("value ", i)
			if _, err := admin.SetSecret(ctx(t), name, azsecrets.SetSecretParameters{Value: ptr(want[name])}, nil); err != nil {
				t.Fatal(err)
			}
		}
		want["multi-line"] = "line one\nline two"
		admin.SetSecret(ctx(t), "multi-line", azsecrets.SetSecretParameters{Value: ptr(want["multi-line"])}, nil)
		admin.SetSecret(ctx(t), "disabled", azsecrets.SetSecretParameters{Value: ptr("x"), SecretAttributes: &azsecrets.SecretAttributes{Enabled: ptr(false)}}, nil)
		past := time.Now().Add(-time.Hour)
		admin.SetSecret(ctx(t), "expired", azsecrets.SetSecretParameters{Value: ptr("x"), SecretAttributes: &azsecrets.SecretAttributes{Expires: &past}}, nil)

		vault := strings.TrimSuffix(e.VaultURL("pipeline-kv"), "/")
		const apiVersion = "api-version=2016-10-01"
		get := func(target, bearer string) (int, http.Header, []byte) {
			req, _ := http.NewRequest("GET", target, nil)
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			resp, err := e.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header, body
		}

		// The task's first call carries a token for its configured audience; a 401 makes it
		// take resource="…" from WWW-Authenticate (split on ",") and retry once.
		status, hdr, _ := get(vault+"/secrets?maxresults=25&"+apiVersion, "")
		if status != 401 {
			t.Fatalf("unauthenticated list: %d", status)
		}
		resource := ""
		for _, part := range strings.Split(hdr.Get("WWW-Authenticate"), ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "resource="); ok {
				resource = strings.Trim(v, `"`)
			}
		}
		if resource != h.resource() {
			t.Fatalf("challenge resource %q, want %q", resource, h.resource())
		}
		tok := h.token(conn, resource)

		type item struct {
			ID          string `json:"id"`
			ContentType string `json:"contentType"`
			Attributes  struct {
				Enabled bool   `json:"enabled"`
				Exp     *int64 `json:"exp"`
			} `json:"attributes"`
		}
		var listed []item
		next := vault + "/secrets?maxresults=25&" + apiVersion
		for pages := 0; next != ""; pages++ {
			status, _, body := get(next, tok)
			if status != 200 {
				t.Fatalf("list page %d: %d %s", pages, status, body)
			}
			var page struct {
				Value    []item  `json:"value"`
				NextLink *string `json:"nextLink"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Value) > 25 {
				t.Errorf("page of %d items with maxresults=25", len(page.Value))
			}
			listed = append(listed, page.Value...)
			next = ""
			if page.NextLink != nil {
				next = *page.NextLink
				if u, err := url.Parse(next); err != nil || u.Query().Get("api-version") != "2016-10-01" {
					t.Fatalf("nextLink %q does not keep api-version=2016-10-01", next)
				}
			}
			if pages > 5 {
				t.Fatal("paging does not end")
			}
		}
		if len(listed) != 33 {
			t.Errorf("listed %d secrets, want 33", len(listed))
		}
		var names []string
		for _, it := range listed {
			name := it.ID[strings.LastIndexByte(it.ID, '/')+1:]
			if it.Attributes.Enabled && (it.Attributes.Exp == nil || *it.Attributes.Exp > time.Now().Unix()) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		var wantNames []string
		for n := range want {
			wantNames = append(wantNames, n)
		}
		slices.Sort(wantNames)
		if !slices.Equal(names, wantNames) {
			t.Fatalf("enabled, unexpired secrets %v, want %v", names, wantNames)
		}
		for _, name := range names {
			status, _, body := get(vault+"/secrets/"+url.PathEscape(name)+"?"+apiVersion, tok)
			var s struct {
				Value string `json:"value"`
				ID    string `json:"id"`
			}
			if status != 200 || json.Unmarshal(body, &s) != nil || s.Value != want[name] || !strings.Contains(s.ID, "/secrets/"+name+"/") {
				t.Errorf("get %s: %d %s", name, status, body)
			}
		}
		// An explicit filter naming a disabled secret fails with the service's 403, whose
		// error.code and error.message the task reports.
		status, _, body := get(vault+"/secrets/disabled?"+apiVersion, tok)
		var e2 struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if status != 403 || json.Unmarshal(body, &e2) != nil || e2.Error.Code != "Forbidden" || e2.Error.Message == "" {
			t.Errorf("disabled secret: %d %s", status, body)
		}
		// A name outside Key Vault's alphabet is a 400, which the task reports as "Secret not
		// found: {name}…".
		if status, _, _ := get(vault+"/secrets/bad_name?"+apiVersion, tok); status != 400 {
			t.Errorf("invalid name: %d", status)
		}
	})
}
