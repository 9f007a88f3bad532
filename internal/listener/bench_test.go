package listener_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"

	"github.com/keystage/keystage/internal/listener"
	"github.com/keystage/keystage/internal/orchestrator/orchtest"
	"github.com/keystage/keystage/internal/task"
)

// signalHandler is a slog handler that reports the listener's "job started" and
// "job finished" records on channels: the moment an agent accepted a job, and the moment
// it reported one.
type signalHandler struct {
	started, finished chan time.Time
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "job started":
		h.started <- r.Time
	case "job finished":
		h.finished <- r.Time
	}
	return nil
}

// benchAgent runs an in-process listener for a benchmark.
func benchAgent(b *testing.B, s *orchtest.Server, name string, log *slog.Logger) {
	l, err := listener.New(listener.Config{
		URL: s.OrgURL, Pool: "Default", Token: s.PAT, Name: name, WorkDir: b.TempDir(),
		Tasks: task.Builtins(), HTTPClient: s.Client, Logger: log,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
}

const noopJob = `
pool: Default
steps:
- checkout: none
- bash: "true"
`

// BenchmarkQueueToStart measures, on an idle agent, the time from the RunPipeline call
// (compiling the pipeline included) to the agent accepting the job: the agent's long poll
// is woken by the enqueue. Target: under 100 ms.
func BenchmarkQueueToStart(b *testing.B) {
	s := orchtest.Start(b, orchtest.Options{})
	id := s.Pipeline("noop", map[string]string{"azure-pipelines.yml": noopJob})
	sig := signalHandler{started: make(chan time.Time, 1), finished: make(chan time.Time, 1)}
	benchAgent(b, s, "idle", slog.New(sig))
	ctx := context.Background()
	pc := pipelines.NewClient(ctx, s.Conn())
	queue := func() {
		if _, err := pc.RunPipeline(ctx, pipelines.RunPipelineArgs{Project: ptr("webapp"), PipelineId: &id,
			RunParameters: &pipelines.RunPipelineParameters{}}); err != nil {
			b.Fatal(err)
		}
	}
	queue() // warm up connections and caches
	<-sig.started
	<-sig.finished
	time.Sleep(50 * time.Millisecond) // the agent is polling again
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		queue()
		started := <-sig.started
		lat = append(lat, started.Sub(t0))
		b.StopTimer()
		<-sig.finished
		time.Sleep(20 * time.Millisecond) // idle again: the next poll is waiting
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// BenchmarkThroughput runs 500 one-step jobs on 4 agents and reports jobs per second:
// as one run of a `parallel: 500` job, and as 500 runs of one job each.
func BenchmarkThroughput(b *testing.B) {
	const jobs, agents = 500, 4
	for _, shape := range []string{"one-run", "many-runs"} {
		b.Run(fmt.Sprintf("%s/%d-jobs/%d-agents", shape, jobs, agents), func(b *testing.B) {
			s := orchtest.Start(b, orchtest.Options{})
			yaml := noopJob
			if shape == "one-run" {
				yaml = strings.Replace(`
pool: Default
jobs:
- job: j
  strategy: { parallel: N }
  steps:
  - checkout: none
  - bash: "true"
`, "N", fmt.Sprint(jobs), 1)
			}
			id := s.Pipeline("load", map[string]string{"azure-pipelines.yml": yaml})
			for i := range agents {
				benchAgent(b, s, fmt.Sprintf("agent-%d", i+1), nil)
			}
			ctx := context.Background()
			pc := pipelines.NewClient(ctx, s.Conn())
			var elapsed time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				runs := 1
				if shape == "many-runs" {
					runs = jobs
				}
				var ids []int
				for range runs {
					r, err := pc.RunPipeline(ctx, pipelines.RunPipelineArgs{Project: ptr("webapp"), PipelineId: &id,
						RunParameters: &pipelines.RunPipelineParameters{}})
					if err != nil {
						b.Fatal(err)
					}
					ids = append(ids, *r.Id)
				}
				for _, rid := range ids {
					for {
						r, err := pc.GetRun(ctx, pipelines.GetRunArgs{Project: ptr("webapp"), PipelineId: &id, RunId: &rid})
						if err != nil {
							b.Fatal(err)
						}
						if *r.State == pipelines.RunStateValues.Completed {
							if *r.Result != pipelines.RunResultValues.Succeeded {
								b.Fatalf("run %d: %s", rid, *r.Result)
							}
							break
						}
						time.Sleep(50 * time.Millisecond)
					}
				}
				elapsed += time.Since(t0)
			}
			b.StopTimer()
			b.ReportMetric(float64(jobs*b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}
