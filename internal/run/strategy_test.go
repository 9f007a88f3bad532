package run_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
)

func matrixJob(name string, maxParallel int, legs ...plan.MatrixLeg) plan.Job {
	j := pjob(name)
	j.Strategy = &plan.Strategy{Matrix: legs, MaxParallel: maxParallel}
	return j
}

func leg(name string, kv ...string) plan.MatrixLeg {
	return plan.MatrixLeg{Name: name, Variables: vars(kv...)}
}

// instanceInfo is what a test checks about one started instance.
type instanceInfo struct {
	JobName, DisplayName, SystemJobName, Identifier string
	Position, Total                                 int
}

func infoOf(req job.Request) instanceInfo {
	get := func(n string) string { v, _ := lookup(req, n); return v.Value }
	if req.InstanceName != get("System.JobName") || req.PhaseName != get("System.PhaseName") {
		return instanceInfo{JobName: "request fields disagree with variables"}
	}
	return instanceInfo{
		JobName: req.JobName, DisplayName: req.JobDisplayName, SystemJobName: get("System.JobName"),
		Identifier: get("System.JobIdentifier"), Position: req.JobPositionInPhase, Total: req.TotalJobsInPhase,
	}
}

func TestStrategyExpansion(t *testing.T) {
	tests := []struct {
		name        string
		plan        plan.Plan
		script      script
		want        map[string]instanceInfo
		wantMax     int
		wantResults string
	}{
		{
			name: "plain job",
			plan: plan.Plan{Stages: []plan.Stage{stage("__default", nil, pjob("Job"))}},
			want: map[string]instanceInfo{
				"__default/Job": {JobName: "Job", DisplayName: "Job", SystemJobName: "__default", Identifier: "Job.__default", Position: 1, Total: 1},
			},
			wantMax:     1,
			wantResults: "__default=Succeeded __default/Job=Succeeded",
		},
		{
			name: "static matrix with maxParallel",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				matrixJob("Build", 2, leg("linux", "os", "ubuntu"), leg("mac", "os", "macos"), leg("windows", "os", "windows")))}},
			want: map[string]instanceInfo{
				"S/Build/linux":   {JobName: "Build_linux", DisplayName: "Build linux", SystemJobName: "linux", Identifier: "S.Build.linux", Position: 1, Total: 3},
				"S/Build/mac":     {JobName: "Build_mac", DisplayName: "Build mac", SystemJobName: "mac", Identifier: "S.Build.mac", Position: 2, Total: 3},
				"S/Build/windows": {JobName: "Build_windows", DisplayName: "Build windows", SystemJobName: "windows", Identifier: "S.Build.windows", Position: 3, Total: 3},
			},
			wantMax:     2,
			wantResults: "S=Succeeded S/Build=Succeeded",
		},
		{
			name: "one failed leg fails the job",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				matrixJob("Build", 0, leg("a"), leg("b")), pjob("After", "Build"))}},
			script: script{"S/Build/b": failed},
			want: map[string]instanceInfo{
				"S/Build/a": {JobName: "Build_a", DisplayName: "Build a", SystemJobName: "a", Identifier: "S.Build.a", Position: 1, Total: 2},
				"S/Build/b": {JobName: "Build_b", DisplayName: "Build b", SystemJobName: "b", Identifier: "S.Build.b", Position: 2, Total: 2},
			},
			wantMax:     2,
			wantResults: "S=Failed S/Build=Failed S/After=Skipped",
		},
		{
			name: "parallel slices",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil, func() plan.Job {
				j := pjob("Test")
				j.DisplayName = "Tests"
				j.Strategy = &plan.Strategy{Parallel: 3}
				return j
			}())}},
			want: map[string]instanceInfo{
				"S/Test/Job1": {JobName: "Test_Job1", DisplayName: "Tests 1", SystemJobName: "Job1", Identifier: "S.Test.Job1", Position: 1, Total: 3},
				"S/Test/Job2": {JobName: "Test_Job2", DisplayName: "Tests 2", SystemJobName: "Job2", Identifier: "S.Test.Job2", Position: 2, Total: 3},
				"S/Test/Job3": {JobName: "Test_Job3", DisplayName: "Tests 3", SystemJobName: "Job3", Identifier: "S.Test.Job3", Position: 3, Total: 3},
			},
			wantMax:     3,
			wantResults: "S=Succeeded S/Test=Succeeded",
		},
		{
			name: "runtime matrix from an output variable",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				pjob("Plan"),
				func() plan.Job {
					j := pjob("Build", "Plan")
					j.Strategy = &plan.Strategy{MatrixExpr: "$[ dependencies.Plan.outputs['legs.matrix'] ]"}
					return j
				}())}},
			script: script{"S/Plan": {Result: job.Succeeded, Outputs: outputs("legs.matrix",
				`{"x86": {"arch": "386", "cgo": false}, "arm64": {"arch": "arm64", "n": 2}}`)}},
			want: map[string]instanceInfo{
				"S/Plan":        {JobName: "Plan", DisplayName: "Plan", SystemJobName: "__default", Identifier: "S.Plan.__default", Position: 1, Total: 1},
				"S/Build/x86":   {JobName: "Build_x86", DisplayName: "Build x86", SystemJobName: "x86", Identifier: "S.Build.x86", Position: 1, Total: 2},
				"S/Build/arm64": {JobName: "Build_arm64", DisplayName: "Build arm64", SystemJobName: "arm64", Identifier: "S.Build.arm64", Position: 2, Total: 2},
			},
			wantMax:     2,
			wantResults: "S=Succeeded S/Plan=Succeeded S/Build=Succeeded",
		},
		{
			name: "empty runtime matrix still runs one job",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil, func() plan.Job {
				j := pjob("Build")
				j.Strategy = &plan.Strategy{MatrixExpr: "$[ variables.none ]"}
				return j
			}())}},
			want: map[string]instanceInfo{
				"S/Build": {JobName: "Build", DisplayName: "Build", SystemJobName: "__default", Identifier: "S.Build.__default", Position: 1, Total: 1},
			},
			wantMax:     1,
			wantResults: "S=Succeeded S/Build=Succeeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := driver{script: tt.script}.drive(t, mustNew(t, tt.plan, run.Options{RunID: 7}))
			got := map[string]instanceInfo{}
			for k, req := range tr.requests {
				got[k] = infoOf(req)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
			if tr.maxRunning != tt.wantMax {
				t.Errorf("maxRunning = %d, want %d", tr.maxRunning, tt.wantMax)
			}
			if r := results(tr.state); r != tt.wantResults {
				t.Errorf("results = %s, want %s", r, tt.wantResults)
			}
		})
	}
}

func TestMatrixLegVariables(t *testing.T) {
	p := plan.Plan{Stages: []plan.Stage{stage("S", nil, func() plan.Job {
		j := pjob("Build")
		j.Variables = vars("os", "any", "cc", "gcc")
		j.Strategy = &plan.Strategy{MatrixExpr: `$[ '{"a": {"os": "linux", "flag": true}, "b": {"os": "mac", "n": 1.50}}' ]`}
		return j
	}())}}
	tr := driver{}.drive(t, mustNew(t, p, run.Options{}))
	for key, want := range map[string][3]string{
		"S/Build/a": {"linux", "gcc", "True"},
		"S/Build/b": {"mac", "gcc", ""},
	} {
		req := tr.requests[key]
		os, _ := lookup(req, "os")
		cc, _ := lookup(req, "cc")
		flag, _ := lookup(req, "flag")
		if got := [3]string{os.Value, cc.Value, flag.Value}; got != want {
			t.Errorf("%s: os, cc, flag = %q, want %q", key, got, want)
		}
	}
	if n, _ := lookup(tr.requests["S/Build/b"], "n"); n.Value != "1.5" {
		t.Errorf("number leg value = %q, want 1.5", n.Value)
	}
}

func TestRuntimeMatrixErrors(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{"not an object", `$[ '[1,2]' ]`, "matrix must be a JSON object of legs, not Array"},
		{"bad json", `$[ '{"a":' ]`, "matrix: expr: parse JSON"},
		{"leg not an object", `$[ '{"a": "x"}' ]`, "matrix leg a must be an object of variables"},
		{"nested value", `$[ '{"a": {"v": [1]}}' ]`, "matrix leg a variable v must be a string, number or boolean"},
		{"bad leg name", `$[ '{"a.b": {}}' ]`, `matrix leg name "a.b" contains one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := pjob("Build")
			j.Strategy = &plan.Strategy{MatrixExpr: tt.expr}
			tr := driver{}.drive(t, mustNew(t, plan.Plan{Stages: []plan.Stage{stage("S", nil, j)}}, run.Options{}))
			js := tr.state.Stage("S").Job("Build")
			if js.Result != job.Failed || !strings.Contains(js.Reason, tt.want) {
				t.Errorf("job %s reason %q, want Failed with %q", js.Result, js.Reason, tt.want)
			}
			if len(tr.requests) != 0 {
				t.Errorf("started %d instances, want none", len(tr.requests))
			}
		})
	}
}

func TestJobIDs(t *testing.T) {
	p := plan.Plan{Stages: []plan.Stage{stage("S", nil, matrixJob("Build", 0, leg("a"), leg("b")))}}
	ids := func(runID int64) []string {
		tr := driver{}.drive(t, mustNew(t, p, run.Options{RunID: runID}))
		return []string{tr.requests["S/Build/a"].JobID, tr.requests["S/Build/b"].JobID}
	}
	a, b, c := ids(1), ids(1), ids(2)
	if a[0] != b[0] || a[1] != b[1] {
		t.Errorf("same run, different IDs: %v %v", a, b)
	}
	if a[0] == a[1] || a[0] == c[0] {
		t.Errorf("IDs collide: %v %v", a, c)
	}
	if len(a[0]) != 36 || a[0][14] != '5' {
		t.Errorf("ID %s is not a version 5 UUID", a[0])
	}
}
