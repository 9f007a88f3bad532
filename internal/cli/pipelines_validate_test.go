package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRepo lays out files in a temporary repository (with a .git entry) and returns it.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRoot(Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestPipelinesValidateAndExpand(t *testing.T) {
	repo := writeRepo(t, map[string]string{
		"ci/azure-pipelines.yml": `parameters:
- name: env
  values: [dev, prod]
steps:
- template: /templates/steps.yml
  parameters:
    who: ${{ parameters.env }}
`,
		"templates/steps.yml": "parameters:\n- name: who\nsteps:\n- bash: echo ${{ parameters.who }}\n",
		"bad.yml":             "steps:\n- script: x\n  displayname: y\n",
	})
	file := filepath.Join(repo, "ci", "azure-pipelines.yml")

	tests := []struct {
		name     string
		args     []string
		wantErr  bool
		stdout   string
		contains string
	}{
		{"valid", []string{"pipelines", "validate", file}, false,
			"ci/azure-pipelines.yml is valid: 1 stage(s), 1 job(s), 2 step(s)\n", ""},
		{"bad param", []string{"pipelines", "validate", file, "--param", "env=qa"}, true,
			"ci/azure-pipelines.yml:2:9: The 'env' parameter value 'qa' is not one of the allowed values: dev, prod.\n", ""},
		{"unknown key", []string{"pipelines", "validate", filepath.Join(repo, "bad.yml")}, true,
			"bad.yml:3:3: Unexpected value 'displayname'\n", ""},
		{"expand", []string{"pipelines", "expand", file, "--param", "env=prod"}, false, "", "- bash: echo prod\n"},
		{"plan", []string{"pipelines", "validate", "--plan", file}, false, "", `"name": "Bash"`},
		{"bad flag", []string{"pipelines", "validate", file, "--param", "env"}, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, tt.args...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.stdout != "" && stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout, tt.stdout)
			}
			if tt.contains != "" && !strings.Contains(stdout, tt.contains) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tt.contains)
			}
		})
	}
}

func TestPipelinesOutsideRepository(t *testing.T) {
	repo := writeRepo(t, map[string]string{"a/p.yml": "steps: []\n"})
	_, _, err := runCLI(t, "pipelines", "validate", "--repo", filepath.Join(repo, "b"), filepath.Join(repo, "a", "p.yml"))
	if err == nil || !strings.Contains(err.Error(), "not inside the repository") {
		t.Fatalf("err = %v, want a not-inside-the-repository error", err)
	}
}
