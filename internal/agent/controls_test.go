package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

func TestConditionsAndContinueOnError(t *testing.T) {
	tests := []struct {
		name  string
		steps []plan.Step
		want  string
	}{
		{"failure skips default-condition steps", []plan.Step{script("exit 1"), script("echo no")}, "Failed [Failed Skipped]"},
		{"failed() and always() run after a failure", []plan.Step{script("exit 1"), withCond("failed()", script("true")), withCond("always()", script("true")), withCond("succeededOrFailed()", script("true"))}, "Failed [Failed Succeeded Succeeded Succeeded]"},
		{"failed() is skipped on success", []plan.Step{script("true"), withCond("failed()", script("true"))}, "Succeeded [Succeeded Skipped]"},
		{"a user condition replaces succeeded()", []plan.Step{script("exit 1"), withCond("eq(variables['x'], 'y')", script("true"))}, "Failed [Failed Succeeded]"},
		{"variables in conditions", []plan.Step{withCond("eq(variables['x'], 'z')", script("true")), withCond("and(succeeded(), eq(variables.x, 'y'))", script("true"))}, "Succeeded [Skipped Succeeded]"},
		{"continueOnError gives SucceededWithIssues and the job goes on", []plan.Step{func() plan.Step { s := script("exit 2"); s.ContinueOnError = true; return s }(), script("true")}, "SucceededWithIssues [SucceededWithIssues Succeeded]"},
		{"a condition error fails the step", []plan.Step{withCond("eq(", script("true"))}, "Failed [Failed]"},
		{"Agent.JobStatus is visible to conditions", []plan.Step{func() plan.Step { s := script("exit 2"); s.ContinueOnError = true; return s }(), withCond("eq(variables['Agent.JobStatus'], 'SucceededWithIssues')", script("true"))}, "SucceededWithIssues [SucceededWithIssues Succeeded]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			rep, _ := f.run(context.Background(), f.request(tt.steps, job.Variable{Name: "x", Value: "y"}))
			wantResults(t, rep, tt.want)
		})
	}
}

func TestExitCodeAndStderr(t *testing.T) {
	f := newFixture(t, nil)
	stderr := script("echo oops >&2\necho fine")
	stderr.Inputs["failOnStderr"] = "true"
	bashStderr := bash("echo bad >&2")
	bashStderr.Inputs["failOnStderr"] = "true"
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo a\nfalse\necho last-command-wins"),
		withCond("always()", script("exit 3")),
		withCond("always()", stderr),
		withCond("always()", bashStderr),
		withCond("always()", script("echo no-stderr-check >&2")),
		withCond("always()", bash("kill -9 $$")),
	}))
	wantResults(t, rep, "Failed [Succeeded Failed Failed Failed Succeeded Failed]")
	wantContains(t, "exit log", rec.log(1), "##[error]Bash exited with code '3'.")
	wantContains(t, "stderr log", rec.log(2), "oops\n", "fine\n", "##[error]Bash wrote one or more lines to the standard error stream.\n##[error]oops")
	wantContains(t, "bash stderr log", rec.log(3), "##[error]Bash wrote one or more lines to the standard error stream.\n##[error]bad", "Task         : Bash")
	wantContains(t, "plain stderr log", rec.log(4), "no-stderr-check")
	wantContains(t, "oom log", rec.log(5), "##[error]Bash exited with code 137, which means it ran out of memory.")
}

func TestBashFilePath(t *testing.T) {
	f := newFixture(t, nil)
	if err := os.WriteFile(filepath.Join(f.repo, "build.sh"), []byte("echo \"args: $1 $2 in $(basename $PWD)\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkout := plan.Step{Task: plan.Task{Name: "Checkout", Version: 1}, Inputs: map[string]string{"repository": "self"}, Enabled: true}
	file := plan.Step{Task: plan.Task{Name: "Bash", Version: 3}, Inputs: map[string]string{"filePath": "build.sh", "arguments": "one two"}, Enabled: true}
	missing := plan.Step{Task: plan.Task{Name: "Bash", Version: 3}, Inputs: map[string]string{"filePath": "nope.sh"}, Enabled: true}
	rep, rec := f.run(context.Background(), f.request([]plan.Step{checkout, file, missing}))
	wantResults(t, rep, "Failed [Succeeded Succeeded Failed]")
	wantContains(t, "log", rec.log(1), "Formatted command: exec bash '"+filepath.Join(f.work, "1", "s", "build.sh")+"' one two", "args: one two in s")
	wantContains(t, "missing log", rec.log(2), "##[error]ENOENT: no such file or directory, stat '")
}

func TestStepTimeout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Minute = 300 * time.Millisecond })
	slow := script("echo started\nsleep 30\necho finished")
	slow.TimeoutInMinutes = 1
	slowOK := script("sleep 30")
	slowOK.TimeoutInMinutes = 1
	slowOK.ContinueOnError = true
	rep, rec := f.run(context.Background(), f.request([]plan.Step{slowOK, slow, withCond("always()", script("echo after"))}))
	wantResults(t, rep, "Failed [SucceededWithIssues Failed Succeeded]")
	wantContains(t, "log", rec.log(1), "started", "##[error]The task has timed out.", "##[section]Finishing:")
	wantNotContains(t, "log", rec.log(1), "finished")
}

func TestCancel(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "mark")
	f := newFixture(t, func(c *Config) { c.Environ = append(os.Environ(), "MARK="+mark) })
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		// Cancel once the first step's script is running.
		for {
			if _, err := os.Stat(mark); err == nil {
				close(started)
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	rep, rec := f.run(ctx, f.request([]plan.Step{
		script("touch $MARK\nsleep 30\necho finished"),
		script("echo skipped"),
		withCond("canceled()", script("echo cleanup-on-cancel")),
		withCond("always()", script("echo always-runs")),
		withCond("succeededOrFailed()", script("echo not-on-cancel")),
	}))
	<-started
	wantResults(t, rep, "Canceled [Canceled Skipped Succeeded Succeeded Skipped]")
	wantContains(t, "log", rec.log(0), "##[error]The Operation will be canceled. The next steps may not contain expected logs.", "##[error]The operation was canceled.")
	wantNotContains(t, "log", rec.log(0), "finished")
	wantContains(t, "cleanup", rec.log(2), "cleanup-on-cancel")
	wantContains(t, "always", rec.log(3), "always-runs")
}

// TestCancelKeepsAlwaysStep checks that a running step whose condition still holds after
// cancellation is not stopped.
func TestCancelKeepsAlwaysStep(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	mark := filepath.Join(t.TempDir(), "mark")
	go func() {
		for {
			if _, err := os.Stat(mark); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	rep, rec := f.run(ctx, f.request([]plan.Step{
		withCond("always()", script("touch "+mark+"\nsleep 0.5\necho survived")),
	}))
	wantResults(t, rep, "Canceled [Succeeded]")
	wantContains(t, "log", rec.log(0), "survived")
}

func TestJobTimeout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Minute = 300 * time.Millisecond })
	req := f.request([]plan.Step{script("sleep 30"), withCond("always()", script("echo final"))})
	req.Job.TimeoutInMinutes = 1
	rep, rec := f.run(context.Background(), req)
	wantResults(t, rep, "Canceled [Canceled Succeeded]")
	wantContains(t, "job log", strings.Join(rec.job, "\n"), "##[error]The job running on agent test-agent ran longer than the maximum time of 1 minutes.")
}

func TestSigtermEscalation(t *testing.T) {
	// A script that ignores SIGINT and SIGTERM is killed after both grace periods.
	f := newFixture(t, func(c *Config) { c.Minute = 200 * time.Millisecond })
	st := bash("trap '' INT TERM\necho trapped\nfor i in $(seq 100); do sleep 0.1; done\necho finished")
	st.TimeoutInMinutes = 1
	rep, rec := f.run(context.Background(), f.request([]plan.Step{st}))
	wantResults(t, rep, "Failed [Failed]")
	wantContains(t, "log", rec.log(0), "trapped", "##[error]The task has timed out.")
	wantNotContains(t, "log", rec.log(0), "finished")
}

func TestRetryCountOnTaskFailure(t *testing.T) {
	f := newFixture(t, nil)
	counter := filepath.Join(t.TempDir(), "n")
	flaky := script("n=$(cat " + counter + " 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > " + counter + "\necho attempt $n\n[ $n -ge 3 ]")
	flaky.RetryCountOnTaskFailure = 5
	always := script("exit 1")
	always.RetryCountOnTaskFailure = 12
	rep, rec := f.run(context.Background(), f.request([]plan.Step{flaky, withCond("always()", always)}))
	wantResults(t, rep, "Failed [Succeeded Failed]")
	log := rec.log(0)
	wantContains(t, "log", log, "attempt 1", "attempt 3", "##[warning]RetryHelper encountered task failure, will retry (attempt #: 1 out of 5) after 1 ms", "(attempt #: 2 out of 5) after 4 ms")
	wantNotContains(t, "log", log, "attempt 4")
	wantContains(t, "capped log", rec.log(1), "##[warning]The maximum allowed number of attempts is 10 but got 12. Retry attempts count will be decreased to 10.", "(attempt #: 10 out of 10)")
	if n := strings.Count(rec.log(1), "Bash exited with code '1'."); n != 11 {
		t.Errorf("capped step ran %d times, want 11", n)
	}
}

func TestBackgroundProcessKilledAtJobEnd(t *testing.T) {
	f := newFixture(t, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("nohup sleep 60 >/dev/null 2>&1 &\necho $! > " + pidFile),
		script("kill -0 $(cat " + pidFile + ") && echo still-running-in-next-step"),
	}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantContains(t, "log", rec.log(1), "\nstill-running-in-next-step")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// kill -0 through /proc: the process must be gone (or a zombie reaped by init).
		st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background process %s survived the job", strings.TrimSpace(string(b)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStepIssueCounts(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.logissue type=warning]w1'\necho '##vso[task.logissue type=warning]w2'\necho '##vso[task.logissue type=error]e1'"),
		script("sleep 60 >/dev/null 2>&1 &"),
	}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	if s := rep.Steps[0]; s.Errors != 1 || s.Warnings != 2 {
		t.Errorf("step issues = %d errors, %d warnings; want 1, 2", s.Errors, s.Warnings)
	}
	wantContains(t, "job log", strings.Join(rec.job, "\n"), "Start cleaning up orphan processes.\nTerminate orphan process group: pgid (")
}

func TestCancelTimeoutStopsAlwaysSteps(t *testing.T) {
	// The cancel timeout starts with the job (it was canceled before); it must leave the
	// step time to start even on a loaded machine.
	f := newFixture(t, func(c *Config) { c.Minute = 2 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // canceled before the job starts
	req := f.request([]plan.Step{
		script("echo skipped"),
		withCond("always()", script("echo cleanup-started\nsleep 30\necho cleanup-finished")),
	})
	req.Job.CancelTimeoutInMinutes = 1
	rep, rec := f.run(ctx, req)
	wantResults(t, rep, "Canceled [Skipped Canceled]")
	wantContains(t, "log", rec.log(1), "cleanup-started", "##[error]The operation was canceled.")
	wantNotContains(t, "log", rec.log(1), "cleanup-finished")
}
