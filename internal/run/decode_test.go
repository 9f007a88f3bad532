package run_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
)

// samplePlan exercises most of the state: stages, job graphs, a matrix, outputs, conditions.
func samplePlan() plan.Plan {
	return plan.Plan{
		Variables: vars("v", "1"),
		Stages: []plan.Stage{
			stage("A", nil, pjob("A1"), matrixJob("M", 1, leg("x", "k", "1"), leg("y", "k", "2")), pjob("A2", "A1")),
			stage("B", []string{"A"}, withVars(pjob("B1"), "o", "$[ stageDependencies.A.A1.outputs['s.v'] ]")),
			stageCond(stage("C", []string{"A"}, pjob("C1")), "failed()"),
		},
	}
}

// snapshots returns the JSON of a run of samplePlan after every step.
func snapshots(t testing.TB) [][]byte {
	st, err := run.New(samplePlan(), run.Options{RunID: 3}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	now := t0
	for i := 0; i < 50 && !st.Done(); i++ {
		var started []string
		for _, a := range st.Next(now) {
			if a.Kind == run.StartJob {
				started = append(started, a.JobID)
			}
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		now = now.Add(time.Second)
		for _, id := range started {
			if err := st.JobFinished(id, job.Report{Result: job.Succeeded, Outputs: outputs("s.v", "x")}, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func TestStateJSONRoundTrip(t *testing.T) {
	for i, b := range snapshots(t) {
		var st run.State
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		again, err := json.Marshal(&st)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(b), string(again)); diff != "" {
			t.Fatalf("snapshot %d changed in a round trip (-want +got):\n%s", i, diff)
		}
	}
}

func TestStateJSONRejectsInconsistentStates(t *testing.T) {
	b := snapshots(t)[1]
	tests := []struct{ name, from, to, want string }{
		{"unknown status", `"status":"inProgress"`, `"status":"running"`, `bad run status "running"`},
		{"renamed stage", `"name":"B","displayName":"B"`, `"name":"X","displayName":"B"`, "stage 1 does not match the plan"},
		{"unknown dependency", `"dependsOn":["A"]`, `"dependsOn":["Z"]`, "depends on unknown stage Z"},
		{"not json", `{`, `[`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(b), tt.from, tt.to, 1)
			if bad == string(b) {
				t.Fatalf("%q not in the snapshot", tt.from)
			}
			var st run.State
			err := json.Unmarshal([]byte(bad), &st)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzStateJSON decodes arbitrary states and drives the ones that decode: nothing may panic
// or loop forever.
func FuzzStateJSON(f *testing.F) {
	for _, b := range snapshots(f) {
		f.Add(b, uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, cancelAt uint8) {
		var st run.State
		if err := json.Unmarshal(data, &st); err != nil {
			return
		}
		now := t0
		for i := 0; i < 100 && !st.Done(); i++ {
			if uint8(i) == cancelAt {
				st.Cancel(now)
			}
			acts := st.Next(now)
			st.Deadline()
			now = now.Add(time.Minute)
			for _, a := range acts {
				if a.Kind == run.StartJob {
					_ = st.JobFinished(a.JobID, job.Report{Result: job.Failed}, now)
				}
			}
			for _, s := range st.Stages {
				for _, j := range s.Jobs {
					for _, in := range j.Instances {
						if in.Status == run.InProgress {
							_ = st.JobFinished(in.ID, job.Report{Result: job.Succeeded}, now)
						}
					}
				}
			}
		}
	})
}
