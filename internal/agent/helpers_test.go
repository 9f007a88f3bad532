package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/task"
)

// recorder is a Sink that keeps everything.
type recorder struct {
	mu       sync.Mutex
	job      []string
	lines    map[int][]string
	started  []Step
	finished map[int]job.StepReport
}

func newRecorder() *recorder {
	return &recorder{lines: map[int][]string{}, finished: map[int]job.StepReport{}}
}

func (r *recorder) JobLine(l string) { r.mu.Lock(); r.job = append(r.job, l); r.mu.Unlock() }
func (r *recorder) StepStarted(s Step) {
	r.mu.Lock()
	r.started = append(r.started, s)
	r.mu.Unlock()
}
func (r *recorder) StepLine(s Step, l string) {
	r.mu.Lock()
	r.lines[s.Index] = append(r.lines[s.Index], l)
	r.mu.Unlock()
}
func (r *recorder) StepFinished(s Step, rep job.StepReport) {
	r.mu.Lock()
	r.finished[s.Index] = rep
	r.mu.Unlock()
}

// log returns step i's log as one string.
func (r *recorder) log(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines[i], "\n")
}

// all returns every line of the job.
func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, l := range r.job {
		b.WriteString(l + "\n")
	}
	for i := 0; i < len(r.started); i++ {
		for _, l := range r.lines[i] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

type fixture struct {
	t         testing.TB
	work      string
	repo      string
	artifacts *task.LocalArtifacts
	exec      *Executor
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{t: t, work: filepath.Join(root, "_work"), repo: filepath.Join(root, "repo")}
	if err := os.MkdirAll(f.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.repo, "README.md"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.artifacts = task.NewLocalArtifacts(filepath.Join(f.work, "_artifacts"))
	cfg := Config{
		WorkFolder:     f.work,
		Tasks:          task.Builtins(),
		Artifacts:      f.artifacts,
		AgentName:      "test-agent",
		RetryDelay:     time.Millisecond,
		SigintTimeout:  200 * time.Millisecond,
		SigtermTimeout: 200 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.exec = e
	return f
}

// request builds a job request around steps.
func (f *fixture) request(steps []plan.Step, vars ...job.Variable) job.Request {
	return job.Request{
		RunID: 42, RunName: "20260101.1", PipelineName: "demo", StageName: "__default",
		JobName: "Job", JobAttempt: 1, JobID: "11111111-2222-3333-4444-555555555555",
		Job:        plan.Job{Name: "Job", TimeoutInMinutes: 60, CancelTimeoutInMinutes: 5, Steps: steps},
		Variables:  vars,
		Repository: job.Repository{Name: "repo", URI: f.repo, Branch: "refs/heads/main", Provider: "Git"},
	}
}

func (f *fixture) run(ctx context.Context, req job.Request) (job.Report, *recorder) {
	rec := newRecorder()
	rep := f.exec.Execute(ctx, req, rec)
	return rep, rec
}

// script is a `script:` step.
func script(body string) plan.Step {
	return plan.Step{Task: plan.Task{Name: "CmdLine", Version: 2}, Inputs: map[string]string{"script": body}, Enabled: true}
}

// bash is a `bash:` step.
func bash(body string) plan.Step {
	return plan.Step{Task: plan.Task{Name: "Bash", Version: 3}, Inputs: map[string]string{"targetType": "inline", "script": body}, Enabled: true}
}

func named(name string, s plan.Step) plan.Step { s.Name = name; return s }

func withCond(cond string, s plan.Step) plan.Step { s.Condition = cond; return s }

func results(rep job.Report) string {
	var parts []string
	for _, s := range rep.Steps {
		parts = append(parts, string(s.Result))
	}
	return fmt.Sprintf("%s [%s]", rep.Result, strings.Join(parts, " "))
}

func wantResults(t *testing.T, rep job.Report, want string) {
	t.Helper()
	if got := results(rep); got != want {
		t.Errorf("results = %s, want %s", got, want)
	}
}

func wantContains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not contain %q; it is:\n%s", what, w, text)
		}
	}
}

func wantNotContains(t *testing.T, what, text string, nots ...string) {
	t.Helper()
	for _, w := range nots {
		if strings.Contains(text, w) {
			t.Errorf("%s contains %q; it is:\n%s", what, w, text)
		}
	}
}
