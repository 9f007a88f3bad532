package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/task"
)

func taskStep(name string, version int, inputs map[string]string) plan.Step {
	return plan.Step{Task: plan.Task{Name: name, Version: version}, Inputs: inputs, Enabled: true}
}

// tree lists the files below dir as slash paths.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

const makeTree = "mkdir -p src/a/b src/.git\necho 1 > src/one.txt\necho 2 > src/a/two.txt\necho 3 > src/a/b/three.md\necho 4 > src/.git/config\necho 5 > src/a/.env"

func TestCopyFiles(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string
		want   []string
	}{
		{"all files with dot files", map[string]string{"SourceFolder": "src", "TargetFolder": "out"}, []string{".git/config", "a/.env", "a/b/three.md", "a/two.txt", "one.txt"}},
		{"patterns with exclusion", map[string]string{"SourceFolder": "src", "Contents": "**/*.txt\n**/*.md\n!a/b/**", "TargetFolder": "out"}, []string{"a/two.txt", "one.txt"}},
		{"flatten", map[string]string{"SourceFolder": "src", "Contents": "**/*.txt\n**/*.md", "TargetFolder": "out", "flattenFolders": "true"}, []string{"one.txt", "three.md", "two.txt"}},
		{"clean target", map[string]string{"SourceFolder": "src", "Contents": "one.txt", "TargetFolder": "out", "CleanTargetFolder": "true"}, []string{"one.txt"}},
		{"no match leaves target alone", map[string]string{"SourceFolder": "src", "Contents": "*.none", "TargetFolder": "out", "CleanTargetFolder": "true"}, []string{"stale.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			rep, rec := f.run(context.Background(), f.request([]plan.Step{
				script(makeTree + "\nmkdir -p out\necho old > out/stale.txt"),
				taskStep("CopyFiles", 2, tt.inputs),
			}))
			wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
			got := tree(t, filepath.Join(f.work, "1", "s", "out"))
			want := tt.want
			if tt.inputs["CleanTargetFolder"] != "true" {
				want = append(append([]string(nil), want...), "stale.txt")
				sort.Strings(want)
				want = dedupe(want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("target mismatch (-want +got):\n%s\nlog:\n%s", diff, rec.log(1))
			}
		})
	}
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func TestCopyFilesOverwriteAndErrors(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script(makeTree + "\nmkdir -p out/a\necho old > out/one.txt\nmkdir -p out/a/two.txt"),
		taskStep("CopyFiles", 2, map[string]string{"SourceFolder": "src", "Contents": "one.txt", "TargetFolder": "out"}),
		taskStep("CopyFiles", 2, map[string]string{"SourceFolder": "src", "Contents": "one.txt", "TargetFolder": "out", "OverWrite": "true"}),
		script("cat out/one.txt"),
		taskStep("CopyFiles", 2, map[string]string{"SourceFolder": "src", "Contents": "a/two.txt", "TargetFolder": "out"}),
		withCond("always()", taskStep("CopyFiles", 2, map[string]string{"SourceFolder": "missing", "TargetFolder": "out"})),
		withCond("always()", taskStep("CopyFiles", 2, map[string]string{"SourceFolder": "src"})),
	}))
	wantResults(t, rep, "Failed [Succeeded Succeeded Succeeded Succeeded Failed Failed Failed]")
	wantContains(t, "skip log", rec.log(1), "found 1 files", "File "+filepath.Join(f.work, "1", "s", "src", "one.txt")+" already exist at ")
	wantContains(t, "overwrite log", rec.log(3), "\n1\n")
	wantContains(t, "dir log", rec.log(4), "The target path already exists as a directory.")
	wantContains(t, "missing log", rec.log(5), "##[error]Not found SourceFolder: "+filepath.Join(f.work, "1", "s", "missing"))
	wantContains(t, "required log", rec.log(6), "##[error]Input required: TargetFolder")
}

func TestPipelineArtifacts(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("mkdir -p bin/x docs\necho b > bin/x/b.bin\necho d > docs/d.md"),
		taskStep("PublishPipelineArtifact", 1, map[string]string{"targetPath": "bin", "artifact": "bin"}),
		taskStep("PublishPipelineArtifact", 1, map[string]string{"path": "$(Build.SourcesDirectory)/docs/d.md", "artifactName": "docs"}),
		named("dl", taskStep("DownloadPipelineArtifact", 2, map[string]string{"artifact": "bin", "path": "$(Pipeline.Workspace)/one"})),
		taskStep("DownloadPipelineArtifact", 2, map[string]string{"source": "current", "downloadPath": "$(Pipeline.Workspace)/all", "patterns": "**/*.md\n**/*.bin"}),
		script("echo \"run=$(dl.BuildNumber)\"\nfind $(Pipeline.Workspace)/one $(Pipeline.Workspace)/all -type f | sed \"s|$(Pipeline.Workspace)/||\" | sort"),
		withCond("always()", taskStep("PublishPipelineArtifact", 1, map[string]string{"targetPath": "bin", "artifact": "bin"})),
		withCond("always()", taskStep("DownloadPipelineArtifact", 2, map[string]string{"source": "specific", "project": "p", "pipeline": "7"})),
		withCond("always()", taskStep("DownloadPipelineArtifact", 2, map[string]string{"artifact": "nope"})),
		withCond("always()", taskStep("PublishPipelineArtifact", 1, map[string]string{"targetPath": "bin", "artifact": "a:b"})),
	}))
	wantResults(t, rep, "Failed [Succeeded Succeeded Succeeded Succeeded Succeeded Succeeded Failed Failed Failed Failed]")
	wantContains(t, "listing", rec.log(5), "run=42\nall/bin/x/b.bin\nall/docs/d.md\none/x/b.bin\n")
	wantContains(t, "duplicate", rec.log(6), "##[error]Artifact bin already exists for build 42.")
	wantContains(t, "specific", rec.log(7), "source 'specific'", "not supported locally")
	wantContains(t, "missing", rec.log(8), "##[error]Artifact nope was not found for build 42.")
	wantContains(t, "invalid", rec.log(9), "Artifact name is not valid: a:b")
}

func TestPublishBuildArtifactsErrors(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		taskStep("PublishBuildArtifacts", 1, map[string]string{"publishLocation": "FilePath", "TargetPath": "/share"}),
		withCond("always()", taskStep("PublishBuildArtifacts", 1, map[string]string{"PathtoPublish": "nothing-here"})),
		withCond("always()", taskStep("PublishBuildArtifacts", 1, nil)),
	}))
	wantResults(t, rep, "Failed [Failed Failed Succeeded]")
	wantContains(t, "filepath", rec.log(0), "##[error]Publishing artifacts from a Linux or macOS agent to a file share is not supported. Change the artifact type to `Azure Pipelines` or use a Windows agent.")
	wantContains(t, "missing", rec.log(1), "##[error]Not found PathtoPublish: ")
	// The default path is the (empty) staging directory: a warning, not a failure.
	wantContains(t, "empty", rec.log(2), "is empty. Nothing will be added to build artifact 'drop'.")
}

func TestCheckoutCopiesWorkingTree(t *testing.T) {
	f := newFixture(t, nil)
	if err := os.MkdirAll(filepath.Join(f.repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.repo, ".git", "HEAD"), []byte("ref: refs/heads/main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("README.md", filepath.Join(f.repo, "link")); err != nil {
		t.Fatal(err)
	}
	checkout := taskStep("Checkout", 1, map[string]string{"checkout": "self", "clean": "true", "fetchDepth": "1"})
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		checkout,
		script("echo junk > junk.txt\nreadlink link"),
	}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantContains(t, "log", rec.log(1), "\nREADME.md")
	if _, err := os.Stat(filepath.Join(f.repo, "junk.txt")); err == nil {
		t.Error("the job wrote into the original repository")
	}
	rep, _ = f.run(context.Background(), f.request([]plan.Step{checkout, script("test ! -e junk.txt")}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	bad := taskStep("Checkout", 1, map[string]string{"repository": "other"})
	rep, rec = f.run(context.Background(), f.request([]plan.Step{bad}))
	wantResults(t, rep, "Failed [Failed]")
	if !strings.Contains(rec.log(0), "repository 'other' cannot be checked out") {
		t.Errorf("log:\n%s", rec.log(0))
	}
}

// TestCheckoutClonesGitURL checks out a repository given as a Git URL (a server run of a
// definition whose repository is a URL) at the run's branch and commit, shallow.
func TestCheckoutClonesGitURL(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	f := newFixture(t, nil)
	origin := filepath.Join(t.TempDir(), "origin")
	gitRun := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(origin, 0o755); err != nil {
		t.Fatal(err)
	}
	gitRun(origin, "init", "-q", "-b", "main")
	for _, v := range []string{"one", "two", "three"} {
		if err := os.WriteFile(filepath.Join(origin, "version.txt"), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		gitRun(origin, "add", "version.txt")
		gitRun(origin, "commit", "-q", "-m", v)
	}
	second := gitRun(origin, "rev-parse", "HEAD~1")

	req := f.request([]plan.Step{
		taskStep("Checkout", 1, map[string]string{"checkout": "self", "fetchDepth": "1"}),
		script("cat version.txt; git rev-parse HEAD"),
	})
	req.Repository = job.Repository{Name: "origin", URI: "file://" + origin, Branch: "refs/heads/main", Commit: second, Provider: "Git"}
	rep, rec := f.run(context.Background(), req)
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantContains(t, "log", rec.log(1), "\ntwo\n"+second)

	req.Repository.Commit = ""
	rep, rec = f.run(context.Background(), req)
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantContains(t, "log", rec.log(1), "\nthree\n")

	req.Repository.URI = "file://" + filepath.Join(t.TempDir(), "missing")
	rep, rec = f.run(context.Background(), req)
	wantResults(t, rep, "Failed [Failed Skipped]")
	wantContains(t, "log", rec.log(0), "git clone exited with code")
}

// endpointProbe reports what a task sees of the job's service connections.
type endpointProbe struct{}

var endpointProbeDef = &task.Definition{Name: "EndpointProbe", Version: task.Version{Major: 1}, Inputs: []task.Input{{Name: "ref"}}}

func (endpointProbe) Definition() *task.Definition { return endpointProbeDef }
func (endpointProbe) Run(ctx context.Context, env *task.Env) error {
	eh, ok := env.Host.(task.EndpointHost)
	if !ok {
		return errors.New("the host has no endpoints")
	}
	e, ok := eh.Endpoint(env.Inputs.Get("ref"))
	if !ok {
		return errors.New("no endpoint " + env.Inputs.Get("ref"))
	}
	fmt.Fprintf(env.Stdout, "endpoint %s %s %s\n", e.ID, e.Name, e.Parameters["tenantid"])
	return nil
}

// TestTasksSeeTheJobsEndpoints: the server's job message carries the connections a job may
// use; tasks find them by id or name through task.EndpointHost.
func TestTasksSeeTheJobsEndpoints(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Tasks = append(c.Tasks, endpointProbe{}) })
	probe := func(ref string) plan.Step {
		return taskStep("EndpointProbe", 1, map[string]string{"ref": ref})
	}
	req := f.request([]plan.Step{probe("SC-Tutorial"), probe("0b5b4a53-1b0e-4c0f-9b7e-7a1b1d7c0e11"), probe("other")})
	req.Endpoints = []job.Endpoint{{ID: "0b5b4a53-1b0e-4c0f-9b7e-7a1b1d7c0e11", Name: "sc-tutorial", Type: "AzureRM",
		Scheme: "WorkloadIdentityFederation", Parameters: map[string]string{"tenantid": "t1"}}}
	rep, rec := f.run(context.Background(), req)
	wantResults(t, rep, "Failed [Succeeded Succeeded Failed]")
	wantContains(t, "log", rec.all(), "endpoint 0b5b4a53-1b0e-4c0f-9b7e-7a1b1d7c0e11 sc-tutorial t1", "no endpoint other")
}
