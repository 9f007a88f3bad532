package expr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpandMacros(t *testing.T) {
	lookup := MacroLookup(map[string]string{
		"a":                 "A",
		"b":                 "B",
		"Build.SourcesDir":  "/src",
		"my-secret":         "s3",
		"with_underscore":   "u",
		"x":                 "y",
		"y":                 "Z",
		"self":              "$(self)",
		"empty":             "",
		"Date:yyyyMMdd":     "20240305",
		"gitfileshare.pwd2": "p",
		"has space":         "sp",
	})
	tests := []struct {
		name, in, want string
	}{
		{"none", "plain text", "plain text"},
		{"one", "$(a)", "A"},
		{"adjacent", "$(a)$(b)", "AB"},
		{"surrounded", "x$(a)y$(b)z", "xAyBz"},
		{"ignore case", "$(BUILD.SOURCESDIR)/file", "/src/file"},
		{"hyphen", "$(my-secret)", "s3"},
		{"underscore", "$(with_underscore)", "u"},
		{"unknown stays", "$(unknown)", "$(unknown)"},
		{"unknown then known", "$(unknown)$(a)", "$(unknown)A"},
		{"empty name", "$()", "$()"},
		{"empty name then known", "$()$(a)", "$()A"},
		{"unclosed", "$(a", "$(a"},
		{"unclosed after known", "$(a)$(b", "A$(b"},
		{"lone dollar", "cost $5 $(a)", "cost $5 A"},
		{"dollar paren in text", "$$(a)", "$A"},
		{"nested is not recursive", "$($(x))", "$(y)"},
		{"inserted text not rescanned", "$(self)", "$(self)"},
		{"value with macro not expanded", "$(x)", "y"},
		{"empty value", "[$(empty)]", "[]"},
		{"date token", "$(Date:yyyyMMdd)", "20240305"},
		{"rev token unknown", "$(Rev:.r)", "$(Rev:.r)"},
		{"space in name", "$(has space)", "sp"},
		{"bash command substitution", "if [[ $(enable_tbb) == 1 ]]", "if [[ $(enable_tbb) == 1 ]]"},
		{"runtime and template untouched", "$[ x ] ${{ y }}", "$[ x ] ${{ y }}"},
		{"multiline", "echo $(a)\necho $(b)\n", "echo A\necho B\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExpandMacros(tt.in, lookup); got != tt.want {
				t.Errorf("ExpandMacros(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := ExpandMacros("$(a)", nil); got != "$(a)" {
		t.Errorf("nil lookup changed the text: %q", got)
	}
}

func TestExpandVariables(t *testing.T) {
	chain := map[string]Variable{}
	for i := 1; i <= 51; i++ {
		v := Variable{Value: fmt.Sprintf("$(v%d)", i+1)}
		if i == 51 {
			v.Value = "end"
		}
		chain[fmt.Sprintf("v%d", i)] = v
	}
	tests := []struct {
		name         string
		in           map[string]Variable
		want         map[string]Variable
		wantWarnings []ExpandWarning
	}{
		{
			name: "recursive",
			in: map[string]Variable{
				"CC":          {Value: "gcc-$(gcc_version)"},
				"gcc_version": {Value: "$(major).$(MINOR)"},
				"major":       {Value: "12"},
				"minor":       {Value: "2"},
			},
			want: map[string]Variable{
				"CC":          {Value: "gcc-12.2"},
				"gcc_version": {Value: "12.2"},
				"major":       {Value: "12"},
				"minor":       {Value: "2"},
			},
		},
		{
			name: "unknown and empty stay",
			in:   map[string]Variable{"a": {Value: "$(nope) $() $(b"}, "b": {Value: "x"}},
			want: map[string]Variable{"a": {Value: "$(nope) $() $(b"}, "b": {Value: "x"}},
		},
		{
			name: "secret spreads",
			in: map[string]Variable{
				"url":   {Value: "https://u:$(token)@host"},
				"token": {Value: "t0k", Secret: true},
				"outer": {Value: "[$(url)]"},
				"plain": {Value: "$(other)"},
				"other": {Value: "x"},
			},
			want: map[string]Variable{
				"url":   {Value: "https://u:t0k@host", Secret: true},
				"token": {Value: "t0k", Secret: true},
				"outer": {Value: "[https://u:t0k@host]", Secret: true},
				"plain": {Value: "x"},
				"other": {Value: "x"},
			},
		},
		{
			name: "self cycle",
			in:   map[string]Variable{"a": {Value: "x$(A)"}},
			want: map[string]Variable{"a": {Value: "x$(A)"}},
			wantWarnings: []ExpandWarning{
				{Name: "a", Cycle: true},
			},
		},
		{
			name: "cycle through others keeps whole values",
			in: map[string]Variable{
				"a": {Value: "1$(b)"}, "b": {Value: "2$(c)"}, "c": {Value: "3$(a)"}, "d": {Value: "$(b)!"}, "e": {Value: "ok"},
			},
			want: map[string]Variable{
				"a": {Value: "1$(b)"}, "b": {Value: "2$(c)"}, "c": {Value: "3$(a)"}, "d": {Value: "$(b)!"}, "e": {Value: "ok"},
			},
			wantWarnings: []ExpandWarning{
				{Name: "a", Cycle: true}, {Name: "b", Cycle: true}, {Name: "c", Cycle: true}, {Name: "d", Cycle: true},
			},
		},
		{
			name: "same variable twice is no cycle",
			in:   map[string]Variable{"a": {Value: "$(b)$(b)"}, "b": {Value: "$(c)"}, "c": {Value: "x"}},
			want: map[string]Variable{"a": {Value: "xx"}, "b": {Value: "x"}, "c": {Value: "x"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings := ExpandVariables(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("depth limit", func(t *testing.T) {
		got, warnings := ExpandVariables(chain)
		if got["v1"].Value != "$(v2)" {
			t.Errorf("v1 = %q, want it left as written", got["v1"].Value)
		}
		if got["v2"].Value != "end" {
			t.Errorf("v2 = %q, want end (50 levels)", got["v2"].Value)
		}
		if len(warnings) != 1 || warnings[0].Name != "v1" || warnings[0].Cycle {
			t.Fatalf("warnings = %v, want one depth warning for v1", warnings)
		}
		if want := "Unable to expand variable 'v1'. The max expansion depth (50) was exceeded."; warnings[0].String() != want {
			t.Errorf("warning text = %q, want %q", warnings[0].String(), want)
		}
	})
	t.Run("cycle text", func(t *testing.T) {
		w := ExpandWarning{Name: "a", Cycle: true}
		if want := "Unable to expand variable 'a'. A cyclical reference was detected."; w.String() != want {
			t.Errorf("warning text = %q, want %q", w.String(), want)
		}
	})
	t.Run("input untouched", func(t *testing.T) {
		in := map[string]Variable{"a": {Value: "$(b)"}, "b": {Value: "x"}}
		ExpandVariables(in)
		if in["a"].Value != "$(b)" {
			t.Error("ExpandVariables modified its input")
		}
	})
}

func TestMacroLookupCaseCollision(t *testing.T) {
	lookup := MacroLookup(map[string]string{"A": "upper", "a": "lower"})
	// "a" sorts after "A", so it wins.
	if v, _ := lookup("A"); v != "lower" {
		t.Errorf("lookup(A) = %q, want lower", v)
	}
}

func TestExpandMacrosLongScript(t *testing.T) {
	lookup := MacroLookup(map[string]string{"n": "1"})
	in := strings.Repeat("$(n)", 1000) + strings.Repeat("$(", 1000)
	want := strings.Repeat("1", 1000) + strings.Repeat("$(", 1000)
	if got := ExpandMacros(in, lookup); got != want {
		t.Errorf("long script expansion differs (len %d, want %d)", len(got), len(want))
	}
}
