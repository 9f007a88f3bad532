package run_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
)

// benchDrive runs st to completion, finishing every started instance at once.
func benchDrive(b *testing.B, st *run.State) int {
	now := t0
	jobs := 0
	for !st.Done() {
		acts := st.Next(now)
		now = now.Add(time.Millisecond)
		for _, a := range acts {
			if a.Kind == run.StartJob {
				jobs++
				if err := st.JobFinished(a.JobID, job.Report{Result: job.Succeeded, Outputs: outputs("s.v", "1")}, now); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return jobs
}

func benchRun(b *testing.B, p plan.Plan) {
	b.ReportAllocs()
	jobs := 0
	for b.Loop() {
		st, err := run.New(p, run.Options{RunID: 1}, t0)
		if err != nil {
			b.Fatal(err)
		}
		jobs += benchDrive(b, st)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(jobs), "ns/job")
}

// BenchmarkStateMatrix20 is the orchestration cost of a 20-leg matrix job (no executor).
func BenchmarkStateMatrix20(b *testing.B) {
	var legs []plan.MatrixLeg
	for i := range 20 {
		legs = append(legs, leg(fmt.Sprintf("leg%d", i), "n", fmt.Sprint(i)))
	}
	benchRun(b, plan.Plan{Stages: []plan.Stage{stage("S", nil, matrixJob("M", 0, legs...))}})
}

// BenchmarkStateChain50 is 50 jobs each depending on the previous one, with a `$[ ]`
// variable reading the previous job's output: the sequential worst case.
func BenchmarkStateChain50(b *testing.B) {
	jobs := []plan.Job{pjob("J0")}
	for i := 1; i < 50; i++ {
		prev := fmt.Sprintf("J%d", i-1)
		jobs = append(jobs, withVars(pjob(fmt.Sprintf("J%d", i), prev), "o", "$[ dependencies."+prev+".outputs['s.v'] ]"))
	}
	benchRun(b, plan.Plan{Stages: []plan.Stage{stage("S", nil, jobs...)}})
}

// BenchmarkStateStages10x5 is 10 sequential stages of 5 parallel jobs.
func BenchmarkStateStages10x5(b *testing.B) {
	var stages []plan.Stage
	for i := range 10 {
		var deps []string
		if i > 0 {
			deps = []string{fmt.Sprintf("S%d", i-1)}
		}
		stages = append(stages, stage(fmt.Sprintf("S%d", i), deps, pjob("A"), pjob("B"), pjob("C"), pjob("D"), pjob("E")))
	}
	benchRun(b, plan.Plan{Stages: stages})
}
