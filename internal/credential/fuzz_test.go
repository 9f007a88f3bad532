package credential

import (
	"strings"
	"testing"
)

func FuzzParseEntraError(f *testing.F) {
	for _, s := range []string{
		`{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject 'sc://a/b/c'.\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[700213]}`,
		`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`,
		`{"error_codes":"x"}`, `not json`, ``, `{"error_description":"\nTrace ID:"}`,
	} {
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseEntraError(status, body)
		if e.StatusCode != status {
			t.Fatalf("status %d, want %d", e.StatusCode, status)
		}
		if strings.Contains(e.Description, "Trace ID:") && strings.Contains(string(body), "\nTrace ID:") && !strings.Contains(e.Description, "\\nTrace ID:") {
			t.Fatalf("trace lines kept in %q", e.Description)
		}
		if e.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}

func TestParseEntraError(t *testing.T) {
	e := parseEntraError(401, []byte(`{"error":"invalid_client","error_description":"AADSTS70025: The client 'x' has no configured federated identity credentials.\r\nTrace ID: abc\r\nTimestamp: now","error_codes":[70025]}`))
	if e.AADSTS != 70025 || e.Code != "invalid_client" || e.Description != "AADSTS70025: The client 'x' has no configured federated identity credentials." {
		t.Errorf("parsed %+v", e)
	}
	e = parseEntraError(400, []byte(`{"error":"invalid_scope","error_description":"AADSTS1002012: The provided value for scope x is not valid."}`))
	if e.AADSTS != 1002012 {
		t.Errorf("code from description: %+v", e)
	}
	if e := parseEntraError(502, []byte("<html>")); e.AADSTS != 0 || !strings.Contains(e.Error(), "HTTP 502") {
		t.Errorf("non-JSON body: %+v / %q", e, e.Error())
	}
}
