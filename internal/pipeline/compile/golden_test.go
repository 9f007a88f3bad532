package compile

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/keystage/keystage/internal/pipeline/expand"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenCase is testdata/<case>/_case.yml: how to compile the case.
type goldenCase struct {
	// Root is the pipeline file; azure-pipelines.yml when empty.
	Root       string            `yaml:"root"`
	Parameters map[string]string `yaml:"parameters"`
	Variables  map[string]string `yaml:"variables"`
	// Source names where the case comes from (a Microsoft doc, for example).
	Source string `yaml:"source"`
}

// Golden files of a case: expanded.yml.golden (the expanded YAML, absent when expansion
// fails), plan.json.golden (absent when compilation fails) and diagnostics.golden.
const (
	expandedGolden    = "expanded.yml.golden"
	planGolden        = "plan.json.golden"
	diagnosticsGolden = "diagnostics.golden"
	caseFile          = "_case.yml"
)

func TestGolden(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "fuzz" {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", d.Name())
			fsys, c := loadCase(t, dir)
			opts := Options{Parameters: c.Parameters, Variables: c.Variables}

			res, xdiags := expand.Expand(fsys, c.Root, expand.Options{Parameters: c.Parameters, Variables: c.Variables})
			var expanded []byte
			if res != nil {
				if expanded, err = syntax.Encode(res.Pipeline); err != nil {
					t.Fatal(err)
				}
			}
			p, diags, cerr := Compile(fsys, c.Root, opts)
			if (cerr != nil) != syntax.Diagnostics(diags).HasErrors() {
				t.Errorf("Compile error %v does not match diagnostics %v", cerr, diags)
			}
			if res == nil && p != nil {
				t.Errorf("Compile gave a plan though expansion failed: %v", xdiags)
			}
			var planJSON []byte
			if p != nil {
				if planJSON, err = json.MarshalIndent(p, "", "  "); err != nil {
					t.Fatal(err)
				}
				planJSON = append(planJSON, '\n')
			}
			var text strings.Builder
			for _, d := range diags {
				text.WriteString(d.String() + "\n")
			}
			checkGolden(t, filepath.Join(dir, expandedGolden), expanded)
			checkGolden(t, filepath.Join(dir, planGolden), planJSON)
			checkGolden(t, filepath.Join(dir, diagnosticsGolden), []byte(text.String()))
		})
	}
}

// loadCase reads a case directory into an in-memory repository.
func loadCase(t *testing.T, dir string) (fstest.MapFS, goldenCase) {
	t.Helper()
	var c goldenCase
	fsys := fstest.MapFS{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case rel == caseFile:
			return yaml.Unmarshal(data, &c)
		case strings.HasSuffix(rel, ".golden"):
			return nil
		}
		fsys[rel] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Root == "" {
		c.Root = "azure-pipelines.yml"
	}
	return fsys, c
}

// checkGolden compares got with a golden file; empty got means the file must not exist.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if len(got) == 0 {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		want, err = nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}
