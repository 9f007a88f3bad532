package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/graph"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/identitytest"
)

// env is a Graph handler over a real identity service, with callers given by token.
type env struct {
	t       testing.TB
	h       http.Handler
	id      *identity.Service
	tenant  string
	callers map[string]graph.Caller
}

type tokenMap map[string]graph.Caller

func (m tokenMap) Authenticate(r *http.Request) (graph.Caller, error) {
	c, ok := m[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		return graph.Caller{}, fault.New(fault.Unauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
	}
	return c, nil
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st := identitytest.Open(t, "sqlite")
	id, err := identity.New(st, st, identity.Config{
		Authority: "https://localhost:8443", Resources: graph.Audiences,
		Federation: federation.Config{Timeout: time.Second},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := id.Bootstrap(ctx, identity.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	armSvc, err := arm.New(ctx, st, arm.NewIdentityDirectory(id, ""), arm.Config{VaultSuffix: "vault.localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := armSvc.Bootstrap(ctx, boot.Tenant.ID, boot.Admin.ServicePrincipalID, arm.PrincipalServicePrincipal); err != nil {
		t.Fatal(err)
	}
	callers := tokenMap{"admin": {TenantID: boot.Tenant.ID, ObjectID: boot.Admin.ServicePrincipalID, AppID: boot.Admin.AppID}}
	e := &env{t: t, id: id, tenant: boot.Tenant.ID, callers: callers}
	for _, name := range []string{"alice", "bob"} {
		app, err := id.CreateApplication(ctx, boot.Tenant.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		callers[name] = graph.Caller{TenantID: app.TenantID, ObjectID: app.ServicePrincipalID, AppID: app.AppID}
	}
	e.h = graph.New(id, armSvc, st, callers, graph.Config{PageSize: 2})
	return e
}

// do sends a request as caller and decodes the JSON answer.
func (e *env) do(caller, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, "https://localhost:8443"+path, rd)
	req.Header.Set("Authorization", "Bearer "+caller)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			e.t.Fatalf("%s %s: answer is not JSON: %q", method, path, rec.Body.String())
		}
	}
	return rec.Code, out
}

func (e *env) must(want int, caller, method, path string, body any) map[string]any {
	e.t.Helper()
	code, out := e.do(caller, method, path, body)
	if code != want {
		e.t.Fatalf("%s %s as %s = %d %v, want %d", method, path, caller, code, out, want)
	}
	return out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func values(out map[string]any) []map[string]any {
	var vs []map[string]any
	for _, v := range out["value"].([]any) {
		vs = append(vs, v.(map[string]any))
	}
	return vs
}

func TestApplicationsLifecycleAndOwnership(t *testing.T) {
	e := newEnv(t)
	app := e.must(201, "alice", "POST", "/v1.0/applications", map[string]any{"displayName": "pipeline-app"})
	objID, appID := app["id"].(string), app["appId"].(string)
	if app["displayName"] != "pipeline-app" || objID == "" || appID == "" || app["signInAudience"] != "AzureADMyOrg" {
		t.Fatalf("created %v", app)
	}
	for _, path := range []string{"/v1.0/applications/" + objID, "/v1.0/applications/" + appID, "/v1.0/applications(appId='" + appID + "')"} {
		got := e.must(200, "bob", "GET", path, nil)
		if got["id"] != objID {
			t.Errorf("GET %s = %v", path, got)
		}
	}
	owners := values(e.must(200, "bob", "GET", "/v1.0/applications/"+objID+"/owners", nil))
	if len(owners) != 1 || owners[0]["id"] != e.callers["alice"].ObjectID {
		t.Errorf("owners = %v, want alice", owners)
	}

	// bob is not an owner: he can read but not add a secret; the administrator can.
	_, out := e.do("bob", "POST", "/v1.0/applications/"+objID+"/addPassword", map[string]any{})
	if errCode(out) != "Authorization_RequestDenied" {
		t.Fatalf("bob addPassword = %v, want Authorization_RequestDenied", out)
	}
	pw := e.must(200, "alice", "POST", "/v1.0/applications/"+objID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "ci"}})
	secret, _ := pw["secretText"].(string)
	if len(secret) < 30 || pw["keyId"] == "" || pw["displayName"] != "ci" || !strings.HasPrefix(secret, pw["hint"].(string)) {
		t.Fatalf("addPassword = %v", pw)
	}
	_, out = e.do("alice", "POST", "/v1.0/applications/"+objID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": "2001-01-01T00:00:00Z"}})
	if errCode(out) != "Request_BadRequest" {
		t.Errorf("addPassword ending in the past = %v, want Request_BadRequest", out)
	}
	e.must(200, "admin", "POST", "/v1.0/applications/"+objID+"/addPassword", map[string]any{})
	got := e.must(200, "bob", "GET", "/v1.0/applications/"+objID, nil)
	creds := got["passwordCredentials"].([]any)
	if len(creds) != 2 || strings.Contains(mustJSON(t, got), secret) {
		t.Fatalf("application after two secrets = %v (the secret must not be shown)", got)
	}
	e.must(204, "alice", "POST", "/v1.0/applications/"+objID+"/removePassword", map[string]any{"keyId": pw["keyId"]})
	_, out = e.do("alice", "POST", "/v1.0/applications/"+objID+"/removePassword", map[string]any{"keyId": pw["keyId"]})
	if errCode(out) != "Request_BadRequest" {
		t.Errorf("removing a removed secret = %v", out)
	}

	_, out = e.do("bob", "DELETE", "/v1.0/applications/"+objID, nil)
	if errCode(out) != "Authorization_RequestDenied" {
		t.Fatalf("bob delete = %v", out)
	}
	e.must(204, "alice", "DELETE", "/v1.0/applications/"+objID, nil)
	_, out = e.do("alice", "GET", "/v1.0/applications/"+objID, nil)
	if errCode(out) != "Request_ResourceNotFound" {
		t.Fatalf("GET deleted = %v", out)
	}
	inner, _ := out["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["date"] == "" {
		t.Errorf("error without innerError.date: %v", out)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for _, n := range []string{"web-one", "web-two", "worker"} {
		ids = append(ids, e.must(201, "alice", "POST", "/v1.0/applications", map[string]any{"displayName": n})["appId"].(string))
	}
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{"", 6}, // three apps plus the administrator's, alice's and bob's
		{"appId eq '" + ids[1] + "'", 1},
		{"displayName eq 'WORKER'", 1},
		{"startswith(displayName,'web')", 2},
		{"startswith(displayName,'web') and displayName eq 'web-two'", 1},
	} {
		var all []map[string]any
		path := "/v1.0/applications"
		if tc.filter != "" {
			path += "?$filter=" + urlEscape(tc.filter)
		}
		for path != "" {
			out := e.must(200, "bob", "GET", path, nil)
			all = append(all, values(out)...)
			next, _ := out["@odata.nextLink"].(string)
			path = strings.TrimPrefix(next, "https://localhost:8443")
		}
		if len(all) != tc.want {
			t.Errorf("filter %q: %d applications, want %d", tc.filter, len(all), tc.want)
		}
	}
	for _, bad := range []string{"foo eq 'x'", "displayName ne 'x'", "appId eq 'x' or appId eq 'y'"} {
		_, out := e.do("bob", "GET", "/v1.0/applications?$filter="+urlEscape(bad), nil)
		if errCode(out) != "Request_UnsupportedQuery" {
			t.Errorf("filter %q = %v, want Request_UnsupportedQuery", bad, out)
		}
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27", "(", "%28", ")", "%29", ",", "%2C").Replace(s)
}

func TestServicePrincipals(t *testing.T) {
	e := newEnv(t)
	app := e.must(201, "alice", "POST", "/v1.0/applications", map[string]any{"displayName": "sp-app"})
	appID := app["appId"].(string)
	sp := e.must(201, "alice", "POST", "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	spID := sp["id"].(string)
	if spID == app["id"] || sp["appId"] != appID || sp["servicePrincipalType"] != "Application" {
		t.Fatalf("service principal = %v", sp)
	}
	// az ad sp show --id APP_ID: by id (lenient), then by servicePrincipalNames.
	if got := e.must(200, "bob", "GET", "/v1.0/servicePrincipals/"+appID, nil); got["id"] != spID {
		t.Errorf("by appId = %v", got)
	}
	if got := e.must(200, "bob", "GET", "/v1.0/servicePrincipals(appId='"+appID+"')", nil); got["id"] != spID {
		t.Errorf("by alternate key = %v", got)
	}
	vs := values(e.must(200, "bob", "GET", "/v1.0/servicePrincipals?$filter="+urlEscape("servicePrincipalNames/any(c:c eq '"+appID+"')"), nil))
	if len(vs) != 1 || vs[0]["id"] != spID {
		t.Errorf("servicePrincipalNames filter = %v", vs)
	}
	byIDs := values(e.must(200, "bob", "POST", "/v1.0/directoryObjects/getByIds", map[string]any{"ids": []string{spID, app["id"].(string)}}))
	if len(byIDs) != 2 || byIDs[0]["@odata.type"] != "#microsoft.graph.servicePrincipal" || byIDs[1]["@odata.type"] != "#microsoft.graph.application" {
		t.Errorf("getByIds = %v", byIDs)
	}
	_, out := e.do("bob", "POST", "/v1.0/servicePrincipals", map[string]any{"appId": "00000000-0000-0000-0000-000000000009"})
	if errCode(out) != "Request_BadRequest" {
		t.Errorf("SP for a missing app = %v", out)
	}
	e.must(204, "alice", "DELETE", "/v1.0/servicePrincipals/"+spID, nil)
	_, out = e.do("alice", "GET", "/v1.0/applications/"+appID, nil)
	if errCode(out) != "Request_ResourceNotFound" {
		t.Errorf("the application survived its service principal's deletion: %v", out)
	}
}

func TestFederatedCredentials(t *testing.T) {
	e := newEnv(t)
	app := e.must(201, "alice", "POST", "/v1.0/applications", map[string]any{"displayName": "fic-app"})
	base := "/v1.0/applications/" + app["id"].(string) + "/federatedIdentityCredentials"
	fic := map[string]any{
		"name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
		"subject": "repo:org/repo:ref:refs/heads/main", "audiences": []string{"api://AzureADTokenExchange"},
	}
	_, out := e.do("bob", "POST", base, fic)
	if errCode(out) != "Authorization_RequestDenied" {
		t.Fatalf("bob creates a FIC = %v", out)
	}
	created := e.must(201, "alice", "POST", base, fic)
	if created["name"] != "github-main" || created["id"] == "" {
		t.Fatalf("created %v", created)
	}
	for _, key := range []string{"github-main", created["id"].(string)} {
		if got := e.must(200, "bob", "GET", base+"/"+key, nil); got["subject"] != fic["subject"] {
			t.Errorf("GET by %s = %v", key, got)
		}
	}
	e.must(204, "alice", "PATCH", base+"/github-main", map[string]any{"subject": "repo:org/repo:environment:prod"})
	if got := e.must(200, "bob", "GET", base+"/github-main", nil); got["subject"] != "repo:org/repo:environment:prod" {
		t.Errorf("after PATCH = %v", got)
	}
	_, out = e.do("alice", "POST", base, map[string]any{"name": "bad", "issuer": "http://169.254.169.254/", "subject": "x", "audiences": []string{"api://AzureADTokenExchange"}})
	if errCode(out) != "Request_BadRequest" {
		t.Errorf("FIC with a metadata-address issuer = %v", out)
	}
	if vs := values(e.must(200, "bob", "GET", base, nil)); len(vs) != 1 {
		t.Errorf("list = %v", vs)
	}
	e.must(204, "alice", "DELETE", base+"/github-main", nil)
	_, out = e.do("alice", "GET", base+"/github-main", nil)
	if errCode(out) != "Request_ResourceNotFound" {
		t.Errorf("GET deleted FIC = %v", out)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", "/v1.0/applications", map[string]any{}, 400, "Request_BadRequest"},
		{"POST", "/v1.0/applications", map[string]any{"displayName": "x", "signInAudience": "AzureADMultipleOrgs"}, 400, "Request_BadRequest"},
		{"POST", "/v1.0/applications", map[string]any{"displayName": "x", "web": map[string]any{"redirectUris": []string{"https://x"}}}, 400, "Request_BadRequest"},
		{"GET", "/v1.0/users", nil, 400, "Request_BadRequest"},
		{"GET", "/v1.0/applications/nope", nil, 404, "Request_ResourceNotFound"},
		{"PUT", "/v1.0/applications", nil, 400, "Request_BadRequest"},
		{"GET", "/v1.0/applications?$top=0", nil, 400, "Request_BadRequest"},
		{"GET", "/v1.0/applications?$skiptoken=!!!", nil, 400, "Request_BadRequest"},
	} {
		code, out := e.do("alice", tc.method, tc.path, tc.body)
		if code != tc.status || errCode(out) != tc.code {
			t.Errorf("%s %s = %d %v, want %d %s", tc.method, tc.path, code, out, tc.status, tc.code)
		}
	}
	code, out := e.do("nobody", "GET", "/v1.0/applications", nil)
	if code != 401 || errCode(out) != "InvalidAuthenticationToken" {
		t.Errorf("unauthenticated = %d %v", code, out)
	}
}
