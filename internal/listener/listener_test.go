package listener_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/listener"
	"github.com/keystage/keystage/internal/orchestrator/orchtest"
	"github.com/keystage/keystage/internal/task"
)

func ptr[T any](v T) *T { return &v }

// startAgent runs an in-process listener until the test ends.
func startAgent(t *testing.T, s *orchtest.Server, name string, caps map[string]string, once bool) <-chan error {
	t.Helper()
	return startAgentIn(t, s, "Default", name, caps, once)
}

// startAgentIn runs an in-process listener in pool until the test ends.
func startAgentIn(t *testing.T, s *orchtest.Server, pool, name string, caps map[string]string, once bool) <-chan error {
	t.Helper()
	l, err := listener.New(listener.Config{
		URL: s.OrgURL, Pool: pool, Token: s.PAT, Name: name, WorkDir: t.TempDir(),
		Capabilities: caps, Once: once, Tasks: task.Builtins(), HTTPClient: s.Client,
		FlushInterval: 50 * time.Millisecond,
		Executor: func(c *agent.Config) {
			c.SigintTimeout, c.SigtermTimeout = 200*time.Millisecond, 200*time.Millisecond
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	result := make(chan error, 1)
	go func() {
		err := l.Run(ctx)
		done <- err
		result <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-result:
			if err != nil {
				t.Errorf("agent %s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("agent %s did not stop", name)
		}
	})
	return done
}

func runPipeline(t *testing.T, s *orchtest.Server, id int, params *pipelines.RunPipelineParameters) *pipelines.Run {
	t.Helper()
	ctx := context.Background()
	pc := pipelines.NewClient(ctx, s.Conn())
	if params == nil {
		params = &pipelines.RunPipelineParameters{}
	}
	run, err := pc.RunPipeline(ctx, pipelines.RunPipelineArgs{Project: ptr("webapp"), PipelineId: &id, RunParameters: params})
	if err != nil {
		t.Fatalf("RunPipeline: %v", err)
	}
	return run
}

// waitRun polls GetRun until the run completes.
func waitRun(t *testing.T, s *orchtest.Server, pipelineID, runID int) *pipelines.Run {
	t.Helper()
	ctx := context.Background()
	pc := pipelines.NewClient(ctx, s.Conn())
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := pc.GetRun(ctx, pipelines.GetRunArgs{Project: ptr("webapp"), PipelineId: &pipelineID, RunId: &runID})
		if err != nil {
			t.Fatalf("GetRun: %v", err)
		}
		if *r.State == pipelines.RunStateValues.Completed {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d did not complete; state %s", runID, *r.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const tutorial = `
pool: Default
steps:
- script: echo "the secret is $(mySecret)" && echo $(mySecret) > secret.txt
  displayName: Create file
- task: CopyFiles@2
  displayName: Copy file
  inputs:
    Contents: secret.txt
    targetFolder: '$(Build.ArtifactStagingDirectory)'
- task: PublishBuildArtifacts@1
  displayName: Publish Artifact
  inputs:
    PathtoPublish: '$(Build.ArtifactStagingDirectory)'
    ArtifactName: 'drop'
    publishLocation: 'Container'
- bash: |
    echo "project=$(System.TeamProject) oidc=$(System.OidcRequestUri)"
    test -n "$SYSTEM_ACCESSTOKEN" && echo "token length ${#SYSTEM_ACCESSTOKEN}"
  displayName: Show variables
  env:
    SYSTEM_ACCESSTOKEN: $(System.AccessToken)
`

func TestPipelineOnAgent(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	id := s.Pipeline("tutorial", map[string]string{"azure-pipelines.yml": tutorial, "README.md": "hello\n"})
	startAgent(t, s, "agent-1", nil, false)
	ctx := context.Background()
	run := runPipeline(t, s, id, &pipelines.RunPipelineParameters{
		Variables: &map[string]pipelines.Variable{"mySecret": {Value: ptr("hunter2-value"), IsSecret: ptr(true)}},
	})
	if *run.State != pipelines.RunStateValues.InProgress || run.Id == nil {
		t.Fatalf("RunPipeline = %+v", run)
	}
	done := waitRun(t, s, id, *run.Id)
	if *done.Result != pipelines.RunResultValues.Succeeded {
		t.Fatalf("run result %s", *done.Result)
	}

	bc, err := build.NewClient(ctx, s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: run.Id})
	if err != nil || *b.Id != *run.Id || *b.Status != build.BuildStatusValues.Completed || *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("GetBuild = %+v, %v", b, err)
	}
	tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: run.Id})
	if err != nil {
		t.Fatalf("GetBuildTimeline: %v", err)
	}
	var types []string
	tasks := map[string]build.TimelineRecord{}
	ids := map[string]bool{}
	for _, r := range *tl.Records {
		types = append(types, *r.Type)
		ids[r.Id.String()] = true
		if *r.Type == "Task" {
			tasks[*r.Name] = r
		}
		if *r.State != build.TimelineRecordStateValues.Completed || *r.Result != build.TaskResultValues.Succeeded {
			t.Errorf("record %s %s: %s %s", *r.Type, *r.Name, *r.State, *r.Result)
		}
	}
	for _, r := range *tl.Records {
		if (r.ParentId == nil) != (*r.Type == "Stage") || r.ParentId != nil && !ids[r.ParentId.String()] {
			t.Errorf("record %s %s has parent %v", *r.Type, *r.Name, r.ParentId)
		}
	}
	want := []string{"Stage", "Phase", "Job", "Task", "Task", "Task", "Task", "Task", "Task", "Task"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("record types (-want +got):\n%s", diff)
	}
	create, ok := tasks["Create file"]
	if !ok || create.Log == nil {
		t.Fatalf("no Create file task with a log: %v", tasks)
	}
	text, err := bc.GetBuildLog(ctx, build.GetBuildLogArgs{Project: ptr("webapp"), BuildId: run.Id, LogId: create.Log.Id})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(text)
	text.Close()
	if !strings.Contains(string(raw), "the secret is ***") || strings.Contains(string(raw), "hunter2-value") {
		t.Errorf("Create file log does not mask the secret:\n%s", raw)
	}
	lines, err := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: run.Id, LogId: create.Log.Id})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*lines, "\n") + "\n"; got != string(raw) {
		t.Errorf("log lines and text differ:\n%q\n%q", got, raw)
	}
	show := tasks["Show variables"]
	vars, _ := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: run.Id, LogId: show.Log.Id})
	joined := strings.Join(*vars, "\n")
	wantOIDC := s.URL + "/fabrikam/" + s.Project.ID + "/_apis/distributedtask/hubs/build/plans/" + b.OrchestrationPlan.PlanId.String() + "/jobs/"
	if !strings.Contains(joined, "project=webapp oidc="+wantOIDC) || !strings.Contains(joined, "token length") {
		t.Errorf("Show variables log:\n%s\nwant OIDC URI %s…", joined, wantOIDC)
	}

	arts, err := bc.GetArtifacts(ctx, build.GetArtifactsArgs{Project: ptr("webapp"), BuildId: run.Id})
	if err != nil || len(*arts) != 1 {
		t.Fatalf("GetArtifacts = %v, %v", arts, err)
	}
	drop := (*arts)[0]
	if *drop.Name != "drop" || *drop.Resource.Type != "Container" || !strings.Contains(*drop.Resource.DownloadUrl, "%24format=zip") {
		t.Errorf("artifact = %s type %s downloadUrl %s", *drop.Name, *drop.Resource.Type, *drop.Resource.DownloadUrl)
	}
	zr, err := bc.GetArtifactContentZip(ctx, build.GetArtifactContentZipArgs{Project: ptr("webapp"), BuildId: run.Id, ArtifactName: ptr("drop")})
	if err != nil {
		t.Fatal(err)
	}
	zb, _ := io.ReadAll(zr)
	zr.Close()
	files := unzip(t, zb)
	if files["drop/secret.txt"] != "hunter2-value\n" {
		t.Errorf("drop zip = %q", files)
	}
	// The download URL serves the same zip.
	resp, err := s.Client.Do(authGet(t, s, *drop.Resource.DownloadUrl))
	if err != nil {
		t.Fatal(err)
	}
	zb2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if unzip(t, zb2)["drop/secret.txt"] != "hunter2-value\n" {
		t.Errorf("downloadUrl answered %d %q", resp.StatusCode, zb2)
	}
	f, err := bc.GetFile(ctx, build.GetFileArgs{Project: ptr("webapp"), BuildId: run.Id, ArtifactName: ptr("drop"), FileId: ptr("secret.txt"), FileName: ptr("secret.txt")})
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := io.ReadAll(f)
	f.Close()
	if string(fb) != "hunter2-value\n" {
		t.Errorf("GetFile = %q", fb)
	}
	_, err = bc.GetArtifact(ctx, build.GetArtifactArgs{Project: ptr("webapp"), BuildId: run.Id, ArtifactName: ptr("nope")})
	var we azuredevops.WrappedError
	if !errors.As(err, &we) || we.StatusCode == nil || *we.StatusCode != 404 || *we.TypeKey != "ArtifactNotFoundException" {
		t.Errorf("GetArtifact(nope) = %v", err)
	}
}

func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip (%d bytes): %v", len(b), err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		c, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(c)
	}
	return out
}

func authGet(t *testing.T, s *orchtest.Server, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("", s.PAT)
	return req
}

func TestCancelReachesAgent(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	id := s.Pipeline("slow", map[string]string{"azure-pipelines.yml": `
pool: Default
steps:
- bash: echo started; sleep 60; echo never
  displayName: Sleep
- bash: echo cleanup ran
  displayName: Cleanup
  condition: always()
`})
	startAgent(t, s, "agent-1", nil, false)
	ctx := context.Background()
	run := runPipeline(t, s, id, nil)
	bc, _ := build.NewClient(ctx, s.Conn())
	// Wait until the step runs.
	waitFor(t, "the step to start", func() bool {
		tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: run.Id})
		if err != nil {
			return false
		}
		for _, r := range *tl.Records {
			if *r.Name == "Sleep" && *r.State == build.TimelineRecordStateValues.InProgress {
				return true
			}
		}
		return false
	})
	start := time.Now()
	b, err := bc.UpdateBuild(ctx, build.UpdateBuildArgs{Project: ptr("webapp"), BuildId: run.Id, Build: &build.Build{Status: &build.BuildStatusValues.Cancelling}})
	if err != nil || *b.Status != build.BuildStatusValues.Cancelling {
		t.Fatalf("UpdateBuild(cancelling) = %v, %v", b, err)
	}
	done := waitRun(t, s, id, *run.Id)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("cancel took %v", took)
	}
	if *done.Result != pipelines.RunResultValues.Canceled {
		t.Errorf("result %s, want canceled", *done.Result)
	}
	tl, _ := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: run.Id})
	for _, r := range *tl.Records {
		if *r.Name == "Cleanup" {
			lines, _ := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: run.Id, LogId: r.Log.Id})
			if !strings.Contains(strings.Join(*lines, "\n"), "cleanup ran") {
				t.Errorf("always() step after cancel: %q", *lines)
			}
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDemandsAndParallelAgents(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	id := s.Pipeline("matrix", map[string]string{"azure-pipelines.yml": `
jobs:
- job: linux
  pool: { name: Default, demands: [ "flavor -equals Linux" ] }
  steps: [ { bash: 'echo "$(Agent.Name)"' } ]
- job: gpu
  pool: { name: Default, demands: [ gpu ] }
  steps: [ { bash: 'echo "$(Agent.Name)"' } ]
- job: par
  pool: Default
  strategy: { parallel: 4 }
  steps: [ { bash: 'sleep 1; echo "$(Agent.Name)"' } ]
`})
	startAgent(t, s, "plain-1", map[string]string{"flavor": "linux"}, false)
	startAgent(t, s, "gpu-1", map[string]string{"flavor": "windows", "gpu": "yes"}, false)
	startAgent(t, s, "plain-2", map[string]string{"flavor": "linux"}, false)
	ctx := context.Background()
	// Demands are checked against the pool's agents when the run is queued: a job no
	// registered agent can take fails at once, so the agents must be registered first.
	pool := s.Pool("Default")
	waitFor(t, "the agents to register", func() bool {
		agents, err := s.DevOps.Agents(ctx, s.Org, pool)
		return err == nil && len(agents) == 3
	})
	start := time.Now()
	run := runPipeline(t, s, id, nil)
	done := waitRun(t, s, id, *run.Id)
	if *done.Result != pipelines.RunResultValues.Succeeded {
		t.Fatalf("result %s", *done.Result)
	}
	// Six jobs, four of them sleeping 1s, on three agents: parallel runs take about 2s,
	// serial ones 4s or more.
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("run took %v", took)
	}
	bc, _ := build.NewClient(ctx, s.Conn())
	tl, _ := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: run.Id})
	workers := map[string]string{}
	used := map[string]bool{}
	var mu sync.Mutex
	for _, r := range *tl.Records {
		if *r.Type == "Job" {
			mu.Lock()
			workers[*r.Identifier] = *r.WorkerName
			used[*r.WorkerName] = true
			mu.Unlock()
		}
	}
	if workers["linux.__default"] == "gpu-1" || !strings.HasPrefix(workers["linux.__default"], "plain-") {
		t.Errorf("linux job ran on %s", workers["linux.__default"])
	}
	if workers["gpu.__default"] != "gpu-1" {
		t.Errorf("gpu job ran on %s", workers["gpu.__default"])
	}
	if len(used) != 3 {
		t.Errorf("jobs used agents %v, want all three", used)
	}
}

// TestUnknownPool: an agent started for a pool the organization does not have stops with
// an error naming it, rather than retrying until it is stopped.
func TestUnknownPool(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	l, err := listener.New(listener.Config{URL: s.OrgURL, Pool: "Nope", Token: s.PAT, WorkDir: t.TempDir(),
		Tasks: task.Builtins(), HTTPClient: s.Client})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = l.Run(ctx)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "agent pool Nope does not exist") {
		t.Errorf("Run = %v, want an error saying that pool Nope does not exist", err)
	}
}
