package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"

	"github.com/keystage/keystage/internal/orchestrator/orchtest"
)

// agentProcess is a real `keystage agent` process (the test binary, which TestMain runs
// as keystage).
type agentProcess struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func startAgentProcess(t *testing.T, s *orchtest.Server, name string, extra ...string) *agentProcess {
	t.Helper()
	bin, err := exec.LookPath("keystage")
	if err != nil {
		t.Fatalf("keystage is not on PATH (TestMain puts it there): %v", err)
	}
	args := append([]string{"agent", "--url", s.OrgURL, "--pool", "Default", "--name", name, "--work", t.TempDir()}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+s.CAFile, "KEYSTAGE_AGENT_TOKEN="+s.PAT)
	p := &agentProcess{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("agent %s stderr:\n%s", name, p.stderr)
		}
	})
	return p
}

func ptr[T any](v T) *T { return &v }

func queueRun(t *testing.T, s *orchtest.Server, id int, vars map[string]string) int {
	t.Helper()
	ctx := context.Background()
	pv := map[string]pipelines.Variable{}
	for k, v := range vars {
		pv[k] = pipelines.Variable{Value: ptr(v)}
	}
	run, err := pipelines.NewClient(ctx, s.Conn()).RunPipeline(ctx, pipelines.RunPipelineArgs{
		Project: ptr("webapp"), PipelineId: &id, RunParameters: &pipelines.RunPipelineParameters{Variables: &pv}})
	if err != nil {
		t.Fatalf("RunPipeline: %v", err)
	}
	return *run.Id
}

func getBuild(t *testing.T, s *orchtest.Server, id int) *build.Build {
	t.Helper()
	ctx := context.Background()
	bc, err := build.NewClient(ctx, s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &id})
	if err != nil {
		t.Fatalf("GetBuild: %v", err)
	}
	return b
}

func waitBuild(t *testing.T, s *orchtest.Server, id int, limit time.Duration, cond func(*build.Build) bool) *build.Build {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b := getBuild(t, s, id)
		if cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %d: condition not met within %v (status %s)", id, limit, *b.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentKilledMidJob kills -9 a real agent process while its job runs: the job fails
// within the lease (3s here; Config.LeaseDuration, 30s by default) plus scheduling slack.
func TestAgentKilledMidJob(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{Lease: 3 * time.Second, Heartbeat: 500 * time.Millisecond})
	id := s.Pipeline("long", map[string]string{"azure-pipelines.yml": `
pool: Default
steps:
- bash: echo $$ > "$(pidFile)"; sleep 120
  displayName: Long step
`})
	pidFile := filepath.Join(t.TempDir(), "pid")
	agent := startAgentProcess(t, s, "victim")
	runID := queueRun(t, s, id, map[string]string{"pidFile": pidFile})
	pid, _ := strconv.Atoi(waitFile(t, pidFile))
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL); _ = syscall.Kill(pid, syscall.SIGKILL) })

	killed := time.Now()
	if err := agent.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b := waitBuild(t, s, runID, 30*time.Second, func(b *build.Build) bool { return *b.Status == build.BuildStatusValues.Completed })
	took := time.Since(killed)
	t.Logf("job failed %v after kill -9 (lease 3s)", took.Round(10*time.Millisecond))
	if took > 3*time.Second+2*time.Second {
		t.Errorf("the job of a killed agent failed after %v; the bound is the lease (3s) plus slack", took)
	}
	if *b.Result != build.BuildResultValues.Failed {
		t.Errorf("result %s, want failed", *b.Result)
	}
	ctx := context.Background()
	bc, _ := build.NewClient(ctx, s.Conn())
	tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: &runID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range *tl.Records {
		for _, is := range *r.Issues {
			found = found || strings.Contains(*is.Message, "We stopped hearing from agent victim")
		}
	}
	if !found {
		t.Error("no timeline issue says the agent was lost")
	}
}

// TestAgentProcess runs jobs on a real agent process: the job token works during its job
// and is refused after it.
func TestAgentProcess(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	id := s.Pipeline("token", map[string]string{"azure-pipelines.yml": `
pool: Default
steps:
- bash: |
    echo "$SYSTEM_ACCESSTOKEN" > "$(tokenFile)"
    while [ ! -e "$(goFile)" ]; do sleep 0.05; done
    echo done waiting
  displayName: Hand out the token
  env:
    SYSTEM_ACCESSTOKEN: $(System.AccessToken)
`})
	dir := t.TempDir()
	tokenFile, goFile := filepath.Join(dir, "token"), filepath.Join(dir, "go")
	startAgentProcess(t, s, "worker", "--capability", "kind=test")
	runID := queueRun(t, s, id, map[string]string{"tokenFile": tokenFile, "goFile": goFile})
	tok := waitFile(t, tokenFile)
	if len(tok) == 52 || strings.Count(tok, ".") != 2 {
		t.Errorf("System.AccessToken has length %d", len(tok))
	}
	ctx := context.Background()
	conn := azuredevops.NewAnonymousConnection(s.OrgURL)
	conn.AuthorizationString = "Bearer " + tok
	conn.TlsConfig = s.Conn().TlsConfig
	bc, err := build.NewClient(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &runID}); err != nil || *b.Id != runID {
		t.Fatalf("GetBuild with the job token during the job = %v", err)
	}
	if err := os.WriteFile(goFile, []byte("go"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := waitBuild(t, s, runID, 60*time.Second, func(b *build.Build) bool { return *b.Status == build.BuildStatusValues.Completed })
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("result %s", *b.Result)
	}
	conn2 := azuredevops.NewAnonymousConnection(s.OrgURL)
	conn2.AuthorizationString = "Bearer " + tok
	conn2.TlsConfig = s.Conn().TlsConfig
	bc2, err := build.NewClient(ctx, conn2)
	if err == nil {
		_, err = bc2.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &runID})
	}
	var we azuredevops.WrappedError
	if !errors.As(err, &we) || we.StatusCode == nil || *we.StatusCode != 401 {
		t.Errorf("the job token after its job: err = %v, want 401", err)
	}

}

// TestAgentBinaryStopsOnSIGINT builds the real binary (main sets up the signal handling)
// and checks that SIGINT during a job cancels the job, reports it, and exits with 0.
func TestAgentBinaryStopsOnSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the keystage binary")
	}
	bin := filepath.Join(t.TempDir(), "keystage")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := orchtest.Start(t, orchtest.Options{})
	id := s.Pipeline("sleepy", map[string]string{"azure-pipelines.yml": `
pool: Default
steps:
- bash: echo started > "$(startFile)"; sleep 60
  displayName: Sleep
`})
	startFile := filepath.Join(t.TempDir(), "started")
	cmd := exec.Command(bin, "agent", "--url", s.OrgURL, "--pool", "Default", "--name", "sigint", "--work", t.TempDir())
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+s.CAFile, "KEYSTAGE_AGENT_TOKEN="+s.PAT)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	runID := queueRun(t, s, id, map[string]string{"startFile": startFile})
	waitFile(t, startFile)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("agent exited with %v after SIGINT\n%s", err, &stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not exit after SIGINT\n%s", &stderr)
	}
	// The job was canceled on the agent and reported, not lost.
	b := waitBuild(t, s, runID, 10*time.Second, func(b *build.Build) bool { return *b.Status == build.BuildStatusValues.Completed })
	if *b.Result == build.BuildResultValues.Succeeded {
		t.Errorf("result %s", *b.Result)
	}
	if !strings.Contains(stderr.String(), "job finished") {
		t.Errorf("the agent did not report the job:\n%s", &stderr)
	}
}
