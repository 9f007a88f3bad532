package devops

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzNames checks the name and path validators never panic and that what they accept
// keeps their promises.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"fabrikam", "-x", "Fabrikam Fiber", "a/b", "..", `\a\..\b`, "/azure-pipelines.yml",
		"../x.yml", "git@github.com:o/r.git", "https://x/y.git", "file:///srv", "vso.build_execute app_token", "2.*", "main",
		"0f8fad5b-d9cb-469f-a165-70867728950e", "\x00", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validOrgName(s) && (len(s) > 50 || strings.ContainsAny(s, "/_ .")) {
			t.Fatalf("organization name %q accepted", s)
		}
		if checkProjectName(s) == nil && (strings.ContainsAny(s, `/\:`) || strings.HasPrefix(s, "_")) {
			t.Fatalf("project name %q accepted", s)
		}
		if p, err := normalizeYAMLPath(s); err == nil {
			if strings.HasPrefix(p, "/") || p == "" || strings.Contains("/"+p+"/", "/../") {
				t.Fatalf("normalizeYAMLPath(%q) = %q", s, p)
			}
		}
		folder := normalizeFolder(s)
		if normalizeFolder(folder) != folder || !strings.HasPrefix(folder, `\`) {
			t.Fatalf("normalizeFolder(%q) = %q is not stable", s, folder)
		}
		if checkFolder(folder) == nil && strings.Contains(folder+`\`, `\..\`) {
			t.Fatalf("folder %q with .. accepted", folder)
		}
		if err := checkGitURL(s); err == nil && strings.ContainsAny(s, " \n\t\x00") {
			t.Fatalf("git url %q accepted", s)
		}
		if scopes, err := parseScopes(s); err == nil {
			for _, sc := range scopes {
				if !strings.HasPrefix(sc, "vso.") || sc != strings.ToLower(sc) {
					t.Fatalf("scope %q from %q", sc, s)
				}
			}
		}
		if v, ok := ParseVersionSpec(s); ok {
			if back, ok := ParseVersionSpec(strconv.Itoa(v)); !ok || back != v {
				t.Fatalf("version %q -> %d does not round-trip", s, v)
			}
		}
		if b := NormalizeBranch(s); s != "" && !strings.HasPrefix(b, "refs/") {
			t.Fatalf("NormalizeBranch(%q) = %q", s, b)
		}
	})
}
