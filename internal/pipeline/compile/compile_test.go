package compile

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/keystage/keystage/internal/pipeline/syntax"
)

func TestCompileContract(t *testing.T) {
	fsys := fstest.MapFS{
		"ok.yml":  {Data: []byte("steps:\n- script: echo\n  retryCountOnTaskFailure: 11\n")},
		"bad.yml": {Data: []byte("steps:\n- script: echo\n  displayname: x\n")},
	}
	p, diags, err := Compile(fsys, "ok.yml", Options{})
	if err != nil || p == nil {
		t.Fatalf("Compile(ok.yml) = %v, %v, %v; want a plan", p, diags, err)
	}
	if len(diags) != 1 || diags[0].Severity != syntax.Warning {
		t.Errorf("diagnostics = %v, want one warning", diags)
	}
	p, diags, err = Compile(fsys, "bad.yml", Options{})
	var invalid *syntax.InvalidError
	if p != nil || !errors.As(err, &invalid) || len(invalid.Diagnostics) != len(diags) || len(diags) != 1 {
		t.Fatalf("Compile(bad.yml) = %v, %v, %v; want no plan and an *InvalidError holding the diagnostics", p, diags, err)
	}
	if got, want := err.Error(), "pipeline is not valid: bad.yml:3:3: Unexpected value 'displayname'"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func FuzzCompile(f *testing.F) {
	seeds := []string{
		"steps:\n- script: echo\n",
		"jobs:\n- job: A\n  dependsOn: B\n  strategy:\n    matrix:\n      a: {x: 1}\n  steps: []\n- job: B\n  dependsOn: A\n",
		"stages:\n- stage: A\n  jobs:\n  - job:\n    pool: server\n    steps:\n    - checkout: x\n    - download: current\n",
		"trigger:\n  branches:\n    exclude: [a]\npr: [main]\nschedules:\n- cron: x\nresources:\n  repositories:\n  - repository: r\n    name: n\nsteps: []\n",
		"variables:\n- name: a\n  value: b\n- group: g\nsteps:\n- task: X@1.2.3\n  inputs: {a: 1}\n  target: {settableVariables: none}\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, diags, err := Compile(fstest.MapFS{"p.yml": {Data: data}}, "p.yml", Options{})
		if (p == nil) != (err != nil) || (err != nil) != syntax.Diagnostics(diags).HasErrors() {
			t.Fatalf("plan %v, err %v and diagnostics %v disagree", p != nil, err, diags)
		}
		if p == nil {
			return
		}
		for _, st := range p.Stages {
			for _, j := range st.Jobs {
				if len(j.Steps) == 0 || j.TimeoutInMinutes < 0 {
					t.Fatalf("job %s: %d steps (want the checkout at least), timeout %d", j.Name, len(j.Steps), j.TimeoutInMinutes)
				}
			}
		}
	})
}
