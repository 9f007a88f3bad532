package listener_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"

	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/orchestrator/orchtest"
)

// TestServerRestart restarts the server with a finished run, a queued run (no agent yet)
// and a running job whose agent stays up, on each storage backend: nothing is lost, the
// queued run runs once an agent comes, and the running job finishes on its agent.
func TestServerRestart(t *testing.T) {
	for _, backend := range identitytest.Backends {
		t.Run(backend, func(t *testing.T) { testServerRestart(t, backend) })
	}
}

func testServerRestart(t *testing.T, backend string) {
	s := orchtest.Start(t, orchtest.Options{Backend: backend, Lease: 5 * time.Second})
	ctx := context.Background()
	quick := s.Pipeline("quick", map[string]string{"azure-pipelines.yml": `
pool: Default
steps:
- bash: echo "finished run output" && mkdir -p $(Build.ArtifactStagingDirectory)/x && echo kept > $(Build.ArtifactStagingDirectory)/x/kept.txt
- publish: $(Build.ArtifactStagingDirectory)
  artifact: out
`})
	hosted := s.Pipeline("hosted", map[string]string{"azure-pipelines.yml": `
pool: { vmImage: ubuntu-latest }
steps: [ { bash: echo ran on a hosted-pool agent } ]
`})
	dir := t.TempDir()
	goFile := filepath.Join(dir, "go")
	slow := s.Pipeline("slow", map[string]string{"azure-pipelines.yml": `
pool: { name: Default, demands: [ plain ] }
steps:
- bash: |
    echo before restart
    while [ ! -e "` + goFile + `" ]; do sleep 0.05; done
    echo after restart
  displayName: Span the restart
`})

	// A finished run.
	startAgent(t, s, "plain", map[string]string{"plain": "yes"}, false)
	finished := runPipeline(t, s, quick, nil)
	if r := waitRun(t, s, quick, *finished.Id); *r.Result != pipelines.RunResultValues.Succeeded {
		t.Fatalf("first run: %s", *r.Result)
	}
	// A run that waits: vmImage maps to the hosted pool, which has no agent yet.
	queued := runPipeline(t, s, hosted, nil)
	// A job running across the restart.
	running := runPipeline(t, s, slow, nil)
	bc, _ := build.NewClient(ctx, s.Conn())
	waitFor(t, "the slow step to start", func() bool {
		tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: running.Id})
		if err != nil {
			return false
		}
		for _, r := range *tl.Records {
			if *r.Name == "Span the restart" && *r.State == build.TimelineRecordStateValues.InProgress {
				return true
			}
		}
		return false
	})

	s.Restart(500 * time.Millisecond)
	if err := os.WriteFile(goFile, []byte("go"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The running job finishes on its agent, with its whole log.
	r := waitRun(t, s, slow, *running.Id)
	if *r.Result != pipelines.RunResultValues.Succeeded {
		t.Errorf("run across the restart: %s", *r.Result)
	}
	bc, _ = build.NewClient(ctx, s.Conn())
	if got := stepLog(t, bc, *running.Id, "Span the restart"); !strings.Contains(got, "before restart") || !strings.Contains(got, "after restart") {
		t.Errorf("log across the restart = %q", got)
	}
	// The finished run is intact: build, log and artifact.
	b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: finished.Id})
	if err != nil || *b.Result != build.BuildResultValues.Succeeded {
		t.Errorf("finished run after restart = %v, %v", b, err)
	}
	if got := stepLog(t, bc, *finished.Id, "Bash"); !strings.Contains(got, "finished run output") {
		t.Errorf("finished run's log after restart = %q", got)
	}
	zr, err := bc.GetArtifactContentZip(ctx, build.GetArtifactContentZipArgs{Project: ptr("webapp"), BuildId: finished.Id, ArtifactName: ptr("out")})
	if err != nil {
		t.Fatalf("artifact after restart: %v", err)
	}
	zb, _ := io.ReadAll(zr)
	zr.Close()
	if unzip(t, zb)["out/x/kept.txt"] != "kept\n" {
		t.Errorf("artifact after restart = %q", unzip(t, zb))
	}
	// The queued run is still queued, and runs when an agent that can take it comes.
	if b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: queued.Id}); err != nil || *b.Status == build.BuildStatusValues.Completed {
		t.Fatalf("queued run after restart = %v, %v", b, err)
	}
	startAgentIn(t, s, "Azure Pipelines", "hosted-1", nil, false)
	if r := waitRun(t, s, hosted, *queued.Id); *r.Result != pipelines.RunResultValues.Succeeded {
		t.Errorf("queued run after restart: %s", *r.Result)
	}
}

// stepLog returns the log of the first task record whose name contains name.
func stepLog(t *testing.T, bc build.Client, buildID int, name string) string {
	t.Helper()
	ctx := context.Background()
	tl, err := bc.GetBuildTimeline(ctx, build.GetBuildTimelineArgs{Project: ptr("webapp"), BuildId: &buildID})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range *tl.Records {
		if *r.Type == "Task" && strings.Contains(*r.Name, name) && r.Log != nil {
			lines, err := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: &buildID, LogId: r.Log.Id})
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(*lines, "\n")
		}
	}
	t.Fatalf("build %d has no task %q", buildID, name)
	return ""
}
