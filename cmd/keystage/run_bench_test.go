package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// benchRepo writes a pipeline into a fresh directory (no git: the runner then uses the
// directory as is) and returns it.
func benchRepo(b *testing.B, yaml string) string {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "azure-pipelines.yml"), []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

func benchKeystage(b *testing.B, dir string, args ...string) {
	b.Helper()
	b.Chdir(dir)
	work := b.TempDir()
	args = append([]string{"run", "--workdir", work}, args...)
	b.ResetTimer()
	for b.Loop() {
		if code := run(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard, func(string) string { return "" }); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

// BenchmarkRun50Steps is `keystage run` of one job of 50 `script: true` steps; compare
// with BenchmarkBash50 (the same work without Keystage) for the per-step overhead.
func BenchmarkRun50Steps(b *testing.B) {
	var y strings.Builder
	y.WriteString("steps:\n- checkout: none\n")
	for range 50 {
		y.WriteString("- script: true\n")
	}
	benchKeystage(b, benchRepo(b, y.String()))
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*50), "µs/step")
}

// BenchmarkBash50 is the work of BenchmarkRun50Steps alone: 50 runs of a script file
// holding `true` with `bash --noprofile --norc`, as CmdLine@2 runs it.
func BenchmarkBash50(b *testing.B) {
	script := filepath.Join(b.TempDir(), "s.sh")
	if err := os.WriteFile(script, []byte("true\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for range 50 {
			if err := exec.Command("bash", "--noprofile", "--norc", script).Run(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*50), "µs/step")
}

// matrix20 is a 20-leg matrix job of one `script: true` step each.
func matrix20() string {
	var y strings.Builder
	y.WriteString("jobs:\n- job: M\n  strategy:\n    matrix:\n")
	for i := range 20 {
		fmt.Fprintf(&y, "      leg%d: { n: '%d' }\n", i, i)
	}
	y.WriteString("  steps:\n  - checkout: none\n  - script: true\n")
	return y.String()
}

// BenchmarkRunMatrix20 is `keystage run` of a 20-leg matrix, legs running in parallel.
func BenchmarkRunMatrix20(b *testing.B) {
	benchKeystage(b, benchRepo(b, matrix20()))
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*20), "µs/job")
}

// BenchmarkRunMatrix20Serial is the same with --max-parallel 1: the full cost of each job,
// one after the other.
func BenchmarkRunMatrix20Serial(b *testing.B) {
	benchKeystage(b, benchRepo(b, matrix20()), "--max-parallel", "1")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*20), "µs/job")
}
