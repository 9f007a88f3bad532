package expr

import (
	"strings"
	"testing"
)

func TestStepStatus(t *testing.T) {
	tests := []struct {
		name   string
		status StepStatus
		want   map[string]bool // expression -> result
	}{
		{"succeeded", StepStatus{JobStatus: "Succeeded"}, map[string]bool{
			"always()": true, "canceled()": false, "succeeded()": true, "failed()": false, "succeededOrFailed()": true,
		}},
		{"with issues", StepStatus{JobStatus: "SucceededWithIssues"}, map[string]bool{
			"succeeded()": true, "failed()": false, "succeededOrFailed()": true,
		}},
		{"failed", StepStatus{JobStatus: "Failed"}, map[string]bool{
			"always()": true, "canceled()": false, "succeeded()": false, "failed()": true, "succeededOrFailed()": true,
			"and(succeeded(), true)": false, "or(failed(), false)": true, "not(failed())": false,
		}},
		{"canceling", StepStatus{JobStatus: "Failed", Canceling: true}, map[string]bool{
			"always()": true, "canceled()": true, "succeeded()": false, "failed()": false, "succeededOrFailed()": false,
		}},
		{"canceled status", StepStatus{JobStatus: "canceled"}, map[string]bool{
			"canceled()": true, "succeeded()": false,
		}},
		{"empty status means succeeded", StepStatus{}, map[string]bool{
			"succeeded()": true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := &Context{Status: tt.status}
			for src, want := range tt.want {
				e, err := ParseWith(src, ConditionOptions(LevelStep))
				if err != nil {
					t.Fatal(err)
				}
				got, err := e.EvalBool(ctx)
				if err != nil || got != want {
					t.Errorf("%s = %v, %v; want %v", src, got, err, want)
				}
			}
		})
	}
	e, _ := Parse("succeeded('A')")
	if _, err := e.Eval(&Context{Status: StepStatus{}}); err == nil || !strings.Contains(err.Error(), "takes no job names") {
		t.Errorf("succeeded('A') in a step error = %v", err)
	}
}

func TestDependencyStatus(t *testing.T) {
	results := map[string]string{
		"Build": "Succeeded", "Lint": "SucceededWithIssues", "Test": "Failed", "Docs": "Skipped", "Old": "Canceled",
	}
	tests := []struct {
		name string
		deps map[string]string
		cxl  bool
		src  string
		want bool
		err  string
	}{
		{"no deps succeeded", nil, false, "succeeded()", true, ""},
		{"no deps failed", nil, false, "failed()", false, ""},
		{"all good", map[string]string{"A": "Succeeded", "B": "SucceededWithIssues"}, false, "succeeded()", true, ""},
		{"one failed", results, false, "succeeded()", false, ""},
		{"failed any", results, false, "failed()", true, ""},
		{"named succeeded", results, false, "succeeded('Build', 'lint')", true, ""},
		{"named failed", results, false, "failed('build')", false, ""},
		{"named failed hit", results, false, "failed('Build', 'Test')", true, ""},
		{"skipped is not success", results, false, "succeeded('Docs')", false, ""},
		{"succeededOrFailed with failure", results, false, "succeededOrFailed('Build', 'Test')", true, ""},
		{"succeededOrFailed with skip", results, false, "succeededOrFailed('Docs')", false, ""},
		{"succeededOrFailed with cancel", results, false, "succeededOrFailed('Old')", false, ""},
		{"canceling", results, true, "succeeded('Build')", false, ""},
		{"canceling failed", results, true, "failed()", false, ""},
		{"canceled", results, true, "canceled()", true, ""},
		{"not canceled", results, false, "canceled()", false, ""},
		{"always while canceling", results, true, "always()", true, ""},
		{"unknown name", results, false, "succeeded('Nope')", false, "stage 'Nope' is not a dependency"},
		{"computed name", results, false, "failed(format('{0}', 'Test'))", true, ""},
		{"result check", results, false, "in(dependencies.Docs.result, 'Succeeded', 'Skipped')", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := &Context{Status: DependencyStatus{Results: tt.deps, Canceling: tt.cxl, Kind: "stage"}}
			deps := NewObject()
			for k, r := range tt.deps {
				deps.Set(k, mustObject(t, "result", r))
			}
			ctx.Set("dependencies", ObjectValue(deps))
			e, err := ParseWith(tt.src, ConditionOptions(LevelStage))
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.EvalBool(ctx)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("%s error = %v, want %q", tt.src, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("%s = %v, %v; want %v", tt.src, got, err, tt.want)
			}
		})
	}
}

func TestStatusFunctionNames(t *testing.T) {
	for f, want := range map[StatusFunction]string{
		Always: "always", Canceled: "canceled", Failed: "failed", Succeeded: "succeeded", SucceededOrFailed: "succeededOrFailed",
	} {
		if f.String() != want {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), want)
		}
	}
}
