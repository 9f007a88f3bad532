package syntax

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseScalarTypes(t *testing.T) {
	src := `
a: yes
b: 'true'
c: True
d: 0x1F
e: 1.5e3
f: ~
g:
h: "12"
i: 1.2.3
j: .inf
k: |
  line
`
	n, diags := Parse("f.yml", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("Parse: %v", diags)
	}
	want := map[string]Type{"a": String, "b": String, "c": Bool, "d": Number, "e": Number,
		"f": Null, "g": Null, "h": String, "i": String, "j": Number, "k": String}
	for k, wt := range want {
		if got := n.Get(k).Type; got != wt {
			t.Errorf("%s: type = %d, want %d", k, got, wt)
		}
	}
	if got := n.Get("k").Value; got != "line\n" {
		t.Errorf("block scalar = %q, want %q", got, "line\n")
	}
}

func TestParsePositions(t *testing.T) {
	src := "steps:\n- script: echo hi\n  displayName: Say hi\n"
	n, diags := Parse("dir/p.yml", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("Parse: %v", diags)
	}
	step := n.Get("steps").Items[0]
	if got, want := step.Pos.String(), "dir/p.yml:2:3"; got != want {
		t.Errorf("step pos = %s, want %s", got, want)
	}
	k, v := step.Lookup("displayName")
	if got, want := k.Pos.String(), "dir/p.yml:3:3"; got != want {
		t.Errorf("key pos = %s, want %s", got, want)
	}
	if got, want := v.Pos.String(), "dir/p.yml:3:16"; got != want {
		t.Errorf("value pos = %s, want %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"syntax", "a: b: c\n", []string{"f.yml:1:1: invalid YAML: mapping values are not allowed in this context"}},
		{"anchor", "a: &x 1\nb: *x\n", []string{
			"f.yml:1:4: YAML anchors are not supported (anchor 'x')",
			"f.yml:2:4: YAML aliases are not supported (alias 'x')"}},
		{"duplicate key", "a: 1\na: 2\n", []string{"f.yml:2:1: 'a' is already defined"}},
		{"complex key", "? [a]\n: 1\n", []string{"f.yml:1:3: a mapping key must be a scalar, not a sequence"}},
		{"custom tag", "a: !foo bar\n", []string{"f.yml:1:4: YAML tag '!foo' is not supported"}},
		{"bad int tag", "a: !!int x\n", []string{"f.yml:1:4: 'x' is not a valid int"}},
		{"two documents", "a: 1\n---\nb: 2\n", []string{"f.yml:2:1: a pipeline file holds one YAML document; found a second one"}},
		{"merge key", "a:\n  <<: {b: 1}\n", []string{"f.yml:2:3: YAML merge keys (<<) are not supported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("f.yml", []byte(tt.src))
			if diff := cmp.Diff(tt.want, diags.Strings()); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n"} {
		n, diags := Parse("f.yml", []byte(src))
		if len(diags) > 0 || !n.IsNull() {
			t.Errorf("Parse(%q) = %+v, %v; want a null node", src, n, diags)
		}
	}
}

func TestDirectiveKeysKept(t *testing.T) {
	src := "steps:\n- ${{ if eq(a, 'b') }}:\n  - script: x\n- ${{ each s in parameters.steps }}:\n  - ${{ s }}\n"
	n, diags := Parse("f.yml", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("Parse: %v", diags)
	}
	got := n.Get("steps").Items[0].FirstKey()
	if got != "${{ if eq(a, 'b') }}" {
		t.Errorf("directive key = %q", got)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	src := `a: yes
b: 'true'
c: |
  line1
  line2
d: 1.50
e: "x: y"
f:
  - 1
  - 'on'
  - No
g: 'null'
`
	n, diags := Parse("f.yml", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("Parse: %v", diags)
	}
	out, err := Encode(n)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(src, string(out)); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	back, diags := Parse("f.yml", out)
	if len(diags) > 0 {
		t.Fatalf("reparse: %v", diags)
	}
	if diff := cmp.Diff(shape(n), shape(back)); diff != "" {
		t.Errorf("round trip changed values (-want +got):\n%s", diff)
	}
}

// shape renders a tree without positions, for comparisons.
func shape(n *Node) string {
	var b strings.Builder
	var walk func(n *Node, indent string)
	walk = func(n *Node, indent string) {
		switch n.Kind {
		case Mapping:
			for _, p := range n.Pairs {
				b.WriteString(indent + p.Key.Value + ":\n")
				walk(p.Value, indent+"  ")
			}
		case Sequence:
			for _, item := range n.Items {
				b.WriteString(indent + "-\n")
				walk(item, indent+"  ")
			}
		default:
			b.WriteString(indent + string(rune('0'+n.Type)) + n.Value + "\n")
		}
	}
	walk(n, "")
	return b.String()
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "steps:\n- script: echo hi\n", "a: &x 1\nb: *x\n", "a: b: c", "? [a]\n: 1\n",
		"stages:\n- stage: A\n  jobs:\n  - job: B\n    steps:\n    - ${{ if true }}:\n      - bash: x\n",
		"a: !!binary aGVsbG8=\n", "---\n---\n", "a: |\n  x\n b: 1\n", "{a: [1, {b: c}]}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, diags := Parse("f.yml", data)
		if n == nil && len(diags) == 0 {
			t.Fatal("nil node without diagnostics")
		}
		if n == nil {
			return
		}
		for _, shape := range []Shape{PipelineShape, StepsTemplateShape, ExtendsTemplateShape} {
			Validate(n, shape, Template)
			Validate(n, shape, Expanded)
		}
		if _, err := Encode(n); err != nil {
			t.Fatalf("Encode of a parsed tree failed: %v", err)
		}
	})
}
