package run_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
)

func withVars(j plan.Job, kv ...string) plan.Job { j.Variables = vars(kv...); return j }

func TestOutputVariables(t *testing.T) {
	tests := []struct {
		name   string
		plan   plan.Plan
		script script
		key    string            // instance whose request is checked
		want   map[string]string // variable -> value
		secret map[string]bool
	}{
		{
			name: "dependencies in the same stage",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				pjob("A"),
				withVars(pjob("B", "A"), "fromA", "$[ dependencies.A.outputs['setvar.myOutput'] ]", "res", "$[dependencies.A.result]"))}},
			script: script{"S/A": {Result: job.Succeeded, Outputs: outputs("setvar.myOutput", "hello")}},
			key:    "S/B",
			want:   map[string]string{"fromA": "hello", "res": "Succeeded"},
		},
		{
			name: "matrix leg outputs are prefixed with the leg name",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				matrixJob("A", 0, leg("debugJob"), leg("releaseJob")),
				withVars(pjob("B", "A"), "d", "$[ dependencies.A.outputs['debugJob.setvarStep.myOutputVar'] ]",
					"r", "$[ dependencies.A.outputs['releaseJob.setvarStep.myOutputVar'] ]"))}},
			script: script{
				"S/A/debugJob":   {Result: job.Succeeded, Outputs: outputs("setvarStep.myOutputVar", "dbg")},
				"S/A/releaseJob": {Result: job.Succeeded, Outputs: outputs("setvarStep.myOutputVar", "rel")},
			},
			key:  "S/B",
			want: map[string]string{"d": "dbg", "r": "rel"},
		},
		{
			name: "parallel slice outputs use job1, job2",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				func() plan.Job { j := pjob("A"); j.Strategy = &plan.Strategy{Parallel: 2}; return j }(),
				withVars(pjob("B", "A"), "first", "$[ dependencies.A.outputs['job1.setvarStep.myOutputVar'] ]"))}},
			script: script{"S/A/Job1": {Result: job.Succeeded, Outputs: outputs("setvarStep.myOutputVar", "slice 1")}},
			key:    "S/B",
			want:   map[string]string{"first": "slice 1"},
		},
		{
			name: "stageDependencies in job variables of a later stage",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("A1")),
				stage("B", []string{"A"}, withVars(pjob("B1"), "v", "$[ stageDependencies.A.A1.outputs['printvar.shouldrun'] ]")),
			}},
			script: script{"A/A1": {Result: job.Succeeded, Outputs: outputs("printvar.shouldrun", "true")}},
			key:    "B/B1",
			want:   map[string]string{"v": "true"},
		},
		{
			name: "stage variables read stageDependencies",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("A1")),
				func() plan.Stage {
					s := stage("B", []string{"A"}, pjob("B1"))
					s.Variables = vars("myVarfromStageA", "$[ stageDependencies.A.A1.outputs['MyOutputVar.myStageAVar'] ]")
					return s
				}(),
			}},
			script: script{"A/A1": {Result: job.Succeeded, Outputs: outputs("MyOutputVar.myStageAVar", "x1")}},
			key:    "B/B1",
			want:   map[string]string{"myVarfromStageA": "x1"},
		},
		{
			name: "secret outputs stay secret when mapped",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				pjob("A"),
				withVars(pjob("B", "A"), "tok", "$[ dependencies.A.outputs['s.token'] ]", "plain", "$[ dependencies.A.outputs['s.other'] ]",
					"derived", "$[ format('Bearer {0}', dependencies.A.outputs['s.token']) ]"))}},
			script: script{"S/A": {Result: job.Succeeded, Outputs: []job.Variable{
				{Name: "s.token", Value: "hunter2hunter2", Secret: true}, {Name: "s.other", Value: "visible"}}}},
			key:    "S/B",
			want:   map[string]string{"tok": "hunter2hunter2", "plain": "visible", "derived": "Bearer hunter2hunter2"},
			secret: map[string]bool{"tok": true, "plain": false, "derived": true},
		},
		{
			name: "runtime expressions read variables and pipeline.startTime",
			plan: plan.Plan{
				Variables: vars("major", "1", "isMain", "$[eq(variables['Build.SourceBranch'], 'refs/heads/main')]"),
				Stages: []plan.Stage{stage("S", nil, withVars(pjob("A"),
					"ver", "$[ format('{0}.{1:yyyyMMdd}', variables.major, pipeline.startTime) ]",
					"stage", "$[ variables['System.StageName'] ]"))},
			},
			key:  "S/A",
			want: map[string]string{"ver": "1.20240309", "isMain": "True", "stage": "S"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := run.Options{Repository: job.Repository{Branch: "refs/heads/main"}}
			tr := driver{script: tt.script, roundTrip: true}.drive(t, mustNew(t, tt.plan, opts))
			req, ok := tr.requests[tt.key]
			if !ok {
				t.Fatalf("%s never started:\n%s", tt.key, strings.Join(tr.events, "\n"))
			}
			for name, want := range tt.want {
				v, ok := lookup(req, name)
				if !ok || v.Value != want {
					t.Errorf("%s = %q (found %v), want %q", name, v.Value, ok, want)
				}
				if v.Secret != tt.secret[name] {
					t.Errorf("%s secret = %v, want %v", name, v.Secret, tt.secret[name])
				}
			}
		})
	}
}

func TestStageConditionOutputs(t *testing.T) {
	p := plan.Plan{Stages: []plan.Stage{
		stage("Check", nil, pjob("Skip"), matrixJob("M", 0, leg("l1"))),
		stageCond(stage("Main", []string{"Check"}, pjob("J")), "eq(dependencies.Check.outputs['Skip.result.start_main'], 'true')"),
		stageCond(stage("Leg", []string{"Check"}, pjob("J")), "eq(dependencies.Check.outputs['M.l1.s.v'], 'x')"),
		stageCond(stage("No", []string{"Check"}, pjob("J")), "eq(dependencies.Check.outputs['Skip.result.start_main'], 'false')"),
	}}
	tr := driver{script: script{
		"Check/Skip": {Result: job.Succeeded, Outputs: outputs("result.start_main", "true")},
		"Check/M/l1": {Result: job.Succeeded, Outputs: outputs("s.v", "x")},
	}}.drive(t, mustNew(t, p, run.Options{}))
	tr.has(t, "stage Main Succeeded", "stage Leg Succeeded", "stage No Skipped")
}

func TestVariablePrecedence(t *testing.T) {
	// X is defined at every scope; each case removes the highest remaining one.
	scopes := []string{"root", "stage", "job", "leg", "queue"}
	for top := len(scopes) - 1; top >= 0; top-- {
		t.Run("up to "+scopes[top], func(t *testing.T) {
			p := plan.Plan{}
			def := func(scope string) []plan.Variable {
				for i, s := range scopes {
					if s == scope && i <= top {
						return vars("X", scope, "only_"+scope, "1")
					}
				}
				return nil
			}
			p.Variables = def("root")
			j := pjob("J")
			j.Variables = def("job")
			j.Strategy = &plan.Strategy{Matrix: []plan.MatrixLeg{{Name: "l", Variables: def("leg")}}}
			s := stage("S", nil, j)
			s.Variables = def("stage")
			p.Stages = []plan.Stage{s}
			var opts run.Options
			if top == 4 {
				opts.Variables = []job.Variable{{Name: "x", Value: "queue"}, {Name: "pw", Value: "s3cret!", Secret: true}}
			}
			tr := driver{}.drive(t, mustNew(t, p, opts))
			req := tr.requests["S/J/l"]
			if v, _ := lookup(req, "X"); v.Value != scopes[top] {
				t.Errorf("X = %q, want %q", v.Value, scopes[top])
			}
			for i := 0; i <= top && i < 4; i++ {
				if v, ok := lookup(req, "only_"+scopes[i]); !ok || v.Value != "1" {
					t.Errorf("only_%s missing", scopes[i])
				}
			}
			if top == 4 {
				if v, _ := lookup(req, "pw"); !v.Secret {
					t.Error("queue-time secret not marked secret")
				}
			}
		})
	}
}

func TestPredefinedVariables(t *testing.T) {
	p := plan.Plan{Stages: []plan.Stage{func() plan.Stage {
		s := stage("Build", nil, func() plan.Job { j := pjob("Compile"); j.DisplayName = "Compile it"; j.TimeoutInMinutes = 30; return j }())
		s.DisplayName = "Build it"
		return s
	}()}}
	opts := run.Options{
		RunID: 42, PipelineName: "ci", Revision: 3, RequestedFor: "Ada",
		Repository: job.Repository{Name: "app", URI: "/src/app", Provider: "Git", Branch: "refs/heads/feature/x", Commit: "abc123", Message: "fix"},
		// A queue-time variable cannot replace what the orchestrator sets.
		Variables: []job.Variable{{Name: "Build.BuildId", Value: "1"}},
	}
	tr := driver{}.drive(t, mustNew(t, p, opts))
	req := tr.requests["Build/Compile"]
	want := map[string]string{
		"Build.BuildId":              "42",
		"Build.BuildNumber":          "20240309.3",
		"Build.DefinitionName":       "ci",
		"Build.Reason":               "Manual",
		"Build.RequestedFor":         "Ada",
		"Build.SourceBranch":         "refs/heads/feature/x",
		"Build.SourceBranchName":     "x",
		"Build.SourceVersion":        "abc123",
		"Build.SourceVersionMessage": "fix",
		"Build.Repository.Name":      "app",
		"Build.Repository.Uri":       "/src/app",
		"Build.Repository.Provider":  "Git",
		"System.HostType":            "build",
		"System.PipelineStartTime":   "2024-03-09 10:30:00+00:00",
		"System.StageName":           "Build",
		"System.StageDisplayName":    "Build it",
		"System.StageAttempt":        "1",
		"System.PhaseName":           "Compile",
		"System.PhaseDisplayName":    "Compile it",
		"System.JobName":             "__default",
		"System.JobDisplayName":      "Compile it",
		"System.JobId":               req.JobID,
		"System.JobAttempt":          "1",
		"System.JobIdentifier":       "Build.Compile.__default",
		"System.JobPositionInPhase":  "1",
		"System.TotalJobsInPhase":    "1",
		"System.JobTimeout":          "30",
	}
	for name, w := range want {
		v, ok := lookup(req, name)
		if !ok || v.Value != w {
			t.Errorf("%s = %q (found %v), want %q", name, v.Value, ok, w)
		}
		if !v.ReadOnly {
			t.Errorf("%s is not read-only", name)
		}
	}
	if req.RunName != "20240309.3" || req.RunID != 42 || req.StageName != "Build" || req.JobName != "Compile" {
		t.Errorf("request identity = %q %d %q %q", req.RunName, req.RunID, req.StageName, req.JobName)
	}
	if req.Repository.Commit != "abc123" || req.Job.Name != "Compile" {
		t.Errorf("request repository/job not filled: %+v", req.Repository)
	}
}

func TestBuildNumber(t *testing.T) {
	at := time.Date(2019, 5, 5, 21, 7, 3, 0, time.FixedZone("x", 3600)) // 20:07:03 UTC
	opts := run.Options{RunID: 752, PipelineName: "CIBuild", TeamProject: "Fabrikam", Revision: 2,
		Repository: job.Repository{Branch: "refs/heads/master"},
		Variables:  []job.Variable{{Name: "My.Variable", Value: "mine"}, {Name: "pw", Value: "x", Secret: true}}}
	tests := []struct{ format, want, key string }{
		{"", "20190505.2", "20190505$(Rev)"},
		{"$(TeamProject)_$(Build.DefinitionName)_$(SourceBranchName)_$(Date:yyyyMMdd)$(Rev:.r)", "Fabrikam_CIBuild_master_20190505.2", "Fabrikam_CIBuild_master_20190505$(Rev)"},
		{"$(BuildDefinitionName)-$(BuildID)-$(Rev:rrr)", "CIBuild-752-002", "CIBuild-752-$(Rev)"},
		{"$(Year:yy)$(Year:yyyy) $(Month)/$(DayOfMonth) $(DayOfYear) $(Hours):$(Minutes):$(Seconds)", "192019 5/5 125 20:7:3", "192019 5/5 125 20:7:3"},
		{"$(My.Variable) $(pw) $(nope) $(Date:HH-mm)", "mine $(pw) $(nope) 20-07", "mine $(pw) $(nope) 20-07"},
		{"v$(major).$(minor)", "v1.$(minor)", "v1.$(minor)"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			p := plan.Plan{Name: tt.format, Variables: vars("major", "1", "minor", "$[ counter(variables.major, 0) ]")}
			if got := run.BuildNumber(p, opts, at); got != tt.want {
				t.Errorf("BuildNumber = %q, want %q", got, tt.want)
			}
			if got := run.RevisionKey(p, opts, at); got != tt.key {
				t.Errorf("RevisionKey = %q, want %q", got, tt.key)
			}
		})
	}
}

func TestVariableGroups(t *testing.T) {
	p := plan.Plan{
		Variables: []plan.Variable{{Name: "a", Value: "root"}, {Group: "shared"}, {Name: "c", Value: "after"}},
		Stages:    []plan.Stage{stage("S", nil, pjob("J"))},
	}
	if _, err := run.New(p, run.Options{}, t0); err == nil || !strings.Contains(err.Error(), "variable group shared is not available") {
		t.Fatalf("New without the group: %v", err)
	}
	opts := run.Options{Groups: map[string][]job.Variable{"Shared": {{Name: "a", Value: "group"}, {Name: "key", Value: "k", Secret: true}}}}
	tr := driver{}.drive(t, mustNew(t, p, opts))
	req := tr.requests["S/J"]
	if v, _ := lookup(req, "a"); v.Value != "group" {
		t.Errorf("a = %q, want the group's value (declared after)", v.Value)
	}
	if v, _ := lookup(req, "key"); !v.Secret || v.Value != "k" {
		t.Errorf("key = %+v, want secret k", v)
	}
}

func TestVariableErrors(t *testing.T) {
	t.Run("root", func(t *testing.T) {
		p := plan.Plan{Variables: vars("bad", "$[ eq(1, ]"), Stages: []plan.Stage{stage("S", nil, pjob("J"))}}
		tr := driver{}.drive(t, mustNew(t, p, run.Options{}))
		if tr.state.Result != job.Failed || !strings.Contains(tr.state.Reason, "root variable bad") {
			t.Errorf("run %s reason %q", tr.state.Result, tr.state.Reason)
		}
		tr.lacks(t, "start ")
	})
	t.Run("job", func(t *testing.T) {
		p := plan.Plan{Stages: []plan.Stage{stage("S", nil, withVars(pjob("J"), "n", "$[ eq(1 ]"), pjob("K"))}}
		tr := driver{}.drive(t, mustNew(t, p, run.Options{}))
		js := tr.state.Stage("S").Job("J")
		if js.Result != job.Failed || !strings.Contains(js.Reason, "job J variables: job J variable n") {
			t.Errorf("job %s reason %q", js.Result, js.Reason)
		}
		tr.has(t, "done S/K Succeeded", "stage S Failed", "run Failed")
	})
	t.Run("stage", func(t *testing.T) {
		s := stage("S", nil, pjob("J"))
		s.Variables = vars("o", "$[ variables ]")
		tr := driver{}.drive(t, mustNew(t, plan.Plan{Stages: []plan.Stage{s, stage("T", []string{"S"}, pjob("J"))}}, run.Options{}))
		tr.has(t, "done S/J Skipped", "stage S Failed", "stage T Skipped", "run Failed")
	})
}

func TestBuildNumberAndTagsFromJobs(t *testing.T) {
	p := plan.Plan{Name: "$(Rev:r)", Stages: []plan.Stage{
		stage("A", nil, pjob("J")),
		stage("B", []string{"A"}, pjob("J")),
	}}
	tr := driver{script: script{"A/J": {Result: job.Succeeded, BuildNumber: "1.2.3", Tags: []string{"x", "y", "x"}}}}.drive(t, mustNew(t, p, run.Options{}))
	if got := tr.requests["A/J"].RunName; got != "1" {
		t.Errorf("first job run name %q, want 1", got)
	}
	if v, _ := lookup(tr.requests["B/J"], "Build.BuildNumber"); v.Value != "1.2.3" || tr.requests["B/J"].RunName != "1.2.3" {
		t.Errorf("later job build number %q / %q, want 1.2.3", v.Value, tr.requests["B/J"].RunName)
	}
	if got := strings.Join(tr.state.Tags, ","); got != "x,y" || tr.state.BuildNumber != "1.2.3" {
		t.Errorf("tags %q, build number %q", got, tr.state.BuildNumber)
	}
}

func TestJobConditionsReadOutputs(t *testing.T) {
	p := plan.Plan{Stages: []plan.Stage{
		stage("A", nil, pjob("A1")),
		stage("B", []string{"A"},
			withCond(pjob("Yes"), "eq(stageDependencies.A.A1.outputs['printvar.shouldrun'], 'true')"),
			withCond(pjob("No"), "eq(stageDependencies.A.A1.outputs['printvar.other'], 'true')"),
			pjob("C"),
			withCond(pjob("D", "C"), "and(succeeded(), ne(dependencies.C.outputs['s.skip'], 'true'))"),
			// dependencies holds direct dependencies only: C is not one of E's.
			withCond(pjob("E", "D"), "eq(dependencies.C.result, 'Succeeded')"),
		),
	}}
	tr := driver{script: script{
		"A/A1": {Result: job.Succeeded, Outputs: outputs("printvar.shouldrun", "true")},
		"B/C":  {Result: job.Succeeded, Outputs: outputs("s.skip", "true")},
	}}.drive(t, mustNew(t, p, run.Options{}))
	want := "A=Succeeded A/A1=Succeeded B=Succeeded B/Yes=Succeeded B/No=Skipped B/C=Succeeded B/D=Skipped B/E=Skipped"
	if got := results(tr.state); got != want {
		t.Errorf("results:\n got %s\nwant %s", got, want)
	}
}

func TestCounter(t *testing.T) {
	p := plan.Plan{
		Variables: vars("major", "1", "minor", "$[ counter(variables.major, 100) ]"),
		Stages: []plan.Stage{stage("S", nil,
			withVars(pjob("A"), "again", "$[ counter(variables['major'], 5) ]", "other", "$[ counter('x', 0) ]"),
			withVars(pjob("B"), "again", "$[ counter('1', 7) ]"),
		)},
	}
	value := func(tr *trace, key, name string) string { v, _ := lookup(tr.requests[key], name); return v.Value }
	first := driver{}.drive(t, mustNew(t, p, run.Options{}))
	if got := value(first, "S/A", "minor") + " " + value(first, "S/A", "again") + " " + value(first, "S/B", "again") + " " + value(first, "S/A", "other"); got != "100 100 100 0" {
		t.Errorf("first run: minor, again, again, other = %s; want one value per prefix per run: 100 100 100 0", got)
	}
	second := driver{}.drive(t, mustNew(t, p, run.Options{Counters: first.state.Counters}))
	if got := value(second, "S/B", "minor") + " " + value(second, "S/A", "other"); got != "101 1" {
		t.Errorf("second run: minor, other = %s, want 101 1", got)
	}
}
