package syntax

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		shape Shape
		mode  Mode
		src   string
		want  []string
	}{
		{"steps only", PipelineShape, Expanded, "steps:\n- script: echo hi\n  displayName: x\n", nil},
		{"unknown root key", PipelineShape, Expanded, "steps:\n- script: x\nfoo: 1\n", []string{"f.yml:3:1: Unexpected value 'foo'"}},
		{"unknown step key", PipelineShape, Expanded, "steps:\n- script: x\n  displayname: y\n", []string{"f.yml:3:3: Unexpected value 'displayname'"}},
		{"no step kind", PipelineShape, Expanded, "steps:\n- displayName: y\n", []string{
			"f.yml:2:3: There's not enough info to determine what you meant. Add one of these properties: task, script, bash, pwsh, powershell, checkout, download, publish, template, downloadBuild, getPackage, reviewApp, upload"}},
		{"no root kind", PipelineShape, Expanded, "trigger: none\n", []string{
			"f.yml:1:1: There's not enough info to determine what you meant. Add one of these properties: stages, extends, jobs, steps, phases"}},
		{"boolean spellings", PipelineShape, Expanded, "steps:\n- script: x\n  enabled: Yes\n  continueOnError: OFF\n", nil},
		{"bad boolean", PipelineShape, Expanded, "steps:\n- script: x\n  enabled: maybe\n", []string{
			"f.yml:3:12: Unexpected value 'maybe' (expected a boolean: true, false, yes, no, on, off, y or n)"}},
		{"mapping not expected", PipelineShape, Expanded, "steps:\n- script:\n    a: b\n", []string{"f.yml:3:5: A mapping was not expected"}},
		{"sequence not expected", PipelineShape, Expanded, "steps:\n- script: x\n  env: [a]\n", []string{"f.yml:3:8: A sequence was not expected"}},
		{"scalar for steps", PipelineShape, Expanded, "steps: abc\n", []string{"f.yml:1:8: Unexpected value 'abc'"}},
		{"empty steps", PipelineShape, Expanded, "steps:\n", nil},
		{"job name pattern", PipelineShape, Expanded, "jobs:\n- job: my job\n  steps: []\n", []string{
			"f.yml:2:8: Unexpected value 'my job' (names may only contain letters, digits, '-' and '_')"}},
		{"task reference", PipelineShape, Expanded, "steps:\n- task: CmdLine\n", []string{
			"f.yml:2:9: Unexpected value 'CmdLine' (a task reference is written Name@MajorVersion, for example CmdLine@2)"}},
		{"timeout not a number", PipelineShape, Expanded, "jobs:\n- job: A\n  timeoutInMinutes: soon\n  steps: []\n", []string{
			"f.yml:3:21: Unexpected value 'soon' (expected a whole number)"}},
		{"workspace enum", PipelineShape, Expanded, "jobs:\n- job: A\n  workspace:\n    clean: everything\n", []string{
			"f.yml:4:12: Unexpected value 'everything' (expected one of: outputs, resources, all)"}},
		{"required name", PipelineShape, Expanded, "variables:\n- value: x\n  name: ''\nsteps: []\n", []string{
			"f.yml:3:9: Unexpected value '' (a non-empty value is required)"}},
		{"deployment unsupported", PipelineShape, Expanded, "jobs:\n- deployment: D\n  environment: prod\n", []string{
			"f.yml:2:3: deployment jobs (deployment:) is not supported"}},
		{"deployment allowed before expansion", PipelineShape, Template, "jobs:\n- deployment: D\n  environment: prod\n", nil},
		{"container unsupported", PipelineShape, Expanded, "jobs:\n- job: A\n  container: ubuntu\n  steps: []\n", []string{
			"f.yml:3:14: container jobs (container:) is not supported"}},
		{"directives allowed", PipelineShape, Template, `steps:
- ${{ if eq(parameters.a, 'b') }}:
  - script: x
- ${{ else }}:
  - bash: y
- script: z
  ${{ if true }}:
    displayName: d
  env:
    ${{ each pair in parameters.env }}:
      ${{ pair.key }}: ${{ pair.value }}
    ${{ insert }}: ${{ parameters.more }}
- ${{ parameters.steps }}
`, nil},
		{"unknown key inside if", PipelineShape, Template, "steps:\n- script: z\n  ${{ if true }}:\n    displayname: d\n", []string{
			"f.yml:4:5: Unexpected value 'displayname'"}},
		{"bad expression", PipelineShape, Template, "steps:\n- script: echo ${{ eq(1 }}\n", []string{
			"f.yml:2:16: Unclosed function: 'eq'. Located at position 1 within expression: eq(1"}},
		{"bad directive", PipelineShape, Template, "steps:\n- ${{ each s }}:\n  - script: x\n", []string{
			"f.yml:2:3: Exactly 3 parameter(s) were expected following the directive 'each'. Actual parameter count: 1"}},
		{"no expressions in trigger", PipelineShape, Template, "trigger:\n- ${{ parameters.b }}\nsteps: []\n", []string{
			"f.yml:2:3: template expressions are not allowed here"}},
		{"steps template", StepsTemplateShape, Template, "parameters:\n- name: a\n  type: string\nsteps:\n- script: x\n", nil},
		{"steps template without steps", StepsTemplateShape, Template, "parameters: {}\n", []string{"f.yml:1:1: Required property is missing: steps"}},
		{"steps template with jobs", StepsTemplateShape, Template, "jobs: []\nsteps: []\n", []string{"f.yml:1:1: Unexpected value 'jobs'"}},
		{"parameter type", StepsTemplateShape, Template, "parameters:\n- name: a\n  type: strin\nsteps: []\n", []string{
			"f.yml:3:9: Unexpected value 'strin' (expected one of: boolean, container, containerList, deployment, deploymentList, job, jobList, legacyObject, number, object, stage, stageList, step, stepList, string, stringList)"}},
		{"legacy parameters", JobsTemplateShape, Template, "parameters:\n  name: ''\n  vmImage: ubuntu\njobs: []\n", nil},
		{"extends nested", ExtendsTemplateShape, Template, "parameters: []\nextends:\n  template: base.yml\n", nil},
		{"stage unsupported keys", PipelineShape, Expanded, "stages:\n- stage: A\n  trigger: manual\n  jobs: []\n", []string{
			"f.yml:3:12: stage trigger (manual stages) is not supported"}},
		{"variables forms", PipelineShape, Expanded, "variables:\n- name: a\n  value: b\n  readonly: true\n- group: g\n- template: v.yml\nsteps: []\n", nil},
		{"variable mapping value", PipelineShape, Expanded, "variables:\n  a:\n    b: c\nsteps: []\n", []string{"f.yml:3:5: A mapping was not expected"}},
		{"step shape", StepShape, Expanded, "script: x\n", nil},
		{"job list shape", JobListShape, Expanded, "- job: A\n  steps: []\n- jobb: B\n", []string{"f.yml:3:3: There's not enough info to determine what you meant. Add one of these properties: job, deployment, template"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, diags := Parse("f.yml", []byte(tt.src))
			if len(diags) > 0 {
				t.Fatalf("Parse: %v", diags)
			}
			got := Validate(n, tt.shape, tt.mode).Strings()
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "Y": true, "YES": true, "On": true,
		"false": false, "n": false, "No": false, "OFF": false} {
		got, ok := ParseBool(in)
		if !ok || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v, true", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "1", "0", "maybe", "truee"} {
		if _, ok := ParseBool(in); ok {
			t.Errorf("ParseBool(%q) ok, want not ok", in)
		}
	}
}
