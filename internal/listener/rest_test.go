package listener_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"

	"github.com/keystage/keystage/internal/orchestrator/orchtest"
)

// TestLogsOverREST follows a running step's log (Keystage's follow mode), then reads
// ranges, the zip of all logs, and the Pipelines API's log list.
func TestLogsOverREST(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	goFile := filepath.Join(t.TempDir(), "go")
	id := s.Pipeline("lines", map[string]string{"azure-pipelines.yml": `
pool: Default
steps:
- checkout: none
- bash: |
    for i in 1 2 3; do echo "line $i"; done
    while [ ! -e "` + goFile + `" ]; do sleep 0.05; done
    for i in 4 5; do echo "line $i"; done
  displayName: Count
`})
	startAgent(t, s, "agent-1", nil, false)
	ctx := context.Background()
	run := runPipeline(t, s, id, nil)
	bc, _ := build.NewClient(ctx, s.Conn())
	var logID int
	waitFor(t, "the step's log", func() bool {
		tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: run.Id})
		if err != nil {
			return false
		}
		for _, r := range *tl.Records {
			if *r.Name == "Count" && r.Log != nil {
				logID = *r.Log.Id
				return true
			}
		}
		return false
	})

	// Follow: lines arrive while the step runs; the answer ends with the step.
	req, _ := http.NewRequest("GET", s.OrgURL+"/webapp/_apis/build/builds/"+strconv.Itoa(*run.Id)+"/logs/"+strconv.Itoa(logID)+"?follow=true", nil)
	req.SetBasicAuth("", s.PAT)
	req.Header.Set("Accept", "text/plain")
	resp, err := s.Client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("follow: %v %v", resp, err)
	}
	sc := bufio.NewScanner(resp.Body)
	var got []string
	first := 0 // the number of the line "line 1" (after the task's banner)
	for sc.Scan() {
		got = append(got, sc.Text())
		if sc.Text() == "line 1" {
			first = len(got)
		}
		if sc.Text() == "line 3" {
			// The step waits for the go file: these lines came live.
			if err := os.WriteFile(goFile, []byte("go"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	resp.Body.Close()
	if first == 0 || len(got) < first+4 {
		t.Fatalf("followed log = %q", got)
	}
	if diff := cmp.Diff([]string{"line 1", "line 2", "line 3", "line 4", "line 5"}, got[first-1:first+4]); diff != "" {
		t.Errorf("followed log (-want +got):\n%s", diff)
	}
	if last := got[len(got)-1]; last != "##[section]Finishing: Count" {
		t.Errorf("the followed log ends with %q", last)
	}
	waitRun(t, s, id, *run.Id)

	lines, err := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: run.Id, LogId: &logID,
		StartLine: ptr(uint64(first + 1)), EndLine: ptr(uint64(first + 2))})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"line 2", "line 3"}, *lines); diff != "" {
		t.Errorf("lines 2-3 (-want +got):\n%s", diff)
	}
	logs, err := bc.GetBuildLogs(ctx, build.GetBuildLogsArgs{Project: ptr("webapp"), BuildId: run.Id})
	if err != nil || len(*logs) < 4 {
		t.Fatalf("GetBuildLogs = %v, %v", logs, err)
	}
	zr, err := bc.GetBuildLogsZip(ctx, build.GetBuildLogsZipArgs{Project: ptr("webapp"), BuildId: run.Id})
	if err != nil {
		t.Fatal(err)
	}
	zb, _ := io.ReadAll(zr)
	zr.Close()
	files := unzip(t, zb)
	if len(files) != len(*logs) || !strings.Contains(files[strconv.Itoa(logID)+"_Count.txt"], "line 5") {
		t.Errorf("logs zip has %d files: %v", len(files), keys(files))
	}

	pc := pipelines.NewClient(ctx, s.Conn())
	lc, err := pc.ListLogs(ctx, pipelines.ListLogsArgs{Project: ptr("webapp"), PipelineId: &id, RunId: run.Id})
	if err != nil || len(*lc.Logs) != len(*logs) {
		t.Fatalf("ListLogs = %v, %v", lc, err)
	}
	one, err := pc.GetLog(ctx, pipelines.GetLogArgs{Project: ptr("webapp"), PipelineId: &id, RunId: run.Id, LogId: &logID})
	if err != nil || int(*one.LineCount) != len(got) {
		t.Errorf("GetLog = %v, %v", one, err)
	}
	runs, err := pc.ListRuns(ctx, pipelines.ListRunsArgs{Project: ptr("webapp"), PipelineId: &id})
	if err != nil || len(*runs) != 1 || *(*runs)[0].Id != *run.Id {
		t.Errorf("ListRuns = %v, %v", runs, err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPreviewAndBuildsAPI: a preview returns the final YAML without creating a run; the
// Build API queues, lists with continuation, cancels a queued build, and deletes it.
func TestPreviewAndBuildsAPI(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	id := s.Pipeline("params", map[string]string{"azure-pipelines.yml": `
parameters:
- name: who
  default: world
pool: Default
steps:
- script: echo hello ${{ parameters.who }}
`})
	ctx := context.Background()
	pc := pipelines.NewClient(ctx, s.Conn())
	prev, err := pc.RunPipeline(ctx, pipelines.RunPipelineArgs{Project: ptr("webapp"), PipelineId: &id, RunParameters: &pipelines.RunPipelineParameters{
		PreviewRun: ptr(true), TemplateParameters: &map[string]string{"who": "keystage"}}})
	if err != nil || prev.FinalYaml == nil || !strings.Contains(*prev.FinalYaml, "echo hello keystage") {
		t.Fatalf("preview = %v, %v", prev, err)
	}
	bc, _ := build.NewClient(ctx, s.Conn())
	if page, err := bc.GetBuilds(ctx, build.GetBuildsArgs{Project: ptr("webapp")}); err != nil || len(page.Value) != 0 {
		t.Fatalf("a preview created builds: %v, %v", page, err)
	}
	// Queue three builds (no agent: they stay queued).
	var ids []int
	for range 3 {
		b, err := bc.QueueBuild(ctx, build.QueueBuildArgs{Project: ptr("webapp"), Build: &build.Build{
			Definition: &build.DefinitionReference{Id: &id}, SourceBranch: ptr("main"), Parameters: ptr(`{"x":"1"}`)}})
		if err != nil {
			t.Fatalf("QueueBuild: %v", err)
		}
		if *b.SourceBranch != "refs/heads/main" || *b.Parameters != `{"x":"1"}` {
			t.Errorf("queued build = branch %s parameters %s", *b.SourceBranch, *b.Parameters)
		}
		ids = append(ids, *b.Id)
	}
	var listed []int
	args := build.GetBuildsArgs{Project: ptr("webapp"), Top: ptr(2)}
	for {
		page, err := bc.GetBuilds(ctx, args)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Value {
			listed = append(listed, *b.Id)
		}
		if page.ContinuationToken == "" {
			break
		}
		args.ContinuationToken = &page.ContinuationToken
	}
	if diff := cmp.Diff([]int{ids[2], ids[1], ids[0]}, listed); diff != "" {
		t.Errorf("builds newest first, paged by 2 (-want +got):\n%s", diff)
	}
	// Cancel ("Cancelling", as az sends it) a queued build: it ends canceled at once.
	b, err := bc.UpdateBuild(ctx, build.UpdateBuildArgs{Project: ptr("webapp"), BuildId: &ids[0], Build: &build.Build{Status: ptr(build.BuildStatus("Cancelling"))}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for *b.Status != build.BuildStatusValues.Completed && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		b, _ = bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &ids[0]})
	}
	if *b.Result != build.BuildResultValues.Canceled {
		t.Errorf("canceled build: %s %s", *b.Status, *b.Result)
	}
	if err := bc.DeleteBuild(ctx, build.DeleteBuildArgs{Project: ptr("webapp"), BuildId: &ids[0]}); err != nil {
		t.Errorf("DeleteBuild: %v", err)
	}
	if _, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &ids[0]}); err == nil {
		t.Error("the deleted build is still there")
	}
	if err := bc.DeleteBuild(ctx, build.DeleteBuildArgs{Project: ptr("webapp"), BuildId: &ids[1]}); err == nil {
		t.Error("deleting a queued build succeeded")
	}
}

// TestOnce: an agent started with Once runs one job and returns.
func TestOnce(t *testing.T) {
	s := orchtest.Start(t, orchtest.Options{})
	id := s.Pipeline("once", map[string]string{"azure-pipelines.yml": "pool: Default\nsteps:\n- checkout: none\n- bash: echo once\n"})
	first := runPipeline(t, s, id, nil)
	second := runPipeline(t, s, id, nil)
	done := startAgent(t, s, "once", nil, true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an agent with Once did not return after its job")
	}
	if r := waitRun(t, s, id, *first.Id); *r.Result != pipelines.RunResultValues.Succeeded {
		t.Errorf("first run: %s", *r.Result)
	}
	ctx := context.Background()
	r, err := pipelines.NewClient(ctx, s.Conn()).GetRun(ctx, pipelines.GetRunArgs{Project: ptr("webapp"), PipelineId: &id, RunId: second.Id})
	if err != nil || *r.State == pipelines.RunStateValues.Completed {
		t.Errorf("the second run ran on a --once agent: %v, %v", r, err)
	}
}
