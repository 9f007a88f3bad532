package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/task"
)

const benchSteps = 50

// BenchmarkJob50TrueSteps measures a job of 50 `script: true` steps; the per-step overhead
// is (ns/op of this minus BenchmarkBash50True) / 50.
func BenchmarkJob50TrueSteps(b *testing.B) {
	f := newFixture(b, nil)
	steps := make([]plan.Step, benchSteps)
	for i := range steps {
		steps[i] = script("true")
	}
	req := f.request(steps)
	b.ResetTimer()
	for b.Loop() {
		rep := f.exec.Execute(context.Background(), req, Discard)
		if rep.Result != "Succeeded" {
			b.Fatalf("result %s", rep.Result)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchSteps/1e6, "ms/step")
}

// BenchmarkBash50True is the work itself: writing a script file and running
// `bash --noprofile --norc` on it 50 times.
func BenchmarkBash50True(b *testing.B) {
	dir := b.TempDir()
	bash, err := exec.LookPath("bash")
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		for i := 0; i < benchSteps; i++ {
			p := filepath.Join(dir, "s.sh")
			if err := os.WriteFile(p, []byte("true"), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := exec.Command(bash, "--noprofile", "--norc", p).Run(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchSteps/1e6, "ms/step")
}

// noopTask does nothing; it isolates the executor's own per-step cost (conditions,
// variable expansion, inputs, environment, framing, masking) from running a process.
type noopTask struct{}

var noopDef = &task.Definition{Name: "Noop", Version: task.Version{Major: 1}, Inputs: []task.Input{{Name: "x", Default: "$(Build.SourcesDirectory)"}}}

func (noopTask) Definition() *task.Definition                 { return noopDef }
func (noopTask) Run(ctx context.Context, env *task.Env) error { return nil }

// BenchmarkJob50NoopSteps measures the executor's overhead per step without a process.
func BenchmarkJob50NoopSteps(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Tasks = append(c.Tasks, noopTask{}) })
	steps := make([]plan.Step, benchSteps)
	for i := range steps {
		steps[i] = plan.Step{Task: plan.Task{Name: "Noop", Version: 1}, Enabled: true}
	}
	req := f.request(steps)
	for b.Loop() {
		if rep := f.exec.Execute(context.Background(), req, Discard); rep.Result != "Succeeded" {
			b.Fatalf("result %s", rep.Result)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchSteps/1e6, "ms/step")
}
