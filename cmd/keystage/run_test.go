package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/run/local"
	"github.com/keystage/keystage/internal/task"
)

// newRepo makes a git repository whose azure-pipelines.yml is testdata/run/<name>.
func newRepo(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	src, err := os.ReadFile(filepath.Join("testdata", "run", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "azure-pipelines.yml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.name=Ada", "-c", "user.email=ada@example.com", "add", "."},
		{"-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "-q", "-m", "add the pipeline"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// builtin reports whether the task registry has ref.
func builtin(ref string) bool {
	for _, t := range task.Builtins() {
		if strings.EqualFold(t.Definition().Ref(), ref) {
			return true
		}
	}
	return false
}

// keystage runs the binary's entry point in dir and returns its exit status and output.
func keystage(t *testing.T, ctx context.Context, dir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

func TestRunTutorialPipeline(t *testing.T) {
	repo := newRepo(t, "tutorial.yml")
	work := t.TempDir()
	const secret = "s3cr3t-Value!"

	t.Run("AzureKeyVault@2 fails by default", func(t *testing.T) {
		code, out, errOut := keystage(t, context.Background(), repo, nil, "run", "--workdir", work, "--secret", "SECRET_NAME="+secret)
		if code != 1 {
			t.Errorf("exit %d, want 1\n%s\n%s", code, out, errOut)
		}
		if !builtin("AzureKeyVault@2") {
			if !strings.Contains(errOut, "warning: task AzureKeyVault@2 is not available in Keystage; steps using it will fail (--skip-task AzureKeyVault@2 skips them)") {
				t.Errorf("no up-front warning:\n%s", errOut)
			}
			if !strings.Contains(out, "[Job] ##[error]Task AzureKeyVault@2 is not available in Keystage") {
				t.Errorf("no step error naming the task:\n%s", out)
			}
		}
		if !strings.Contains(out, "[Job] ##[error]") || strings.Contains(out, "[Job] ##[section]Starting: Create file") {
			t.Errorf("the vault step did not fail the job before Create file:\n%s", out)
		}
		if !regexp.MustCompile(`(?m)^  Job +Failed +`).MatchString(out) {
			t.Errorf("summary does not show the job failed:\n%s", out)
		}
	})

	t.Run("--skip-task with --secret standing in for the vault", func(t *testing.T) {
		code, out, errOut := keystage(t, context.Background(), repo, map[string]string{"SECRET_NAME": secret},
			"run", "--workdir", work, "--skip-task", "AzureKeyVault@2", "--secret", "SECRET_NAME")
		if code != 0 {
			t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("the secret appears in the output:\n%s", out)
		}
		for _, want := range []string{
			"[Job] Skipped: Azure Key Vault",
			"[Job] ##[section]Starting: Create file",
			"[Job] echo *** > secret.txt",
			"[Job] ##[section]Starting: Copy file",
			"[Job] ##[section]Starting: Publish Artifact",
			"Run ",
			"Artifacts:\n  drop (1 files) ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// This is the second run in work: run ID 2.
		got, err := os.ReadFile(filepath.Join(work, "_artifacts", "2", "drop", "secret.txt"))
		if err != nil {
			t.Fatalf("artifact drop: %v", err)
		}
		if strings.TrimSpace(string(got)) != secret {
			t.Errorf("secret.txt = %q, want the secret", got)
		}
	})

	t.Run("dry run starts nothing", func(t *testing.T) {
		code, out, errOut := keystage(t, context.Background(), repo, nil, "run", "--dry-run", "--workdir", t.TempDir())
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{"[Job] Would run: Azure Key Vault (AzureKeyVault@2)", "[Job] Would run: Publish Artifact (PublishBuildArtifacts@1)"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestRunFlow(t *testing.T) {
	repo := newRepo(t, "flow.yml")
	work := t.TempDir()
	code, out, errOut := keystage(t, context.Background(), repo, nil, "run", "--workdir", work, "--param", "greeting=hi", "--var", "shared=queue")
	if code != 1 {
		t.Errorf("exit %d, want 1 (Test fails)\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"[Build/Compile amd64] hi amd64 arch=x86_64 version=1.2.1 shared=queue",
		"[Build/Compile arm64] hi arm64 arch=aarch64 version=1.2.1 shared=queue",
		"[Build/Slice 1] slice 1 of 2",
		"[Build/Slice 2] slice 2 of 2",
		"[Build/Flaky] Job SucceededWithIssues",
		"[Build] Stage SucceededWithIssues",
		"[Test] Stage started",
		"[Test/Unit] testing app-aarch64 shared=queue result=Succeeded",
		"[Test/Unit] Job Failed",
		"[Test/Report] unit tests failed",
		"[Test] Stage Failed",
		"[Deploy] Stage Skipped (stage Test ended Failed)",
		"[Cleanup/Tidy] cleaning up",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "never") {
		t.Error("Deploy ran")
	}
	if t.Failed() {
		t.Logf("output:\n%s\n%s", out, errOut)
	}

	t.Run("selection", func(t *testing.T) {
		code, out, errOut := keystage(t, context.Background(), repo, nil, "run", "--workdir", work, "--job", "Build.Slice", "--json")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		started := map[string]bool{}
		var last local.Event
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var e local.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%q: %v", sc.Text(), err)
			}
			if e.Event == "job.started" {
				started[e.DisplayName] = true
			}
			last = e
		}
		if len(started) != 2 || !started["Slice 1"] || !started["Slice 2"] {
			t.Errorf("started %v, want the two slices", started)
		}
		if last.Event != "run.finished" || last.Result != "Succeeded" {
			t.Errorf("last event %+v", last)
		}
	})

	t.Run("list", func(t *testing.T) {
		code, out, _ := keystage(t, context.Background(), repo, nil, "run", "--list")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, re := range []string{
			`(?m)^STAGE +JOB +DISPLAY NAME +DEPENDS ON +STRATEGY +CONDITION$`,
			`(?m)^Build +Compile +- +Plan +matrix \$\[ dependencies.Plan.outputs\['out.legs'\] \] +-$`,
			`(?m)^Build +Slice +- +- +parallel 2 +-$`,
			`(?m)^Cleanup +- +- +Deploy +- +always\(\)$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("list lacks %s:\n%s", re, out)
			}
		}
	})
}

func TestRunCancel(t *testing.T) {
	repo := newRepo(t, "cancel.yml")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(2*time.Second, cancel)
	start := time.Now()
	code, out, errOut := keystage(t, ctx, repo, nil, "run", "--workdir", t.TempDir())
	if code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	if d := time.Since(start); d > 25*time.Second {
		t.Errorf("canceling took %s", d)
	}
	for _, want := range []string{
		"[Long] Canceling: the run was canceled",
		"[Long] cleanup step",
		"[Long] Job Canceled",
		"[After] Job Skipped (the run was canceled)",
		"[Always] always job ran",
		"Canceled in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "[Long] finished\n") || strings.Contains(out, "[After] should not run") {
		t.Error("a canceled step or job ran to the end")
	}
	if t.Failed() {
		t.Logf("output:\n%s\n%s", out, errOut)
	}
}

func TestRunCounters(t *testing.T) {
	repo := newRepo(t, "counter.yml")
	work := t.TempDir()
	for _, want := range []string{"[Job] build 1.0.10 run 1", "[Job] build 1.0.11 run 2"} {
		code, out, errOut := keystage(t, context.Background(), repo, nil, "run", "--workdir", work)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, want output with %q:\n%s\n%s", code, want, out, errOut)
		}
	}
}

func TestRunErrors(t *testing.T) {
	repo := newRepo(t, "tutorial.yml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad var", []string{"--var", "novalue"}, `--var "novalue": want NAME=VALUE`},
		{"unset secret", []string{"--secret", "NOPE_NOT_SET"}, "--secret NOPE_NOT_SET: the environment variable NOPE_NOT_SET is not set"},
		{"unknown task", []string{"--skip-task", "Nope@1"}, "--skip-task Nope@1: no step uses task Nope@1"},
		{"bad task", []string{"--skip-task", "Nope"}, `--skip-task "Nope": want NAME@MAJOR`},
		{"unknown stage", []string{"--stage", "Deploy"}, "--stage Deploy: the pipeline has no stage Deploy"},
		{"missing file", []string{"nope.yml"}, "nope.yml"},
		{"secret file", []string{"--secret-file", "missing.env"}, "--secret-file: open missing.env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := keystage(t, context.Background(), repo, nil, append([]string{"run", "--workdir", t.TempDir()}, tt.args...)...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q, want an error with %q\n%s", code, errOut, tt.want, out)
			}
		})
	}
}

func TestParseSecrets(t *testing.T) {
	vars, err := parseSecrets(strings.NewReader("# comment\nB=two\nexport A='one'\nC=\"line\\nbreak\"\n"), "x.env")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vars {
		if !v.Secret {
			t.Errorf("%s not secret", v.Name)
		}
		got = append(got, v.Name+"="+v.Value)
	}
	if strings.Join(got, "|") != "A=one|B=two|C=line\nbreak" {
		t.Errorf("got %q", got)
	}
	if _, err := parseSecrets(strings.NewReader("A=\"unterminated s3cret"), "x.env"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v: want one that does not quote the value", err)
	}
}

func FuzzParseSecrets(f *testing.F) {
	for _, s := range []string{"A=1\n", "export A='x'\n#c\nB=\"y\\n\"", "=", "A", "A=\"", "A=${B}\nB=$A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vars, err := parseSecrets(strings.NewReader(s), "f.env")
		if err != nil {
			return
		}
		for _, v := range vars {
			if !v.Secret {
				t.Fatalf("%s not secret", v.Name)
			}
		}
	})
}
