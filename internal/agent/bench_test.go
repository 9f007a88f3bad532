package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keystage/keystage/internal/pipeline/plan"
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
