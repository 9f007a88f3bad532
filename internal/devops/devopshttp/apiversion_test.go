package devopshttp

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/fault"
)

func TestParseAPIVersion(t *testing.T) {
	tests := []struct {
		in   string
		want apiVersion
		ok   bool
	}{
		{"7.1", apiVersion{Major: 7, Minor: 1}, true},
		{"7.1-preview", apiVersion{Major: 7, Minor: 1, Preview: true}, true},
		{"7.1-preview.4", apiVersion{Major: 7, Minor: 1, Preview: true, Resource: 4}, true},
		{"5.0-PREVIEW.2", apiVersion{Major: 5, Minor: 0, Preview: true, Resource: 2}, true},
		{"0.0", apiVersion{}, true},
		{"7", apiVersion{}, false},
		{"7.", apiVersion{}, false},
		{".1", apiVersion{}, false},
		{"7.1.2", apiVersion{}, false},
		{"07.1", apiVersion{}, false},
		{"7.1-beta", apiVersion{}, false},
		{"7.1-preview.0", apiVersion{}, false},
		{"7.1-preview.", apiVersion{}, false},
		{"7.1-preview.x", apiVersion{}, false},
		{"99999.1", apiVersion{}, false},
		{"+7.1", apiVersion{}, false},
		{"", apiVersion{}, false},
	}
	for _, tc := range tests {
		got, ok := parseAPIVersion(tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("parseAPIVersion(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && got.String() != strings.Replace(strings.ToLower(tc.in), "preview", "preview", 1) && !strings.EqualFold(got.String(), tc.in) {
			t.Errorf("%q round-trips as %q", tc.in, got.String())
		}
	}
}

func TestCheckVersion(t *testing.T) {
	l := loc("603fe2ac-9723-48b9-88ad-09305aa6c6e1", "core", "projects", "_apis/projects", 4, "projects")
	tests := []struct {
		name, method, query, accept string
		want                        string
		code                        string
	}{
		{"Go client accept", "GET", "", "application/json;api-version=7.1-preview.4", "7.1-preview.4", ""},
		{"query", "GET", "api-version=7.1", "", "7.1", ""},
		{"query wins over accept", "GET", "api-version=6.0", "application/json;api-version=7.1-preview.4", "6.0", ""},
		{"az 5.0", "POST", "api-version=5.0", "", "5.0", ""},
		{"preview without resource gets the location's", "GET", "api-version=7.1-preview", "", "7.1-preview.4", ""},
		{"accept list", "GET", "", "text/plain, application/json; api-version=7.0", "7.0", ""},
		{"default for reads", "GET", "", "application/json", "7.2-preview.4", ""},
		{"writes need a version", "POST", "", "application/json", "", "VssVersionNotSpecifiedException"},
		{"too new", "GET", "api-version=8.0", "", "", "VssVersionOutOfRangeException"},
		{"too old", "GET", "api-version=0.9", "", "", "VssVersionOutOfRangeException"},
		{"preview flag needed", "GET", "api-version=7.2", "", "", "VssInvalidPreviewVersionException"},
		{"malformed", "GET", "api-version=seven", "", "", "VssInvalidApiVersionException"},
		{"twice", "GET", "api-version=7.1&api-version=7.0", "", "", "VssInvalidApiVersionException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/o/_apis/projects?"+tc.query, nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			got, err := checkVersion(&l, r)
			if tc.code != "" {
				fe, _ := fault.As(err)
				if err == nil || fe.Code != tc.code || fe.Kind != fault.BadRequest {
					t.Fatalf("checkVersion = %v, %v; want %s", got, err, tc.code)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("checkVersion = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func FuzzParseAPIVersion(f *testing.F) {
	for _, s := range []string{"7.1", "7.1-preview", "7.1-preview.4", "5.0-preview.2", "0.0", "7", "1.2.3", "7.1-preview.", "-preview"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseAPIVersion(s)
		if !ok {
			return
		}
		again, ok2 := parseAPIVersion(v.String())
		if !ok2 || again != v {
			t.Fatalf("%q parsed to %+v, whose String %q parses to %+v, %v", s, v, v.String(), again, ok2)
		}
		if v.Major > 9999 || v.Minor > 9999 || v.Resource > 9999 || !v.Preview && v.Resource != 0 {
			t.Fatalf("%q parsed to out-of-range %+v", s, v)
		}
	})
}

func FuzzAcceptVersion(f *testing.F) {
	for _, s := range []string{"application/json;api-version=7.1-preview.4", "application/json", "*/*, application/json; api-version=5.0", `a/b;api-version="7.1"`, ";;;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		r := httptest.NewRequest("GET", "/o/_apis", nil)
		r.Header.Set("Accept", accept)
		v, given, err := requestedVersion(r)
		if err != nil && given {
			t.Fatalf("error %v with a version %+v", err, v)
		}
	})
}
