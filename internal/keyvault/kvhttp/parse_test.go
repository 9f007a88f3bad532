package kvhttp

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
)

func TestValidAPIVersion(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"7.0", true}, {"7.1", true}, {"7.2", true}, {"7.3", true}, {"7.4", true}, {"7.5", true}, {"7.6", true},
		{"7.6-preview.2", true}, {"7.3-preview", true}, {"7.4-preview.1", true},
		{"2016-10-01", true}, {"2025-07-01", true}, {"2026-04-01", true}, {"2026-07-01-preview", true},
		{"2031-12-31", true}, {"2015-06-01", true}, {"2024-02-29", true}, {"2025-02-29", false}, {"2100-02-29", false},
		{"", false}, {"7", false}, {"7.", false}, {"7.7", false}, {"8.0", false}, {"7.10", false},
		{"7.6-preview.", false}, {"7.6-preview.x", false}, {"7.6-beta", false}, {"7.6 ", false},
		{"2026-02-30", false}, {"2026-13-01", false}, {"2013-01-01", false}, {"26-04-01", false},
		{"2026-04-01-preview.1", false}, {"2026-04-01x", false}, {"2026/04/01", false},
		{strings.Repeat("7", 40), false},
	}
	for _, tt := range tests {
		if got := validAPIVersion(tt.v); got != tt.want {
			t.Errorf("validAPIVersion(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestQueryValue(t *testing.T) {
	tests := []struct {
		raw, key, want string
		ok             bool
	}{
		{"api-version=7.5", "api-version", "7.5", true},
		{"a=1&api-version=2026-04-01&b=2", "api-version", "2026-04-01", true},
		{"api%2Dversion=7.4", "api-version", "7.4", true},
		{"api-version=7%2E4", "api-version", "7.4", true},
		{"api-version", "api-version", "", true},
		{"api-versions=1", "api-version", "", false},
		{"", "api-version", "", false},
		{"$skiptoken=abc&maxresults=3", "$skiptoken", "abc", true},
		{"%24skiptoken=abc", "$skiptoken", "abc", true},
		{"api-version=%zz", "api-version", "%zz", true},
	}
	for _, tt := range tests {
		got, ok := queryValue(tt.raw, tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("queryValue(%q, %q) = %q, %v; want %q, %v", tt.raw, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseRoute(t *testing.T) {
	const v = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		method, path string
		want         route
		wantKind     fault.Kind // when an error is expected
	}{
		{"GET", "/secrets", route{op: authz.SecretList}, 0},
		{"GET", "/secrets/", route{op: authz.SecretList}, 0},
		{"PUT", "/secrets/n", route{op: authz.SecretSet, name: "n"}, 0},
		{"PUT", "/secrets/n/", route{op: authz.SecretSet, name: "n"}, 0},
		{"GET", "/secrets/n/", route{op: authz.SecretGet, name: "n"}, 0},
		{"GET", "/secrets/n", route{op: authz.SecretGet, name: "n"}, 0},
		{"GET", "//secrets//n//", route{op: authz.SecretGet, name: "n"}, 0},
		{"GET", "/Secrets/n/" + v, route{op: authz.SecretGet, name: "n", version: v}, 0},
		{"PATCH", "/secrets/n/", route{op: authz.SecretUpdate, name: "n"}, 0},
		{"PATCH", "/secrets/n/" + v, route{op: authz.SecretUpdate, name: "n", version: v}, 0},
		{"DELETE", "/secrets/n", route{op: authz.SecretDelete, name: "n"}, 0},
		{"GET", "/secrets/n/versions", route{op: authz.SecretListVersions, name: "n"}, 0},
		{"POST", "/secrets/n/backup", route{op: authz.SecretBackup, name: "n"}, 0},
		{"POST", "/secrets/restore", route{op: authz.SecretRestore}, 0},
		{"GET", "/secrets/restore", route{op: authz.SecretGet, name: "restore"}, 0},
		{"PUT", "/secrets/restore", route{op: authz.SecretSet, name: "restore"}, 0},
		{"GET", "/deletedsecrets", route{op: authz.SecretListDeleted}, 0},
		{"GET", "/deletedsecrets/n", route{op: authz.SecretGetDeleted, name: "n"}, 0},
		{"DELETE", "/deletedsecrets/n", route{op: authz.SecretPurge, name: "n"}, 0},
		{"POST", "/deletedsecrets/n/recover", route{op: authz.SecretRecover, name: "n"}, 0},
		{"GET", "/secrets/a%2Fb", route{op: authz.SecretGet, name: "a/b"}, 0},
		{"GET", "/", route{}, fault.NotFound},
		{"GET", "/other", route{}, fault.NotFound},
		{"GET", "/secrets/a/b/c", route{}, fault.NotFound},
		{"GET", "/secrets/%zz", route{}, fault.BadRequest},
		{"POST", "/secrets", route{}, fault.BadRequest},
		{"POST", "/secrets/n", route{}, fault.BadRequest},
		{"PUT", "/secrets/n/" + v, route{}, fault.BadRequest},
		{"GET", "/deletedsecrets/n/recover", route{}, fault.BadRequest},
		{"GET", "/deletedsecrets/n/other", route{}, fault.NotFound},
		{"GET", "/keys/k", route{}, fault.NotImplemented},
		{"GET", "/certificates", route{}, fault.NotImplemented},
	}
	for _, tt := range tests {
		got := parseRoute(tt.method, tt.path)
		if tt.wantKind != 0 {
			if !fault.Is(got.err, tt.wantKind) {
				t.Errorf("%s %s: err %v, want kind %d", tt.method, tt.path, got.err, tt.wantKind)
			}
			continue
		}
		if got.err != nil || got.op != tt.want.op || got.name != tt.want.name || got.version != tt.want.version {
			t.Errorf("%s %s = %+v, want %+v", tt.method, tt.path, got, tt.want)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/secrets", "/secrets/n/", "/secrets/n/versions", "//secrets//n", "/deletedsecrets/n/recover", "/secrets/a%2F..%2Fb", "/keys/x", "/%zz"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		r := parseRoute(method, path)
		if r.err == nil && r.op == 0 {
			t.Fatalf("%s %q: no operation and no error", method, path)
		}
		if r.err != nil {
			if fe, ok := fault.As(r.err); !ok || fe.Kind == fault.Internal {
				t.Fatalf("%s %q: unclassified error %v", method, path, r.err)
			}
		}
	})
}

func FuzzAPIVersion(f *testing.F) {
	for _, s := range []string{"7.0", "7.6-preview.2", "2016-10-01", "2026-04-01", "2026-07-01-preview", "", "7.7", "2026-02-30", "2024-02-29", "2013-12-31", "0000-00-00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ok := validAPIVersion(v)
		err := checkAPIVersion(v, true)
		if ok != (err == nil) {
			t.Fatalf("validAPIVersion(%q) = %v but checkAPIVersion says %v", v, ok, err)
		}
		if err != nil && !fault.Is(err, fault.BadRequest) {
			t.Fatalf("checkAPIVersion(%q) = %v, want a 400", v, err)
		}
		if d, perr := time.Parse(time.DateOnly, v); (perr == nil && d.Year() >= 2014) != validDate(v) {
			t.Fatalf("validDate(%q) = %v, time.Parse says %v %v", v, validDate(v), d, perr)
		}
	})
}

// FuzzRequestBody sends arbitrary bodies to set, update and restore: the answer is never a
// 5xx, and a 200 set stores exactly one more version.
func FuzzRequestBody(f *testing.F) {
	e := newEnv(f, Throttle{Disabled: true})
	e.doJSON("PUT", "/secrets/fz"+api, map[string]string{"value": "v"}, 200)
	seeds := []string{
		`{"value":"v"}`, `{"value":"v","contentType":"c","tags":{"a":"b"},"attributes":{"enabled":false,"nbf":1,"exp":2}}`,
		`{"value":null}`, `{"value":"\u0000"}`, `{}`, `[]`, `null`, `"x"`, `{"value":"v"}x`, `{"tags":null}`,
		`{"attributes":{"exp":-1}}`, `{"attributes":{"exp":1e400}}`, `{"value":"` + strings.Repeat("x", 300) + `"}`,
	}
	for _, s := range seeds {
		f.Add(uint8(0), []byte(s))
		f.Add(uint8(1), []byte(s))
		f.Add(uint8(2), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		method, target := "PUT", "/secrets/fz"
		switch which % 3 {
		case 1:
			method, target = "PATCH", "/secrets/fz/"
		case 2:
			method, target = "POST", "/secrets/restore"
		}
		req := httptest.NewRequest(method, "https://"+testHost+target+api, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d %s", method, target, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK && !bytes.Contains(rec.Body.Bytes(), []byte(`"code"`)) {
			t.Fatalf("error without a code: %s", rec.Body)
		}
	})
}

func TestParseThrottle(t *testing.T) {
	tests := []struct {
		in      string
		want    Throttle
		wantErr bool
	}{
		{"", Throttle{}, false},
		{"azure", Throttle{}, false},
		{"off", Throttle{Disabled: true}, false},
		{"4000/300", Throttle{Transactions: 4000, Creates: 300}, false},
		{"10/2/1s", Throttle{Transactions: 10, Creates: 2, Window: time.Second}, false},
		{"10", Throttle{}, true},
		{"0/1", Throttle{}, true},
		{"1/x", Throttle{}, true},
		{"1/1/-1s", Throttle{}, true},
		{"1/1/1s/1", Throttle{}, true},
	}
	for _, tt := range tests {
		got, err := ParseThrottle(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseThrottle(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
