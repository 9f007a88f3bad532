package kvhttp

import (
	"net/url"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/keyvault"
)

// DefaultAPIVersion is what error messages suggest: the default of azsecrets v1.5.1.
const DefaultAPIVersion = "2026-04-01"

// validAPIVersion reports whether v is an api-version Keystage serves:
//
//   - 7.0 to 7.6, optionally with a "-preview" or "-preview.N" suffix (7.6-preview.2);
//   - any real calendar date YYYY-MM-DD from 2014 on, optionally with "-preview": the dated
//     versions (2016-10-01, which the AzureKeyVault@2 task sends, 2025-07-01, 2026-04-01)
//     and the ones SDKs will send next.
//
// Every accepted version gets the same wire format: later versions only added fields,
// which older clients ignore.
func validAPIVersion(v string) bool {
	if len(v) > 32 {
		return false
	}
	if rest, ok := strings.CutPrefix(v, "7."); ok {
		if len(rest) == 0 || rest[0] < '0' || rest[0] > '6' {
			return false
		}
		return validPreviewSuffix(rest[1:], true)
	}
	if len(v) < 10 {
		return false
	}
	date, suffix := v[:10], v[10:]
	return validDate(date) && validPreviewSuffix(suffix, false)
}

// validDate reports whether s is a calendar date YYYY-MM-DD from 2014 on. (It runs on every
// request; time.Parse would cost more than the rest of the api-version check.)
func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	num := func(part string) int {
		n := 0
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[:4]), num(s[5:7]), num(s[8:])
	if year < 2014 || month < 1 || month > 12 || day < 1 {
		return false
	}
	return day <= time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// validPreviewSuffix accepts "", "-preview" and, when numbered is set, "-preview.N".
func validPreviewSuffix(s string, numbered bool) bool {
	if s == "" || s == "-preview" {
		return true
	}
	n, ok := strings.CutPrefix(s, "-preview.")
	if !ok || !numbered || n == "" || len(n) > 3 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// checkAPIVersion returns the 400 for a missing or malformed api-version.
func checkAPIVersion(v string, present bool) error {
	if !present || v == "" {
		return keyvault.BadParameter("The api-version query parameter is missing. Every Key Vault request needs one, such as api-version=%s.", DefaultAPIVersion)
	}
	if !validAPIVersion(v) {
		return keyvault.BadParameter("The specified api-version %q is not supported. Use 7.0 to 7.6 or a dated version such as %s.", clip(v), DefaultAPIVersion)
	}
	return nil
}

// queryValue returns the first value of key in a raw query string, unescaped, without
// building the whole url.Values map (this runs on every request).
func queryValue(rawQuery, key string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			if !strings.ContainsRune(k, '%') {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		}
		if !strings.ContainsAny(v, "%+") {
			return v, true
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			return v, true // present but undecodable: validation rejects it as given
		}
		return uv, true
	}
	return "", false
}

func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
