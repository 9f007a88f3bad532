package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// serverInternals are the packages the CLI and its client must never import: they talk
// to the server only through its public HTTP API (STYLE.md).
var serverInternals = []string{
	"internal/server", "internal/identity", "internal/arm", "internal/keyvault", "internal/authz",
	"internal/storage", "internal/barrier", "internal/pki", "internal/graph", "internal/devops",
	"internal/fault", "internal/requestid",
}

// TestImportBoundary fails when internal/cli or internal/client depends, directly or
// not, on a server package, in the spirit of tailscale's tstest/deptest.
func TestImportBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/keystage/keystage/"
	for _, pkg := range []string{"internal/cli", "internal/client"} {
		out, err := exec.Command("go", "list", "-deps", "-test=false", module+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			rel, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			for _, bad := range serverInternals {
				if rel == bad || strings.HasPrefix(rel, bad+"/") {
					t.Errorf("%s imports %s: the CLI reaches the server only through internal/client and the public HTTP API", pkg, rel)
				}
			}
		}
	}
}
