package cli

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOrgName(t *testing.T) {
	const server = "https://localhost:8443"
	tests := []struct {
		name, value, want string
		wantErr           bool
	}{
		{"name", "fabrikam", "fabrikam", false},
		{"url", "https://localhost:8443/fabrikam", "fabrikam", false},
		{"url with slash", "https://LOCALHOST:8443/fabrikam/", "fabrikam", false},
		{"url with project", "https://localhost:8443/fabrikam/webapp", "fabrikam", false},
		{"other port", "https://localhost:9443/fabrikam", "", true},
		{"other host", "https://dev.azure.com/fabrikam", "", true},
		{"http", "http://localhost:8443/fabrikam", "", true},
		{"no organization", "https://localhost:8443/", "", true},
		{"path as name", "fabrikam/webapp", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := orgName(tt.value, server)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("orgName(%q) = %q, %v; want %q, error %v", tt.value, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if got, err := orgName("https://example.com/org", "https://example.com:443"); err != nil || got != "org" {
		t.Errorf("the default port: %q, %v", got, err)
	}
}

func FuzzOrgName(f *testing.F) {
	for _, s := range []string{"fabrikam", "https://localhost:8443/fabrikam", "https://[::1]:8443/x", "https://localhost:8443", "%zz://", "https://localhost:8443/a%2Fb/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		name, err := orgName(value, "https://localhost:8443")
		if err == nil && (name == "" || strings.Contains(name, "/")) {
			t.Errorf("orgName(%q) = %q without error", value, name)
		}
	})
}

func TestRepositoryOf(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, repo, typ, wantType, wantURL string
		wantErr                            bool
	}{
		{"https url", "https://example.com/r.git", "", "git", "https://example.com/r.git", false},
		{"scp url", "git@example.com:r.git", "", "git", "git@example.com:r.git", false},
		{"github url", "https://github.com/o/r", "github", "github", "https://github.com/o/r", false},
		{"directory", dir, "", "local", dir, false},
		{"directory as git", dir, "git", "git", "file://" + filepath.ToSlash(dir), false},
		{"directory with other type", dir, "tfsgit", "", "", true},
		{"missing directory", filepath.Join(dir, "nope"), "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, u, err := repositoryOf(tt.repo, tt.typ)
			if (err != nil) != tt.wantErr || typ != tt.wantType || u != tt.wantURL {
				t.Errorf("repositoryOf(%q, %q) = %q, %q, %v; want %q, %q, error %v", tt.repo, tt.typ, typ, u, err, tt.wantType, tt.wantURL, tt.wantErr)
			}
		})
	}
}

func TestAzureRMScheme(t *testing.T) {
	for in, want := range map[string]string{"": schemeWIF, "workloadidentityfederation": schemeWIF,
		"SERVICEPRINCIPAL": schemeServicePrincipal, "ManagedServiceIdentity": schemeManagedIdentity} {
		if got, err := azureRMScheme(in); err != nil || got != want {
			t.Errorf("azureRMScheme(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := azureRMScheme("Certificate"); err == nil {
		t.Error("an unknown scheme was accepted")
	}
}

func TestArtifactEntryPath(t *testing.T) {
	tests := []struct {
		entry, want string
		ok          bool
	}{
		{"drop/secret.txt", "secret.txt", true},
		{"drop/", "", true},
		{"drop", "", true},
		{"drop/sub/a.txt", "sub/a.txt", true},
		{"other/a.txt", "other/a.txt", true},
		{"drop/../../etc/passwd", "", false},
		{"../x", "", false},
		{"/etc/passwd", "", false},
		{`drop\..\x`, "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := artifactEntryPath(tt.entry, "drop")
		if got != tt.want || ok != tt.ok {
			t.Errorf("artifactEntryPath(%q) = %q, %v; want %q, %v", tt.entry, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzArtifactEntryPath(f *testing.F) {
	for _, s := range []string{"drop/a", "../a", "/a", "drop/../a", "a//b/./c", `a\b`, "drop"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		rel, ok := artifactEntryPath(entry, "drop")
		if !ok {
			return
		}
		if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") {
			t.Errorf("artifactEntryPath(%q) = %q escapes the directory", entry, rel)
		}
	})
}

// writeZip writes a zip of the named entries (a name ending in / is a directory).
func writeZip(t *testing.T, entries map[string]string, symlink string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	if symlink != "" {
		h := &zip.FileHeader{Name: symlink}
		h.SetMode(os.ModeSymlink | 0o777)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("/etc"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "a.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExtractArtifact(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	z := writeZip(t, map[string]string{"drop/": "", "drop/secret.txt": "value\n", "drop/sub/b.txt": "b"}, "")
	if err := extractArtifact(z, "drop", dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"secret.txt": "value\n", "sub/b.txt": "b"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	for name, z := range map[string]string{
		"escaping entry": writeZip(t, map[string]string{"drop/../../escaped.txt": "x"}, ""),
		"symbolic link":  writeZip(t, nil, "drop/link"),
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			if err := extractArtifact(z, "drop", out); err == nil {
				t.Error("extracted without error")
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(out), "escaped.txt")); err == nil {
				t.Error("a file was written outside the directory")
			}
		})
	}
}
