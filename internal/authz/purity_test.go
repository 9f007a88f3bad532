package authz

import (
	"go/build"
	"slices"
	"testing"
)

// TestPure keeps the package pure: no I/O, storage, clock, network or logging may creep in,
// so the management and data planes can share every decision and tests need no fixtures.
func TestPure(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		"errors", "fmt", "slices", "strconv", "strings", "unicode", "unicode/utf8",
		"github.com/keystage/keystage/internal/fault",
	}
	for _, imp := range pkg.Imports {
		if !slices.Contains(allowed, imp) {
			t.Errorf("authz imports %q; it must stay pure (allowed: %v)", imp, allowed)
		}
	}
}
