package devopshttp

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/fault"
)

// apiVersion is a parsed api-version: "7.1", "7.1-preview", "7.1-preview.4".
type apiVersion struct {
	Major, Minor int
	Preview      bool
	// Resource is the preview's resource version (the 4 of -preview.4); 0 when absent.
	Resource int
}

func (v apiVersion) String() string {
	s := strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
	if v.Preview {
		s += "-preview"
		if v.Resource > 0 {
			s += "." + strconv.Itoa(v.Resource)
		}
	}
	return s
}

func (v apiVersion) less(o apiVersion) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	return v.Minor < o.Minor
}

// parseAPIVersion parses "major.minor[-preview[.resource]]" (the preview suffix in any
// case). Numbers are plain decimals without leading zeros beyond "0" and at most 4 digits.
func parseAPIVersion(s string) (apiVersion, bool) {
	num, rest, hasPreview := strings.Cut(s, "-")
	var v apiVersion
	major, minor, ok := strings.Cut(num, ".")
	if !ok {
		return apiVersion{}, false
	}
	if v.Major, ok = smallInt(major); !ok {
		return apiVersion{}, false
	}
	if v.Minor, ok = smallInt(minor); !ok {
		return apiVersion{}, false
	}
	if !hasPreview {
		return v, true
	}
	word, res, hasRes := strings.Cut(rest, ".")
	if !strings.EqualFold(word, "preview") {
		return apiVersion{}, false
	}
	v.Preview = true
	if hasRes {
		if v.Resource, ok = smallInt(res); !ok || v.Resource == 0 {
			return apiVersion{}, false
		}
	}
	return v, true
}

func smallInt(s string) (int, bool) {
	if s == "" || len(s) > 4 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// requestedVersion returns the api-version of r and whether one was given. The Go client
// sends it only in Accept ("application/json;api-version=7.1-preview.4"); curl, tasks and
// azidentity send ?api-version=. When both are present and differ, the query wins: it is
// what a person typed (Azure DevOps' precedence is unverified).
func requestedVersion(r *http.Request) (apiVersion, bool, error) {
	raw := ""
	if q := r.URL.Query()["api-version"]; len(q) > 0 {
		if len(q) > 1 {
			return apiVersion{}, false, invalidVersion("api-version is given more than once")
		}
		raw = q[0]
	} else {
		raw = acceptVersion(r.Header.Values("Accept"))
	}
	if raw == "" {
		return apiVersion{}, false, nil
	}
	v, ok := parseAPIVersion(strings.TrimSpace(raw))
	if !ok {
		return apiVersion{}, false, invalidVersion("the api-version " + strconv.Quote(clip(raw)) + " is not valid; use a version such as 7.1 or 7.1-preview.1")
	}
	return v, true, nil
}

// acceptVersion returns the api-version parameter of the first Accept media range that
// has one.
func acceptVersion(accepts []string) string {
	for _, a := range accepts {
		for _, part := range strings.Split(a, ",") {
			_, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if v, ok := params["api-version"]; ok {
				return v
			}
		}
	}
	return ""
}

// checkVersion applies the location's version range to the request. Without a version,
// reads default to the latest and writes are refused, as Azure DevOps does.
func checkVersion(loc *Location, r *http.Request) (apiVersion, error) {
	v, given, err := requestedVersion(r)
	if err != nil {
		return apiVersion{}, err
	}
	if loc == nil {
		return v, nil
	}
	minV, _ := parseAPIVersion(loc.MinVersion)
	maxV, _ := parseAPIVersion(loc.MaxVersion)
	released, _ := parseAPIVersion(loc.ReleasedVersion)
	if !given {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return apiVersion{Major: maxV.Major, Minor: maxV.Minor, Preview: released.less(maxV), Resource: loc.ResourceVersion}, nil
		}
		return apiVersion{}, fault.New(fault.BadRequest, "VssVersionNotSpecifiedException",
			"No api-version was supplied for the %s request. Please specify an api-version, for example api-version=%s.", r.Method, loc.ReleasedVersion)
	}
	if v.less(minV) || maxV.less(v) {
		return apiVersion{}, fault.New(fault.BadRequest, "VssVersionOutOfRangeException",
			"The requested REST API version of %d.%d is out of range for this server. The latest REST API version this server supports is %s.", v.Major, v.Minor, loc.MaxVersion)
	}
	if !v.Preview && released.less(v) {
		return apiVersion{}, fault.New(fault.BadRequest, "VssInvalidPreviewVersionException",
			"The requested version %q of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: %q", v.String(), v.String()+"-preview")
	}
	if v.Preview && v.Resource == 0 {
		v.Resource = loc.ResourceVersion
	}
	return v, nil
}

func invalidVersion(msg string) error {
	return fault.New(fault.BadRequest, "VssInvalidApiVersionException", "%s.", msg)
}

func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
