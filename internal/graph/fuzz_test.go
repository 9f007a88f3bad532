package graph_test

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary requests through the Graph surface as a tenant principal:
// the answer is never a 5xx and always JSON.
func FuzzHandler(f *testing.F) {
	e := newEnv(f)
	for _, s := range []struct {
		m          byte
		path, q, b string
	}{
		{0, "/v1.0/applications", "", `{"displayName":"x"}`},
		{1, "/v1.0/applications", "$filter=startswith(displayName,'x')&$top=2", ""},
		{1, "/v1.0/servicePrincipals", "$filter=servicePrincipalNames/any(c:c eq 'x')", ""},
		{1, "/v1.0/servicePrincipals(appId='x')", "", ""},
		{0, "/v1.0/applications/x/addPassword", "", `{"passwordCredential":{"endDateTime":"2000-01-01T00:00:00Z"}}`},
		{0, "/v1.0/applications/x/federatedIdentityCredentials", "", `{"name":"a","issuer":"https://x","subject":"s","audiences":[1]}`},
		{0, "/v1.0/directoryObjects/getByIds", "", `{"ids":["a","b"],"types":["application"]}`},
		{2, "/v1.0/applications/x", "", `{"displayName":null}`},
		{3, "/v1.0/servicePrincipals/x", "", ""},
	} {
		f.Add(s.m, s.path, s.q, []byte(s.b))
	}
	methods := []string{"POST", "GET", "PATCH", "DELETE", "PUT"}
	f.Fuzz(func(t *testing.T, m byte, path, query string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t?#") || strings.ContainsAny(query, " \r\n\t#") {
			return
		}
		if _, err := url.Parse("https://localhost" + path + "?" + query); err != nil {
			return
		}
		req := httptest.NewRequest(methods[int(m)%len(methods)], "https://localhost"+path+"?"+query, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer alice")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s %q = %d %s", req.Method, path, query, body, rec.Code, rec.Body.String())
		}
		if rec.Body.Len() > 0 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s answered %q", req.Method, path, rec.Header().Get("Content-Type"))
		}
	})
}
