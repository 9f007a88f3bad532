package expand

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/pipeline/syntax"
)

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

func expandYAML(t *testing.T, files map[string]string, opts Options) (string, []string) {
	t.Helper()
	res, diags := Expand(mapFS(files), "p.yml", opts)
	if res == nil {
		return "", diags.Strings()
	}
	out, err := syntax.Encode(res.Pipeline)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), diags.Strings()
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  string
		diags []string
	}{
		{
			name:  "literal file is unchanged",
			files: map[string]string{"p.yml": "steps:\n  - script: echo hi\n    displayName: x\n"},
			want:  "steps:\n  - script: echo hi\n    displayName: x\n",
		},
		{
			name:  "predefined variables and escapes",
			files: map[string]string{"p.yml": "steps:\n  - script: echo ${{ variables['Build.Reason'] }} ${{ 'my${{value' }}\n"},
			opts:  Options{Variables: map[string]string{"Build.Reason": "Manual"}},
			want:  "steps:\n  - script: echo Manual my${{value\n",
		},
		{
			name: "whole-value expressions keep their type",
			files: map[string]string{"p.yml": `parameters:
  - name: n
    type: number
    default: 3
  - name: b
    type: boolean
    default: true
steps:
  - script: echo
    timeoutInMinutes: ${{ parameters.n }}
    enabled: ${{ parameters.b }}
    displayName: ${{ parameters.b }}!
`},
			want: `parameters:
  - name: n
    type: number
    default: 3
  - name: b
    type: boolean
    default: true
steps:
  - script: echo
    timeoutInMinutes: 3
    enabled: true
    displayName: True!
`,
		},
		{
			name: "each over a mapping, keys from expressions",
			files: map[string]string{"p.yml": `variables:
  ${{ each pair in parameters }}:
    ${{ pair.key }}: x
steps: []
`},
			want: "variables: {}\nsteps: []\n",
		},
		{
			name:  "runtime parameter given as YAML",
			files: map[string]string{"p.yml": "parameters:\n  - name: legs\n    type: object\nsteps:\n  - ${{ each l in parameters.legs }}:\n      - script: echo ${{ l }}\n"},
			opts:  Options{Parameters: map[string]string{"legs": "[a, b]"}},
			want:  "parameters:\n  - name: legs\n    type: object\nsteps:\n  - script: echo a\n  - script: echo b\n",
		},
		{
			name:  "runtime stringList given comma-separated",
			files: map[string]string{"p.yml": "parameters:\n  - name: regions\n    type: stringList\n    values: [WUS, CUS, EUS]\n    default: [WUS]\nsteps:\n  - ${{ each r in parameters.regions }}:\n      - script: echo ${{ r }}\n"},
			opts:  Options{Parameters: map[string]string{"regions": "CUS, EUS"}},
			want:  "parameters:\n  - name: regions\n    type: stringList\n    values:\n      - WUS\n      - CUS\n      - EUS\n    default:\n      - WUS\nsteps:\n  - script: echo CUS\n  - script: echo EUS\n",
		},
		{
			name:  "file limit",
			files: map[string]string{"p.yml": "steps:\n- template: a.yml\n- template: b.yml\n", "a.yml": "steps: []\n", "b.yml": "steps: []\n"},
			opts:  Options{MaxFiles: 2},
			diags: []string{"p.yml:3:13: the pipeline includes more than 2 files, Azure's limit"},
		},
		{
			name: "memory limit",
			files: map[string]string{"p.yml": `steps:
- ${{ each i in split(format('{0}{0}{0}{0}{0}{0}{0}{0}', 'x,x,x,x,x,x,x,x,'), ',') }}:
  - ${{ each j in split('a,b,c,d,e,f,g,h,i,j', ',') }}:
    - script: echo ${{ i }}${{ j }} ${{ format('{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}', 'padding-padding-padding-padding') }}
`},
			opts:  Options{MaxBytes: 20000},
			diags: []string{"p.yml:4:15: the expanded pipeline exceeds 0 MB, Azure's limit on memory used while expanding templates"},
		},
		{
			name:  "nesting limit",
			files: map[string]string{"p.yml": "steps:\n- template: a.yml\n", "a.yml": "steps:\n- template: b.yml\n", "b.yml": "steps:\n- template: a.yml\n"},
			opts:  Options{MaxDepth: 3},
			diags: []string{"a.yml:2:3: templates are nested more than 3 levels deep, Azure's limit"},
		},
		{
			name:  "template of the wrong kind",
			files: map[string]string{"p.yml": "steps:\n- template: j.yml\n", "j.yml": "jobs: []\n"},
			diags: []string{"j.yml:1:1: Required property is missing: steps", "j.yml:1:1: Unexpected value 'jobs'"},
		},
		{
			name:  "empty file",
			files: map[string]string{"p.yml": "# nothing\n"},
			diags: []string{"p.yml:1:1: the pipeline file is empty"},
		},
		{
			name:  "not a mapping",
			files: map[string]string{"p.yml": "- a\n"},
			diags: []string{"p.yml:1:1: A sequence was not expected"},
		},
		{
			name:  "missing root file",
			files: map[string]string{},
			diags: []string{"p.yml:1:1: file p.yml not found in the repository"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := expandYAML(t, tt.files, tt.opts)
			if len(diags) == 0 {
				diags = nil
			}
			if diff := cmp.Diff(tt.diags, diags); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("expanded YAML (-want +got):\n%s", diff)
			}
		})
	}
}

// Steps passed as a parameter keep the caller's file and position, so diagnostics about
// them point at what the user wrote.
func TestInsertedNodesKeepPositions(t *testing.T) {
	files := map[string]string{
		"p.yml":   "steps:\n- template: t/s.yml\n  parameters:\n    steps:\n    - script: from caller\n",
		"t/s.yml": "parameters:\n- name: steps\n  type: stepList\nsteps:\n- ${{ parameters.steps }}\n- ${{ each s in parameters.steps }}:\n  - ${{ s }}\n",
	}
	res, diags := Expand(mapFS(files), "p.yml", Options{})
	if res == nil {
		t.Fatal(diags)
	}
	steps := res.Pipeline.Get("steps").Items
	if len(steps) != 2 {
		t.Fatalf("got %d steps, want 2", len(steps))
	}
	for _, s := range steps {
		if got, want := s.Pos.String(), "p.yml:5:7"; got != want {
			t.Errorf("step position = %s, want %s", got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		ref, from, want, err string
	}{
		{"steps.yml", "azure-pipelines.yml", "steps.yml", ""},
		{"steps.yml", "ci/azure-pipelines.yml", "ci/steps.yml", ""},
		{"../t/steps.yml", "ci/azure-pipelines.yml", "t/steps.yml", ""},
		{"/t/steps.yml", "ci/deep/p.yml", "t/steps.yml", ""},
		{"t\\steps.yml", "p.yml", "t/steps.yml", ""},
		{"../x.yml", "p.yml", "", "template path ../x.yml is outside the repository"},
		{"x.yml@tools", "p.yml", "", "template x.yml@tools names repository 'tools': templates from other repositories (template@alias) are not supported"},
	}
	for _, tt := range tests {
		got, err := resolve(tt.ref, tt.from)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("resolve(%q, %q) error = %v, want %q", tt.ref, tt.from, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolve(%q, %q) = %q, %v; want %q", tt.ref, tt.from, got, err, tt.want)
		}
	}
}

func TestResultParameters(t *testing.T) {
	files := map[string]string{"p.yml": "parameters:\n- name: s\n  default: x\n- name: n\n  type: number\n  default: 2\n- name: o\n  type: object\n  default: {a: [1, true]}\nsteps: []\n"}
	res, diags := Expand(mapFS(files), "p.yml", Options{Parameters: map[string]string{"s": "given"}})
	if res == nil {
		t.Fatal(diags)
	}
	want := map[string]any{"s": "given", "n": 2.0, "o": map[string]any{"a": []any{1.0, true}}}
	if diff := cmp.Diff(want, res.Parameters); diff != "" {
		t.Errorf("Parameters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p.yml"}, res.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

func FuzzExpand(f *testing.F) {
	template := `parameters:
- name: steps
  type: stepList
  default: []
- name: flag
  type: boolean
  default: false
steps:
- ${{ parameters.steps }}
- ${{ if parameters.flag }}:
  - script: flagged
- ${{ each s in parameters.steps }}:
  - ${{ each pair in s }}:
      ${{ pair.key }}: ${{ pair.value }}
`
	seeds := []string{
		"steps:\n- template: t.yml\n  parameters:\n    flag: true\n    steps:\n    - script: a\n",
		"variables:\n  a: 1\n  ${{ if eq(variables.a, 1) }}:\n    b: 2\nsteps:\n- script: ${{ variables.b }}\n",
		"stages:\n- ${{ each x in split('a,b', ',') }}:\n  - stage: S${{ x }}\n    jobs:\n    - template: t.yml\n",
		"extends:\n  template: t.yml\n",
		"steps:\n- ${{ else }}:\n  - script: x\n- ${{ insert }}: {}\n",
		"parameters:\n- name: p\n  type: object\n  default: [1, [2, {a: b}]]\nsteps:\n- script: ${{ convertToJson(parameters.p) }}\n",
		"jobs:\n- job: ${{ 'x' }}\n  steps: ${{ parameters }}\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), []byte(template))
	}
	f.Fuzz(func(t *testing.T, root, tmpl []byte) {
		fsys := fstest.MapFS{"p.yml": {Data: root}, "t.yml": {Data: tmpl}}
		res, diags := Expand(fsys, "p.yml", Options{MaxBytes: 1 << 20})
		if (res == nil) != diags.HasErrors() {
			t.Fatalf("result %v does not match diagnostics %v", res != nil, diags)
		}
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Pos.File == "" {
				t.Fatalf("diagnostic without a position: %v", d)
			}
		}
		if res != nil {
			if _, err := syntax.Encode(res.Pipeline); err != nil {
				t.Fatalf("Encode: %v", err)
			}
		}
	})
}

// BenchmarkExpand100Templates expands a pipeline of 100 files, Azure's limit: the root
// and, per stage, a stage, a job and a steps template with parameters and expressions.
func BenchmarkExpand100Templates(b *testing.B) {
	files := map[string]string{}
	var root strings.Builder
	root.WriteString("parameters:\n- name: configuration\n  default: Release\nvariables:\n  base: v1\nstages:\n")
	for i := 0; i < 33; i++ {
		fmt.Fprintf(&root, "- template: stages/s%d.yml\n  parameters:\n    n: %d\n    configuration: ${{ parameters.configuration }}\n", i, i)
		files[fmt.Sprintf("stages/s%d.yml", i)] = fmt.Sprintf(`parameters:
- name: n
  type: number
- name: configuration
  type: string
stages:
- stage: S${{ parameters.n }}
  dependsOn: []
  jobs:
  - template: ../jobs/j%d.yml
    parameters:
      platforms: [linux, windows, mac]
      configuration: ${{ parameters.configuration }}
`, i)
		files[fmt.Sprintf("jobs/j%d.yml", i)] = fmt.Sprintf(`parameters:
- name: platforms
  type: object
- name: configuration
  type: string
jobs:
- ${{ each p in parameters.platforms }}:
  - job: build_${{ p }}
    variables:
      platform: ${{ p }}
    steps:
    - template: ../steps/t%d.yml
      parameters:
        platform: ${{ p }}
        flags:
          CONFIG: ${{ parameters.configuration }}
          VERSION: ${{ variables.base }}
`, i)
		files[fmt.Sprintf("steps/t%d.yml", i)] = `parameters:
- name: platform
  type: string
- name: flags
  type: object
  default: {}
steps:
- checkout: self
- script: make PLATFORM=${{ parameters.platform }}
  displayName: Build on ${{ parameters.platform }}
  env:
    ${{ each f in parameters.flags }}:
      ${{ f.key }}: ${{ f.value }}
- ${{ if eq(parameters.platform, 'linux') }}:
  - bash: ./test.sh ${{ variables.platform }}
- ${{ else }}:
  - script: test.cmd
- publish: out/${{ parameters.platform }}
  artifact: ${{ format('{0}-{1}', parameters.platform, parameters.flags.CONFIG) }}
`
	}
	files["p.yml"] = root.String()
	fsys := mapFS(files)
	if res, diags := Expand(fsys, "p.yml", Options{}); res == nil || len(res.Files) != 100 {
		b.Fatalf("expansion failed or read %v files: %v", res, diags)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, _ := Expand(fsys, "p.yml", Options{}); res == nil {
			b.Fatal("expansion failed")
		}
	}
}
