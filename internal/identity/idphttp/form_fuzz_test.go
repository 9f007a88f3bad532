package idphttp

import (
	"net/url"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

func TestParseTokenRequest(t *testing.T) {
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}, "scope": {"r/.default"}}.Encode()
	req, err := parseTokenRequest("t", "application/x-www-form-urlencoded; charset=utf-8", "", "", body, false)
	if err != nil {
		t.Fatal(err)
	}
	want := identity.ClientCredentialsRequest{Tenant: "t", ClientID: "c", ClientSecret: "s", Scope: "r/.default"}
	if req != want {
		t.Errorf("got %+v, want %+v", req, want)
	}
	basic := "Basic " + "Yzolc2VjcmV0" // "c:%secret" (a bad escape) must fail
	if _, err := parseTokenRequest("t", "application/x-www-form-urlencoded", basic, "", "grant_type=client_credentials&scope=x", false); !fault.Is(err, fault.Unauthorized) {
		t.Errorf("bad Basic escape: %v", err)
	}
}

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "", "", "grant_type=client_credentials&client_id=c&client_secret=s&scope=https%3A%2F%2Fvault.azure.net%2F.default", false)
	f.Add("application/x-www-form-urlencoded; charset=utf-8", "Basic YzpzZWNyZXQ=", "api-version=1.0", "grant_type=client_credentials&resource=r", true)
	f.Add("application/x-www-form-urlencoded", "", "", "grant_type=client_credentials&grant_type=x", false)
	f.Add("text/plain", "Bearer x", "client_secret=1", "%zz;a=b", false)
	f.Add("application/x-www-form-urlencoded", "", "", "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c&grant_type=client_credentials&client_id=x&scope=a%2F.default+openid", false)
	f.Fuzz(func(t *testing.T, contentType, authorization, query, body string, v1 bool) {
		req, err := parseTokenRequest("tenant", contentType, authorization, query, body, v1)
		if err != nil {
			fe, ok := fault.As(err)
			if !ok || fe.Kind.Status() >= 500 {
				t.Fatalf("parseTokenRequest error %v is not a client error", err)
			}
			if strings.Contains(fe.Message, "\r") || strings.Contains(fe.Message, "\n") {
				t.Fatalf("message carries a line break: %q", fe.Message)
			}
			return
		}
		if req.ClientID == "" || (v1 && req.Resource == "") || (!v1 && strings.TrimSpace(req.Scope) == "") {
			t.Fatalf("accepted an incomplete request: %+v", req)
		}
	})
}
