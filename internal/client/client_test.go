package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testTenant = "11111111-1111-1111-1111-111111111111"

// fakeServer serves a token endpoint and whatever extra handlers a test adds.
type fakeServer struct {
	*httptest.Server
	mux    *http.ServeMux
	tokens atomic.Int32
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{mux: http.NewServeMux()}
	f.mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if r.PathValue("tenant") != testTenant || r.Form.Get("client_secret") != "s3cret" || r.Form.Get("grant_type") != "client_credentials" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}`)
			return
		}
		f.tokens.Add(1)
		resource := strings.TrimSuffix(r.Form.Get("scope"), "/.default")
		fmt.Fprintf(w, `{"access_token":"tok|%s","token_type":"Bearer","expires_in":"3600"}`, resource)
	})
	f.Server = httptest.NewTLSServer(f.mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) client(t *testing.T, secret string) *Client {
	t.Helper()
	c, err := New(Config{
		URL:          f.URL,
		HTTPClient:   f.Client(),
		VaultSuffix:  "vault.test",
		PollInterval: time.Millisecond,
		Credential:   &ClientSecretCredential{Authority: f.URL, Tenant: testTenant, ClientID: "app", Secret: secret, HTTPClient: f.Client()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func TestTokenCachedAndErrorsParsed(t *testing.T) {
	f := newFakeServer(t)
	f.mux.HandleFunc("GET /subscriptions", func(w http.ResponseWriter, r *http.Request) {
		if bearer(r) != "tok|"+DefaultARMResource || r.URL.Query().Get("api-version") != "2022-12-01" {
			w.WriteHeader(401)
			return
		}
		fmt.Fprint(w, `{"value":[{"subscriptionId":"s1"}]}`)
	})
	c := f.client(t, "s3cret")
	for i := 0; i < 3; i++ {
		if _, err := c.ARM().List(context.Background(), "/subscriptions", "2022-12-01"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1 (cached)", n)
	}
	_, err := f.client(t, "wrong").ARM().List(context.Background(), "/subscriptions", "2022-12-01")
	var re *ResponseError
	if !errors.As(err, &re) || re.Code != "invalid_client" || re.Message != "AADSTS7000215: Invalid client secret provided." {
		t.Errorf("got %#v, want invalid_client with the AADSTS line only", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Error("the error mentions the secret")
	}
}

func TestARMPagingAndErrors(t *testing.T) {
	f := newFakeServer(t)
	f.mux.HandleFunc("GET /subscriptions/s/resourcegroups", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "":
			fmt.Fprintf(w, `{"value":[{"name":"a"},{"name":"b"}],"nextLink":"%s/subscriptions/s/resourcegroups?api-version=x&page=2"}`, f.URL)
		case "2":
			fmt.Fprint(w, `{"value":[{"name":"c"}]}`)
		}
	})
	f.mux.HandleFunc("GET /subscriptions/s/resourcegroups/missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		fmt.Fprint(w, `{"error":{"code":"ResourceGroupNotFound","message":"Resource group 'missing' could not be found."}}`)
	})
	c := f.client(t, "s3cret")
	items, err := c.ARM().List(context.Background(), "/subscriptions/s/resourcegroups", "2022-09-01")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range items {
		var g struct{ Name string }
		_ = json.Unmarshal(it, &g)
		names = append(names, g.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
		t.Errorf("paging (-want +got):\n%s", diff)
	}
	_, err = c.ARM().Get(context.Background(), "/subscriptions/s/resourcegroups/missing", "2022-09-01")
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 404 || re.Code != "ResourceGroupNotFound" {
		t.Errorf("got %v, want a 404 ResourceGroupNotFound", err)
	}
}

func TestARMLongRunningOperations(t *testing.T) {
	f := newFakeServer(t)
	var polls atomic.Int32
	f.mux.HandleFunc("DELETE /subscriptions/s/resourcegroups/rg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", f.URL+"/operationresults/1")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(202)
	})
	f.mux.HandleFunc("GET /operationresults/1", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) < 3 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(202)
			return
		}
		w.WriteHeader(200)
	})
	var state atomic.Int32
	f.mux.HandleFunc("PUT /vault", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Azure-AsyncOperation", f.URL+"/ops/2")
		w.WriteHeader(201)
		fmt.Fprint(w, `{"name":"v","properties":{"provisioningState":"Creating"}}`)
	})
	f.mux.HandleFunc("GET /ops/2", func(w http.ResponseWriter, r *http.Request) {
		if state.Add(1) < 2 {
			fmt.Fprint(w, `{"status":"InProgress"}`)
			return
		}
		fmt.Fprint(w, `{"status":"Succeeded"}`)
	})
	f.mux.HandleFunc("GET /vault", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"name":"v","properties":{"provisioningState":"Succeeded"}}`)
	})
	f.mux.HandleFunc("PUT /failing", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Azure-AsyncOperation", f.URL+"/ops/3")
		w.WriteHeader(202)
	})
	f.mux.HandleFunc("GET /ops/3", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"Failed","error":{"code":"Conflict","message":"name taken"}}`)
	})
	c := f.client(t, "s3cret")
	ctx := context.Background()
	if err := c.ARM().Delete(ctx, "/subscriptions/s/resourcegroups/rg", "2022-09-01"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if polls.Load() != 3 {
		t.Errorf("location polls = %d, want 3", polls.Load())
	}
	body, err := c.ARM().Put(ctx, "/vault", "2024-11-01", map[string]any{"location": "x"})
	if err != nil || !strings.Contains(string(body), `"Succeeded"`) {
		t.Errorf("put = %s, %v; want the final resource", body, err)
	}
	_, err = c.ARM().Put(ctx, "/failing", "2024-11-01", nil)
	var re *ResponseError
	if !errors.As(err, &re) || re.Code != "Conflict" || re.Message != "name taken" {
		t.Errorf("failed operation = %v, want Conflict: name taken", err)
	}
}

func TestVaultChallenge(t *testing.T) {
	f := newFakeServer(t)
	var unauthenticated atomic.Int32
	f.mux.HandleFunc("GET /secrets/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			unauthenticated.Add(1)
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="%s/%s", resource="https://vault.test:%s"`, f.URL, testTenant, mustURL(f.URL).Port()))
			w.WriteHeader(401)
			return
		}
		if bearer(r) != "tok|https://vault.test:"+mustURL(f.URL).Port() {
			w.WriteHeader(403)
			return
		}
		fmt.Fprint(w, `{"value":"v","id":"https://kv.vault.test/secrets/s/1"}`)
	})
	c := f.client(t, "s3cret")
	// The fake serves every host name; point the vault at it.
	v, err := c.VaultAt(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	v.base.Host = "kv.vault.test:" + v.base.Port()
	c.hc.Transport.(*http.Transport).DialContext = dialTo(f.Listener.Addr().String())
	c.hc.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true
	for i := 0; i < 2; i++ {
		if _, err := v.Do(context.Background(), http.MethodGet, "/secrets/s/", nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := unauthenticated.Load(); n != 1 {
		t.Errorf("unauthenticated requests = %d, want 1 (challenge cached)", n)
	}
}

func TestChallengeRejected(t *testing.T) {
	tests := []struct{ name, header, want string }{
		{"resource of another domain", `Bearer authorization="https://idp/` + testTenant + `", resource="https://evil.example"`, "does not match"},
		{"other tenant", `Bearer authorization="https://idp/22222222-2222-2222-2222-222222222222", resource="https://vault.test"`, "tenant"},
		{"no tenant", `Bearer authorization="https://idp", resource="https://vault.test"`, "no tenant"},
		{"not bearer", `Basic realm="x"`, "Bearer"},
	}
	c := &Client{cfg: Config{Credential: &ClientSecretCredential{Tenant: testTenant}}}
	v := Vault{c: c}
	v.base = mustURL("https://kv.vault.test")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.accept(tt.header)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("accept(%q) = %v, want an error mentioning %q", tt.header, err, tt.want)
			}
		})
	}
}

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{`Bearer authorization="https://login/t", resource="https://vault.azure.net"`, map[string]string{"authorization": "https://login/t", "resource": "https://vault.azure.net"}},
		{`Bearer authorization=https://login/t,scope=https://vault.azure.net/.default`, map[string]string{"authorization": "https://login/t", "scope": "https://vault.azure.net/.default"}},
		{`bearer Resource="x"`, map[string]string{"resource": "x"}},
	}
	for _, tt := range tests {
		got, err := ParseChallenge(tt.in)
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("ParseChallenge(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "Bearer", `Bearer a="unterminated`, "Bearer novalue", `Bearer a="x" b="y"`} {
		if _, err := ParseChallenge(bad); err == nil {
			t.Errorf("ParseChallenge(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range []string{`Bearer authorization="https://login/t", resource="https://vault.azure.net"`, `Bearer a=b,c=d`, `Bearer a="x,y"`, `Bearer ="x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		params, err := ParseChallenge(s)
		if err != nil {
			return
		}
		for k := range params {
			if k == "" || k != strings.ToLower(k) {
				t.Fatalf("ParseChallenge(%q) gave key %q", s, k)
			}
		}
	})
}

func FuzzDecodeToken(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","expires_in":3600}`))
	f.Add([]byte(`{"access_token":"a","expires_on":"1700000000"}`))
	f.Add([]byte(`{"access_token":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := decodeToken(b, time.Unix(0, 0))
		if err == nil && tok.Value == "" {
			t.Fatal("decodeToken accepted an empty token")
		}
	})
}

func TestLinksToOtherHostsNotFollowed(t *testing.T) {
	f := newFakeServer(t)
	f.mux.HandleFunc("GET /subscriptions", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"value":[],"nextLink":"https://attacker.example/steal"}`)
	})
	_, err := f.client(t, "s3cret").ARM().List(context.Background(), "/subscriptions", "2022-12-01")
	if err == nil || !strings.Contains(err.Error(), "not following it") {
		t.Errorf("got %v, want a refusal to follow the link", err)
	}
}

func TestSameHost(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"kv.vault.example", "kv.vault.example:443", true},
		{"KV.vault.example:8443", "kv.vault.example:8443", true},
		{"kv.vault.example:8443", "kv.vault.example", false},
		{"other.example", "kv.vault.example", false},
		{"[::1]", "[::1]:443", true},
	}
	for _, tt := range tests {
		if got := SameHost(tt.a, tt.b); got != tt.want {
			t.Errorf("SameHost(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
