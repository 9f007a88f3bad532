package run_test

import (
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
)

var (
	failed  = job.Report{Result: job.Failed}
	issues  = job.Report{Result: job.SucceededWithIssues}
	skipped = job.Report{Result: job.Skipped}
)

func TestGraphs(t *testing.T) {
	tests := []struct {
		name    string
		plan    plan.Plan
		opts    run.Options
		script  script
		want    string     // results(st)
		wantRun job.Result // run result
		check   func(t *testing.T, tr *trace)
	}{
		{
			name: "sequential stages by default",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stage("B", []string{"A"}, pjob("J")),
				stage("C", []string{"B"}, pjob("J")),
			}},
			want:    "A=Succeeded A/J=Succeeded B=Succeeded B/J=Succeeded C=Succeeded C/J=Succeeded",
			wantRun: job.Succeeded,
			check: func(t *testing.T, tr *trace) {
				tr.before(t, "stage A Succeeded", "start B/J")
				tr.before(t, "stage B Succeeded", "start C/J")
				if tr.maxRunning != 1 {
					t.Errorf("maxRunning = %d, want 1", tr.maxRunning)
				}
			},
		},
		{
			name: "dependsOn [] runs stages in parallel",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stage("B", []string{}, pjob("J")),
				stage("C", []string{"A", "B"}, pjob("J")),
			}},
			want:    "A=Succeeded A/J=Succeeded B=Succeeded B/J=Succeeded C=Succeeded C/J=Succeeded",
			wantRun: job.Succeeded,
			check: func(t *testing.T, tr *trace) {
				tr.before(t, "start B/J", "done A/J Succeeded")
				tr.before(t, "stage B Succeeded", "start C/J")
			},
		},
		{
			name: "failed stage skips default dependents",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stage("B", []string{"A"}, pjob("J")),
				stage("C", []string{"B"}, pjob("J")),
			}},
			script:  script{"A/J": failed},
			want:    "A=Failed A/J=Failed B=Skipped B/J=Skipped C=Skipped C/J=Skipped",
			wantRun: job.Failed,
			check: func(t *testing.T, tr *trace) {
				tr.lacks(t, "start B/", "start C/", "stagestart B")
			},
		},
		{
			name: "always stage runs after a failure, failed stage only on failure",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stageCond(stage("Cleanup", []string{"A"}, pjob("J")), "always()"),
				stageCond(stage("OnFail", []string{"A"}, pjob("J")), "failed()"),
				stageCond(stage("Either", []string{"A"}, pjob("J")), "succeededOrFailed()"),
			}},
			script:  script{"A/J": failed},
			want:    "A=Failed A/J=Failed Cleanup=Succeeded Cleanup/J=Succeeded OnFail=Succeeded OnFail/J=Succeeded Either=Succeeded Either/J=Succeeded",
			wantRun: job.Failed,
		},
		{
			name: "failed stage condition is false when dependencies succeed",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stageCond(stage("OnFail", []string{"A"}, pjob("J")), "failed()"),
			}},
			want:    "A=Succeeded A/J=Succeeded OnFail=Skipped OnFail/J=Skipped",
			wantRun: job.Succeeded,
		},
		{
			// MicrosoftDocs/azure-devops-docs#12616: A skipped, B runs on A's result, C with the
			// default condition is skipped because its indirect dependency A did not succeed.
			name: "default condition looks at indirect dependencies",
			plan: plan.Plan{Stages: []plan.Stage{
				stageCond(stage("A", nil, pjob("J")), "false"),
				stageCond(stage("B", []string{"A"}, pjob("J")), "in(dependencies.A.result, 'Succeeded', 'Skipped')"),
				stage("C", []string{"B"}, pjob("J")),
			}},
			want:    "A=Skipped A/J=Skipped B=Succeeded B/J=Succeeded C=Skipped C/J=Skipped",
			wantRun: job.Succeeded,
		},
		{
			name: "succeededOrFailed is false after a skipped dependency",
			plan: plan.Plan{Stages: []plan.Stage{
				stageCond(stage("A", nil, pjob("J")), "false"),
				stageCond(stage("B", []string{"A"}, pjob("J")), "succeededOrFailed()"),
				stageCond(stage("C", []string{"A"}, pjob("J")), "not(canceled())"),
			}},
			want:    "A=Skipped A/J=Skipped B=Skipped B/J=Skipped C=Succeeded C/J=Succeeded",
			wantRun: job.Succeeded,
		},
		{
			name: "status functions with names look at those dependencies",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				pjob("A"),
				pjob("B"),
				withCond(pjob("C", "A", "B"), "succeeded('B')"),
				withCond(pjob("D", "A", "B"), "failed('A')"),
				withCond(pjob("E", "A", "B"), "succeeded('A')"),
			)}},
			script:  script{"S/A": failed},
			want:    "S=Failed S/A=Failed S/B=Succeeded S/C=Succeeded S/D=Succeeded S/E=Skipped",
			wantRun: job.Failed,
		},
		{
			name: "jobs run in parallel unless they depend on each other",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				pjob("A"), pjob("B"), pjob("C", "A"), pjob("D", "C", "B"),
			)}},
			want:    "S=Succeeded S/A=Succeeded S/B=Succeeded S/C=Succeeded S/D=Succeeded",
			wantRun: job.Succeeded,
			check: func(t *testing.T, tr *trace) {
				tr.before(t, "start S/B", "done S/A Succeeded")
				tr.before(t, "done S/A Succeeded", "start S/C")
				tr.before(t, "done S/C Succeeded", "start S/D")
				if tr.maxRunning != 2 {
					t.Errorf("maxRunning = %d, want 2", tr.maxRunning)
				}
			},
		},
		{
			name: "job failure skips dependents inside the stage",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				pjob("A"), pjob("B", "A"), pjob("C", "B"), withCond(pjob("D", "A"), "failed()"),
			)}},
			script:  script{"S/A": failed},
			want:    "S=Failed S/A=Failed S/B=Skipped S/C=Skipped S/D=Succeeded",
			wantRun: job.Failed,
		},
		{
			name: "job continueOnError turns failure into SucceededWithIssues",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("S", nil, func() plan.Job { j := pjob("A"); j.ContinueOnError = true; return j }(),
					pjob("B", "A"),
					withCond(pjob("C", "A"), "eq(dependencies.A.result, 'SucceededWithIssues')")),
				stage("T", []string{"S"}, pjob("J")),
			}},
			script:  script{"S/A": failed},
			want:    "S=SucceededWithIssues S/A=SucceededWithIssues S/B=Succeeded S/C=Succeeded T=Succeeded T/J=Succeeded",
			wantRun: job.SucceededWithIssues,
		},
		{
			name: "SucceededWithIssues counts as success",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")),
				stage("B", []string{"A"}, pjob("J")),
			}},
			script:  script{"A/J": issues},
			want:    "A=SucceededWithIssues A/J=SucceededWithIssues B=Succeeded B/J=Succeeded",
			wantRun: job.SucceededWithIssues,
		},
		{
			name:   "a job whose steps were all skipped is Skipped and skips dependents",
			plan:   plan.Plan{Stages: []plan.Stage{stage("S", nil, pjob("A"), pjob("B", "A"))}},
			script: script{"S/A": skipped},
			want:   "S=Skipped S/A=Skipped S/B=Skipped",
			// No stage failed: a run whose work was all skipped succeeds.
			wantRun: job.Succeeded,
		},
		{
			name: "condition syntax error fails the job, not the run's other jobs",
			plan: plan.Plan{Stages: []plan.Stage{stage("S", nil,
				withCond(pjob("A"), "eq(1,"), pjob("B"),
			)}},
			want:    "S=Failed S/A=Failed S/B=Succeeded",
			wantRun: job.Failed,
		},
		{
			name: "stage condition reads variables",
			plan: plan.Plan{
				Variables: vars("deploy", "yes"),
				Stages: []plan.Stage{
					stage("A", nil, pjob("J")),
					stageCond(stage("B", []string{"A"}, pjob("J")), "and(succeeded(), eq(variables.deploy, 'yes'))"),
					stageCond(stage("C", []string{"A"}, pjob("J")), "and(succeeded(), eq(variables['Deploy'], 'no'))"),
				},
			},
			want:    "A=Succeeded A/J=Succeeded B=Succeeded B/J=Succeeded C=Skipped C/J=Skipped",
			wantRun: job.Succeeded,
		},
		{
			name: "stage-scope static variables are visible to the stage condition",
			plan: plan.Plan{Stages: []plan.Stage{
				func() plan.Stage {
					s := stageCond(stage("A", nil, pjob("J")), "eq(variables.go, 'true')")
					s.Variables = vars("go", "true")
					return s
				}(),
			}},
			want:    "A=Succeeded A/J=Succeeded",
			wantRun: job.Succeeded,
		},
	}
	for _, tt := range tests {
		for _, rt := range []bool{false, true} {
			name := tt.name
			if rt {
				name += "/json round trip"
			}
			t.Run(name, func(t *testing.T) {
				st := mustNew(t, tt.plan, tt.opts)
				tr := driver{script: tt.script, roundTrip: rt}.drive(t, st)
				if got := results(tr.state); got != tt.want {
					t.Errorf("results:\n got %s\nwant %s\nevents:\n%s", got, tt.want, strings.Join(tr.events, "\n"))
				}
				if tr.state.Result != tt.wantRun {
					t.Errorf("run result = %s, want %s", tr.state.Result, tt.wantRun)
				}
				if tt.check != nil {
					tt.check(t, tr)
				}
			})
		}
	}
}

func TestNewRejectsBrokenGraphs(t *testing.T) {
	tests := []struct {
		name string
		plan plan.Plan
		want []string
	}{
		{
			name: "no stages",
			plan: plan.Plan{},
			want: []string{"the pipeline has no stages"},
		},
		{
			name: "unknown stage",
			plan: plan.Plan{Stages: []plan.Stage{stage("A", nil, pjob("J")), stage("B", []string{"NoSuchStage"}, pjob("J"))}},
			want: []string{"stage B depends on unknown stage NoSuchStage"},
		},
		{
			name: "stage cycle",
			plan: plan.Plan{Stages: []plan.Stage{
				stage("A", nil, pjob("J")), stage("B", []string{"A", "C"}, pjob("J")), stage("C", []string{"B"}, pjob("J")),
			}},
			want: []string{
				"stage B depends on stage C which creates a cycle in the dependency graph",
				"stage C depends on stage B which creates a cycle in the dependency graph",
			},
		},
		{
			name: "unknown job",
			plan: plan.Plan{Stages: []plan.Stage{stage("A", nil, pjob("A1"), pjob("A2", "NoSuchJob"))}},
			want: []string{"stage A job A2 depends on unknown job NoSuchJob"},
		},
		{
			name: "job self loop",
			plan: plan.Plan{Stages: []plan.Stage{stage("A", nil, pjob("A1"), pjob("B", "B"))}},
			want: []string{"stage A job B depends on job B which creates a cycle in the dependency graph"},
		},
		{
			name: "duplicate names",
			plan: plan.Plan{Stages: []plan.Stage{stage("A", nil, pjob("J"), pjob("j")), stage("a", nil, pjob("J"))}},
			want: []string{"the stage name a appears more than once", "stage A job j appears more than once"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run.New(tt.plan, run.Options{}, t0)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSelection(t *testing.T) {
	p := plan.Plan{Stages: []plan.Stage{
		stage("Build", nil, pjob("Compile"), pjob("Lint"), pjob("Package", "Compile")),
		stage("Test", []string{"Build"}, pjob("Unit"), pjob("Integration", "Unit")),
		stage("Deploy", []string{"Test"}, pjob("Prod")),
	}}
	tests := []struct {
		name    string
		opts    run.Options
		want    string
		started []string
		wantErr string
	}{
		{
			name:    "one job",
			opts:    run.Options{Jobs: []string{"Integration"}},
			want:    "Build=Skipped Build/Compile=Skipped Build/Lint=Skipped Build/Package=Skipped Test=Succeeded Test/Unit=Skipped Test/Integration=Succeeded Deploy=Skipped Deploy/Prod=Skipped",
			started: []string{"Test/Integration"},
		},
		{
			name:    "stage-qualified job",
			opts:    run.Options{Jobs: []string{"build.package"}},
			want:    "Build=Succeeded Build/Compile=Skipped Build/Lint=Skipped Build/Package=Succeeded Test=Skipped Test/Unit=Skipped Test/Integration=Skipped Deploy=Skipped Deploy/Prod=Skipped",
			started: []string{"Build/Package"},
		},
		{
			name:    "stages with the dependency contracted through an unselected stage",
			opts:    run.Options{Stages: []string{"Build", "Deploy"}},
			want:    "Build=Succeeded Build/Compile=Succeeded Build/Lint=Succeeded Build/Package=Succeeded Test=Skipped Test/Unit=Skipped Test/Integration=Skipped Deploy=Succeeded Deploy/Prod=Succeeded",
			started: []string{"Build/Compile", "Build/Lint", "Build/Package", "Deploy/Prod"},
		},
		{
			name:    "unknown stage",
			opts:    run.Options{Stages: []string{"Nope"}},
			wantErr: "--stage Nope: the pipeline has no stage Nope (stages: Build, Test, Deploy)",
		},
		{
			name:    "unknown job",
			opts:    run.Options{Jobs: []string{"Test.Prod"}},
			wantErr: "--job Test.Prod: the pipeline has no such job",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := run.New(p, tt.opts, t0)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tr := driver{}.drive(t, st)
			if got := results(tr.state); got != tt.want {
				t.Errorf("results:\n got %s\nwant %s", got, tt.want)
			}
			var started []string
			for _, e := range tr.events {
				if k, ok := strings.CutPrefix(e, "start "); ok {
					started = append(started, k)
				}
			}
			if strings.Join(started, ",") != strings.Join(tt.started, ",") {
				t.Errorf("started %v, want %v", started, tt.started)
			}
			if tr.state.Result != job.Succeeded {
				t.Errorf("run result %s, want Succeeded", tr.state.Result)
			}
		})
	}
	t.Run("contracted dependency keeps the order", func(t *testing.T) {
		st := mustNew(t, p, run.Options{Stages: []string{"Build", "Deploy"}})
		if got := st.Stage("Deploy").DependsOn; len(got) != 1 || got[0] != "Build" {
			t.Errorf("Deploy.DependsOn = %v, want [Build]", got)
		}
	})
}
