package kvhttp

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/keyvault"
)

func TestChallengeComesFirst(t *testing.T) {
	e := newEnv(t, Throttle{})
	wantHeader := `Bearer authorization="https://localhost:8443/` + tenantA + `", resource="https://vault.localhost:8443"`
	tests := []struct {
		name, method, target, body string
		header                     http.Header
	}{
		{"PUT with an empty body", "PUT", "/secrets/x" + api, "", nil},
		{"PUT with a bad body", "PUT", "/secrets/x" + api, "{not json", nil},
		{"missing api-version", "GET", "/secrets/x/", "", nil},
		{"bad api-version", "GET", "/secrets/x?api-version=banana", "", nil},
		{"bad name", "GET", "/secrets/a_b" + api, "", nil},
		{"unknown path", "GET", "/nothing/here" + api, "", nil},
		{"keys", "GET", "/keys/k" + api, "", nil},
		{"token in the query", "GET", "/secrets/x" + api + "&access_token=" + e.admin, "", nil},
		{"basic scheme", "GET", "/secrets/x" + api, "", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
		{"bearer without a token", "GET", "/secrets/x" + api, "", http.Header{"Authorization": {"Bearer "}}},
		{"two authorization headers", "GET", "/secrets/x" + api, "", http.Header{"Authorization": {"Bearer " + e.admin, "Bearer " + e.admin}}},
		{"garbage token", "GET", "/secrets/x" + api, "", http.Header{"Authorization": {"Bearer abc.def.ghi"}}},
		{"ARM audience", "GET", "/secrets/x" + api, "", http.Header{"Authorization": {"Bearer " + e.token(tenantA, oidAdmin, "https://management.azure.com/", 0)}}},
		{"trailing slash audience", "GET", "/secrets/x" + api, "", http.Header{"Authorization": {"Bearer " + e.token(tenantA, oidAdmin, testResource+"/", 0)}}},
		{"other tenant", "GET", "/secrets/x" + api, "", http.Header{"Authorization": {"Bearer " + e.token(tenantB, oidAdmin, testResource, 0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "https://"+testHost+tt.target, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != wantHeader {
				t.Errorf("WWW-Authenticate = %s\nwant                %s", got, wantHeader)
			}
			if code, _ := errorCodes(decodeResp(t, rec.Result(), 401)); code != "Unauthorized" {
				t.Errorf("code %q, want Unauthorized", code)
			}
		})
	}
}

func TestTokenErrorMessages(t *testing.T) {
	e := newEnv(t, Throttle{})
	expired := e.token(tenantA, oidAdmin, testResource, time.Minute)
	e.now.Add(time.Hour)
	tests := []struct {
		name, token, want string
	}{
		{"audience", e.token(tenantA, oidAdmin, "https://management.azure.com/", 0), "AKV10022: Invalid audience. Expected https://vault.localhost:8443, found: https://management.azure.com/."},
		{"issuer", e.token(tenantB, oidAdmin, testResource, 0), "AKV10032: Invalid issuer. Expected one of https://localhost:8443/" + tenantA + "/, found https://localhost:8443/" + tenantB + "/."},
		{"expired", expired, "[TokenExpired] Error validating token: 'S2S12086'."},
		{"signature", e.admin[:len(e.admin)-4] + "AAAA", "Error validating token: the signature is invalid or was made with an unknown key."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeResp(t, e.do("GET", "/secrets/x"+api, tt.token, nil), 401)
			if got := m["error"].(map[string]any)["message"]; got != tt.want {
				t.Errorf("message %q\nwant    %q", got, tt.want)
			}
		})
	}
	// Tokens for the real Key Vault's audience are accepted too.
	decodeResp(t, e.do("GET", "/secrets"+api, e.token(tenantA, oidAdmin, AzureResource, 0), nil), 200)
	// The scheme name is case-insensitive.
	req := httptest.NewRequest("GET", "https://"+testHost+"/secrets"+api, nil)
	req.Header.Set("Authorization", "bearer "+e.admin)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("lower-case bearer: status %d", rec.Code)
	}
}

func TestUnknownVault(t *testing.T) {
	e := newEnv(t, Throttle{})
	req := httptest.NewRequest("GET", "https://nosuch.vault.localhost:8443/secrets"+api, nil)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if code, _ := errorCodes(decodeResp(t, rec.Result(), 404)); code != "VaultNotFound" {
		t.Errorf("code %q, want VaultNotFound", code)
	}
}

func TestSecretLifecycleWire(t *testing.T) {
	e := newEnv(t, Throttle{})
	set := e.doJSON("PUT", "/secrets/Db-Pass"+api, map[string]any{
		"value": "s3cret", "contentType": "text/plain", "tags": map[string]string{"env": "prod"},
		"attributes": map[string]any{"enabled": true, "nbf": 1700000000, "exp": 1900000000},
	}, 200)
	id := set["id"].(string)
	version := strings.TrimPrefix(id, "https://"+testHost+"/secrets/Db-Pass/")
	if !keyvault.ValidVersion(version) || len(version) != 32 || strings.ToLower(version) != version {
		t.Fatalf("id %q does not end in a lower-case 32-hex version", id)
	}
	now := float64(e.now.Now().Unix())
	want := map[string]any{
		"value": "s3cret", "id": id, "contentType": "text/plain", "tags": map[string]any{"env": "prod"},
		"attributes": map[string]any{"enabled": true, "nbf": 1700000000.0, "exp": 1900000000.0, "created": now, "updated": now,
			"recoveryLevel": "CustomizedRecoverable+Purgeable", "recoverableDays": 7.0},
	}
	if diff := cmp.Diff(want, set); diff != "" {
		t.Errorf("set response (-want +got):\n%s", diff)
	}
	for _, target := range []string{"/secrets/db-pass/", "/secrets/db-pass", "//secrets//db-pass/", "/secrets/db-pass/" + version, "/secrets/DB-PASS/" + strings.ToUpper(version)} {
		if got := e.doJSON("GET", target+api, nil, 200); !cmp.Equal(want, got) {
			t.Errorf("GET %s = %v", target, got)
		}
	}

	// Update latest through the trailing slash: no value in the answer.
	f := e.now.Now
	e.now.Add(time.Minute)
	upd := e.doJSON("PATCH", "/secrets/db-pass/"+api, map[string]any{"contentType": "new", "attributes": map[string]any{"enabled": false}}, 200)
	if _, has := upd["value"]; has {
		t.Error("update response has a value")
	}
	if upd["contentType"] != "new" || upd["attributes"].(map[string]any)["updated"] != float64(f().Unix()) {
		t.Errorf("update response %v", upd)
	}
	code, inner := errorCodes(e.doJSON("GET", "/secrets/db-pass/"+api, nil, 403))
	if code != "Forbidden" || inner != "SecretDisabled" {
		t.Errorf("disabled get: %s/%s", code, inner)
	}
	list := e.doJSON("GET", "/secrets"+api, nil, 200)
	items := list["value"].([]any)
	if len(items) != 1 || list["nextLink"] != nil {
		t.Fatalf("list = %v", list)
	}
	item := items[0].(map[string]any)
	if item["id"] != "https://"+testHost+"/secrets/Db-Pass" || item["attributes"].(map[string]any)["enabled"] != false {
		t.Errorf("list item %v", item)
	}
	if _, has := item["value"]; has {
		t.Error("list item has a value")
	}
	e.doJSON("PATCH", "/secrets/db-pass/"+version+api, map[string]any{"attributes": map[string]any{"enabled": true}}, 200)

	// Backup, delete, purge, restore.
	backup := e.doJSON("POST", "/secrets/db-pass/backup"+api, nil, 200)
	blob := backup["value"].(string)
	if strings.ContainsAny(blob, "=+/") {
		t.Errorf("backup blob is not unpadded base64url: %q", blob[:20])
	}
	del := e.doJSON("DELETE", "/secrets/db-pass"+api, nil, 200)
	if del["recoveryId"] != "https://"+testHost+"/deletedsecrets/Db-Pass" {
		t.Errorf("recoveryId %v", del["recoveryId"])
	}
	if del["scheduledPurgeDate"].(float64) != del["deletedDate"].(float64)+7*86400 {
		t.Errorf("scheduledPurgeDate %v, deletedDate %v", del["scheduledPurgeDate"], del["deletedDate"])
	}
	code, inner = errorCodes(e.doJSON("PUT", "/secrets/db-pass"+api, map[string]any{"value": "x"}, 409))
	if code != "Conflict" || inner != "ObjectIsDeletedButRecoverable" {
		t.Errorf("set on deleted: %s/%s", code, inner)
	}
	if got := e.doJSON("GET", "/deletedsecrets"+api, nil, 200)["value"].([]any); len(got) != 1 {
		t.Errorf("deleted list %v", got)
	}
	e.doJSON("GET", "/deletedsecrets/db-pass"+api, nil, 200)
	rec := e.doJSON("POST", "/deletedsecrets/db-pass/recover"+api, nil, 200)
	if rec["id"] != id {
		t.Errorf("recover id %v, want %s", rec["id"], id)
	}
	e.doJSON("DELETE", "/secrets/db-pass"+api, nil, 200)
	resp := e.do("DELETE", "/deletedsecrets/db-pass"+api, e.admin, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("purge status %d", resp.StatusCode)
	}
	if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
		t.Errorf("purge body %q", b)
	}
	code, _ = errorCodes(e.doJSON("GET", "/deletedsecrets/db-pass"+api, nil, 404))
	if code != "SecretNotFound" {
		t.Errorf("after purge: %s", code)
	}
	restored := e.doJSON("POST", "/secrets/restore"+api, map[string]string{"value": blob}, 200)
	if restored["id"] != id {
		t.Errorf("restored id %v, want %s", restored["id"], id)
	}
	if got := e.doJSON("GET", "/secrets/db-pass"+api, nil, 200); got["value"] != "s3cret" {
		t.Errorf("restored value %v", got["value"])
	}
	// A tampered blob is rejected with 400.
	raw, _ := base64.RawURLEncoding.DecodeString(blob)
	raw[len(raw)/2] ^= 1
	e.doJSON("DELETE", "/secrets/db-pass"+api, nil, 200)
	e.do("DELETE", "/deletedsecrets/db-pass"+api, e.admin, nil)
	code, _ = errorCodes(e.doJSON("POST", "/secrets/restore"+api, map[string]string{"value": base64.RawURLEncoding.EncodeToString(raw)}, 400))
	if code != "BadParameter" {
		t.Errorf("tampered blob: %s", code)
	}
	padded := base64.URLEncoding.EncodeToString(raw)
	if strings.HasSuffix(padded, "=") {
		e.doJSON("POST", "/secrets/restore"+api, map[string]string{"value": padded}, 400)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, Throttle{})
	e.doJSON("PUT", "/secrets/s"+api, map[string]string{"value": "v"}, 200)
	tests := []struct {
		name, method, target string
		body                 any
		status               int
		code                 string
	}{
		{"missing api-version", "GET", "/secrets/s", nil, 400, "BadParameter"},
		{"empty api-version", "GET", "/secrets/s?api-version=", nil, 400, "BadParameter"},
		{"bad api-version", "GET", "/secrets/s?api-version=7.9", nil, 400, "BadParameter"},
		{"invalid name", "GET", "/secrets/a_b" + api, nil, 400, "BadParameter"},
		{"encoded slash", "GET", "/secrets/a%2F..%2Fb" + api, nil, 400, "BadParameter"},
		{"128 chars", "PUT", "/secrets/" + strings.Repeat("a", 128) + api, map[string]string{"value": "v"}, 400, "BadParameter"},
		{"no value", "PUT", "/secrets/s" + api, map[string]string{"contentType": "x"}, 400, "BadParameter"},
		{"value not a string", "PUT", "/secrets/s" + api, map[string]any{"value": 5}, 400, "BadParameter"},
		{"exp not an integer", "PUT", "/secrets/s" + api, map[string]any{"value": "v", "attributes": map[string]any{"exp": "soon"}}, 400, "BadParameter"},
		{"exp a float", "PUT", "/secrets/s" + api, map[string]any{"value": "v", "attributes": map[string]any{"exp": 1.5}}, 400, "BadParameter"},
		{"tags not strings", "PUT", "/secrets/s" + api, map[string]any{"value": "v", "tags": map[string]any{"a": 1}}, 400, "BadParameter"},
		{"body is an array", "PUT", "/secrets/s" + api, "[]", 400, "BadParameter"},
		{"trailing data", "PUT", "/secrets/s" + api, `{"value":"v"} {}`, 400, "BadParameter"},
		{"bad json", "PATCH", "/secrets/s/" + api, `{"contentType":`, 400, "BadParameter"},
		{"value too long", "PUT", "/secrets/s" + api, map[string]string{"value": strings.Repeat("x", 25601)}, 400, "BadParameter"},
		{"body too large", "PUT", "/secrets/s" + api, map[string]string{"value": strings.Repeat("x", 2<<20)}, 413, "RequestTooLarge"},
		{"maxresults 0", "GET", "/secrets" + api + "&maxresults=0", nil, 400, "BadParameter"},
		{"maxresults 26", "GET", "/secrets" + api + "&maxresults=26", nil, 400, "BadParameter"},
		{"bad skiptoken", "GET", "/secrets" + api + "&$skiptoken=***", nil, 400, "BadParameter"},
		{"outContentType", "GET", "/secrets/s" + api + "&outContentType=application/x-pem-file", nil, 400, "BadParameter"},
		{"not found", "GET", "/secrets/nope" + api, nil, 404, "SecretNotFound"},
		{"version of nothing", "GET", "/secrets/s/0123456789abcdef0123456789abcdef" + api, nil, 404, "SecretNotFound"},
		{"bad version", "GET", "/secrets/s/zzz" + api, nil, 404, "SecretNotFound"},
		{"deleted not found", "GET", "/deletedsecrets/nope" + api, nil, 404, "SecretNotFound"},
		{"method", "POST", "/secrets/s" + api, nil, 405, "MethodNotAllowed"},
		{"too deep", "GET", "/secrets/s/a/b/c" + api, nil, 404, "NotFound"},
		{"keys", "GET", "/keys" + api, nil, 501, "NotImplemented"},
		{"restore nothing", "POST", "/secrets/restore" + api, map[string]string{}, 400, "BadParameter"},
		{"restore padded garbage", "POST", "/secrets/restore" + api, map[string]string{"value": "AAAA===="}, 400, "BadParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeResp(t, e.do(tt.method, tt.target, e.admin, tt.body), tt.status)
			if code, _ := errorCodes(m); code != tt.code {
				t.Errorf("code %q, want %q (%v)", code, tt.code, m)
			}
			if strings.Contains(fmt.Sprint(m), "xxxxxxxxxx") {
				t.Error("the error echoes the request body")
			}
		})
	}
}

func TestAccessDenied(t *testing.T) {
	e := newEnv(t, Throttle{})
	e.doJSON("PUT", "/secrets/s"+api, map[string]string{"value": "v"}, 200)
	reader := e.token(tenantA, oidReader, testResource, 0)
	decodeResp(t, e.do("GET", "/secrets/s"+api, reader, nil), 200)
	decodeResp(t, e.do("GET", "/secrets"+api, reader, nil), 200)
	for _, op := range []struct{ method, target string }{
		{"PUT", "/secrets/s"}, {"DELETE", "/secrets/s"}, {"GET", "/secrets/s/versions"}, {"GET", "/deletedsecrets"},
		{"POST", "/secrets/s/backup"}, {"POST", "/secrets/restore"},
	} {
		m := decodeResp(t, e.do(op.method, op.target+api, reader, map[string]string{"value": "v"}), 403)
		if code, inner := errorCodes(m); code != "Forbidden" || inner != "AccessDenied" {
			t.Errorf("%s %s: %s/%s", op.method, op.target, code, inner)
		}
	}
}

func TestPagingFollowsNextLink(t *testing.T) {
	e := newEnv(t, Throttle{})
	for i := range 30 {
		e.doJSON("PUT", fmt.Sprintf("/secrets/s%02d", i)+api, map[string]string{"value": "v"}, 200)
	}
	for range 27 {
		e.doJSON("PUT", "/secrets/s00"+api, map[string]string{"value": "v"}, 200)
	}
	for _, tc := range []struct {
		first string
		want  int
	}{
		{"/secrets?api-version=2016-10-01&maxresults=25", 30},
		{"/secrets" + api, 30},
		{"/secrets/s00/versions" + api + "&maxresults=4", 28},
	} {
		seen := map[string]bool{}
		target := tc.first
		for pages := 0; target != ""; pages++ {
			m := e.doJSON("GET", target, nil, 200)
			for _, it := range m["value"].([]any) {
				id := it.(map[string]any)["id"].(string)
				if seen[id] {
					t.Errorf("%s listed twice", id)
				}
				seen[id] = true
			}
			next, _ := m["nextLink"].(string)
			target = ""
			if next != "" {
				u, err := url.Parse(next)
				if err != nil || u.Host != testHost || u.Query().Get("api-version") == "" || u.Query().Get("$skiptoken") == "" {
					t.Fatalf("nextLink %q lacks host, api-version or $skiptoken", next)
				}
				target = u.RequestURI()
			}
			if pages > 20 {
				t.Fatal("paging does not end")
			}
		}
		if len(seen) != tc.want {
			t.Errorf("%s: listed %d, want %d", tc.first, len(seen), tc.want)
		}
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t, Throttle{Transactions: 3, Creates: 2, Window: 10 * time.Second})
	e.doJSON("PUT", "/secrets/s"+api, map[string]string{"value": "v"}, 200)
	e.doJSON("PUT", "/secrets/s"+api, map[string]string{"value": "v"}, 200)
	resp := e.do("PUT", "/secrets/s"+api, e.admin, map[string]string{"value": "v"})
	m := decodeResp(t, resp, 429)
	if code, _ := errorCodes(m); code != "Throttled" {
		t.Errorf("code %q", code)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After %q, want 5 (2 creates per 10 s)", ra)
	}
	for range 3 {
		e.doJSON("GET", "/secrets/s"+api, nil, 200)
	}
	e.doJSON("GET", "/secrets/s"+api, nil, 429)
	// Refused requests do not count: after the refill, exactly one more passes.
	e.now.Add(4 * time.Second)
	e.doJSON("GET", "/secrets/s"+api, nil, 200)
	e.doJSON("GET", "/secrets/s"+api, nil, 429)
	// Other vaults have their own budget.
	e.dir.vaults["other"] = Vault{Vault: keyvault.Vault{ID: "vault-2", Name: "other", TenantID: tenantA}}
	req := httptest.NewRequest("GET", "https://other.vault.localhost:8443/secrets"+api, nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("other vault throttled: %d", rec.Code)
	}
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t, Throttle{})
	e.doJSON("PUT", "/secrets/audited"+api, map[string]string{"value": "TopSecretValue123"}, 200)
	e.doJSON("GET", "/secrets/audited/"+api, nil, 200)
	decodeResp(t, e.do("GET", "/secrets/audited"+api, "", nil), 401)
	decodeResp(t, e.do("GET", "/secrets/audited"+api, e.token(tenantA, oidReader, testResource, 0), nil), 200)
	decodeResp(t, e.do("DELETE", "/secrets/audited"+api, e.token(tenantA, oidReader, testResource, 0), nil), 403)
	page, err := e.audit.Query(context.Background(), keyvault.AuditQuery{Vault: "myvault"})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Op, Name, OID, Err string
		Status             int
	}
	var got []row
	for _, ev := range page.Items {
		got = append(got, row{ev.Operation, ev.SecretName, ev.ObjectID, ev.ErrorCode, ev.Status})
		if ev.ClientIP != "192.0.2.7" || ev.Vault != "myvault" {
			t.Errorf("event %+v", ev)
		}
		if strings.Contains(fmt.Sprintf("%+v", ev), "TopSecretValue123") {
			t.Error("the audit trail holds a secret value")
		}
	}
	want := []row{
		{"SecretSet", "audited", oidAdmin, "", 200},
		{"SecretGet", "audited", oidAdmin, "", 200},
		{"SecretGet", "audited", "", "Unauthorized", 401},
		{"SecretGet", "audited", oidReader, "", 200},
		{"SecretDelete", "audited", oidReader, "Forbidden/AccessDenied", 403},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}
