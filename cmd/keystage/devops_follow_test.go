package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/server/servertest"
)

// TestRunsLogsFollowIsLive checks that `pipelines runs logs --follow` prints a step's
// lines while the step still runs: the step prints a line, then waits for a file that the
// test creates only after the CLI printed that line.
func TestRunsLogsFollowIsLive(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{})
	work := t.TempDir()
	envs := map[string]string{
		"KEYSTAGE_DATA_DIR":   srv.DataDir,
		"KEYSTAGE_CONFIG_DIR": filepath.Join(work, ".keystage"),
		"HOME":                work,
	}
	getenv := func(k string) string { return envs[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, nil, &stdout, &stderr, getenv); code != 0 {
			t.Fatalf("keystage %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
		}
		return strings.TrimSpace(stdout.String())
	}

	repo := filepath.Join(work, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := `pool: Default
steps:
- bash: |
    echo first-line
    while [ ! -e "$(marker)" ]; do sleep 0.05; done
    echo second-line
  displayName: Wait for the marker
`
	if err := os.WriteFile(filepath.Join(repo, "azure-pipelines.yml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cli("login")
	cli("devops", "organization", "create", "--name", "live")
	cli("devops", "configure", "--defaults", "organization="+srv.URL+"/live", "project=logs")
	cli("devops", "project", "create", "--name", "logs")
	cli("pipelines", "create", "--name", "live", "--repository", repo, "--skip-first-run")
	pat := cli("devops", "pat", "create", "--display-name", "agent", "--scope", "vso.agentpools_manage", "--query", "patToken.token", "-o", "tsv")

	bin, err := exec.LookPath("keystage")
	if err != nil {
		t.Fatalf("keystage is not on PATH (TestMain puts it there): %v", err)
	}
	agent := exec.CommandContext(ctx, bin, "agent", "--url", srv.URL+"/live", "--pool", "Default", "--name", "live", "--work", filepath.Join(work, "agent"))
	agent.Env = append(os.Environ(), "SSL_CERT_FILE="+srv.CAFile, "KEYSTAGE_AGENT_TOKEN="+pat)
	var agentLog bytes.Buffer
	agent.Stderr = &agentLog
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
		if t.Failed() {
			t.Logf("agent:\n%s", agentLog.String())
		}
	})

	marker := filepath.Join(work, "marker")
	id := cli("pipelines", "run", "--name", "live", "--variables", "marker="+marker, "--query", "id", "-o", "tsv")
	pr, pw := io.Pipe()
	exit := make(chan int, 1)
	go func() {
		var stderr bytes.Buffer
		code := run(ctx, []string{"pipelines", "runs", "logs", "--id", id, "--follow"}, nil, pw, &stderr, getenv)
		if code != 0 {
			t.Errorf("runs logs --follow: exit %d\n%s", code, stderr.String())
		}
		pw.Close()
		exit <- code
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	await := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the followed log ended before %q", want)
				}
				if l == "second-line" && want == "first-line" {
					t.Fatal("second-line was printed before the marker existed")
				}
				if l == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("%q was not printed in time", want)
			}
		}
	}
	await("first-line")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	await("second-line")
	for range lines {
	}
	<-exit
	if got := cli("pipelines", "runs", "show", "--id", id, "--query", "result", "-o", "tsv"); got != "succeeded" {
		t.Errorf("result %q, want succeeded", got)
	}
}
