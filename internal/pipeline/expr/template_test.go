package expr

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	ctx := testContext(t)
	ctx.Set("env", String("prod1"))
	opts := TemplateOptions("env")
	tests := []struct {
		name    string
		in      string
		want    string
		kind    Kind
		literal bool
		wantErr string
	}{
		{"no expression", "plain $(macro) $[ x ]", "plain $(macro) $[ x ]", KindString, true, ""},
		{"whole typed array", "${{ parameters.myArray }}", `["FOO","BAR","ZOO"]`, KindArray, false, ""},
		{"whole typed object", "${{parameters.test}}", `{"pool":"ManagedDevOpsPool"}`, KindObject, false, ""},
		{"whole bool", "${{ eq(1, 1) }}", "True", KindBool, false, ""},
		{"whole number", "${{ 1.50 }}", "1.5", KindNumber, false, ""},
		{"whole null", "${{ variables.missing }}", "", KindNull, false, ""},
		{"interpolated", "echo ${{ env }} and ${{ upper(env) }}!", "echo prod1 and PROD1!", KindString, false, ""},
		{"interpolated bool prints True", "x=${{ true }}", "x=True", KindString, false, ""},
		{"interpolated null is empty", "[${{ variables.missing }}]", "[]", KindString, false, ""},
		{"adjacent", "${{ 'a' }}${{ 'b' }}", "ab", KindString, false, ""},
		{"space around whole makes a string", " ${{ 1 }}", " 1", KindString, false, ""},
		{"escape", "${{ 'my${{value' }}", "my${{value", KindString, true, ""},
		{"escape with quote", "${{ 'my${{value with a '' single quote too' }}", "my${{value with a ' single quote too", KindString, true, ""},
		{"escape closing braces", "${{ '{{ this is a literal }}' }}", "{{ this is a literal }}", KindString, true, ""},
		{"braces inside string do not close", "${{ format('{0}}}', 'a') }}", "a}", KindString, false, ""},
		{"literal kept around", "a ${{ 'b' }} c", "a b c", KindString, false, ""},
		{"closing braces in text", "}} ${{ 1 }} }}", "}} 1 }}", KindString, false, ""},
		{"macro stays", "$(Build.SourcesDirectory)/${{ env }}", "$(Build.SourcesDirectory)/prod1", KindString, false, ""},
		{"array in text fails", "x ${{ parameters.myArray }}", "", 0, false, "Unable to convert from Array to String."},
		{"unclosed", "a ${{ env", "", 0, false, "The expression is not closed."},
		{"unclosed by quote", "${{ 'abc }}", "", 0, false, "The expression is not closed."},
		{"empty", "${{ }}", "", 0, false, "An expression was expected"},
		{"parse error", "${{ eq(1 }}", "", 0, false, "Unclosed function: 'eq'"},
		{"unknown name", "${{ dependencies.a }}", "", 0, false, "Unrecognized named-value: 'dependencies'"},
		{"directive alone", "${{ if true }}", "", 0, false, "The expression directive 'if' is not supported in this context"},
		{"directive inline", "x ${{ else }}", "", 0, false, "Directives are not supported for expressions that are embedded within a string."},
		{"eval error", "${{ gt(1, 'x') }}", "", 0, false, "Unable to convert from String to Number."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := ParseTemplate(tt.in, opts)
			var got Value
			if err == nil {
				if tpl.IsLiteral() != tt.literal {
					t.Errorf("IsLiteral() = %v, want %v", tpl.IsLiteral(), tt.literal)
				}
				if tpl.Source() != tt.in {
					t.Errorf("Source() = %q", tpl.Source())
				}
				got, err = tpl.Eval(ctx)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				var te *TemplateError
				if !errors.As(err, &te) {
					t.Fatalf("error is %T, want *TemplateError", err)
				}
				if !strings.HasPrefix(tt.in[te.Offset:], "${{") {
					t.Errorf("Offset %d does not point at ${{ in %q", te.Offset, tt.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want || got.Kind() != tt.kind {
				t.Errorf("Eval = %q (%s), want %q (%s)", got.String(), got.Kind(), tt.want, tt.kind)
			}
		})
	}
	tpl, err := ParseTemplate("${{ a }}-${{ 'lit' }}-${{ b }}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Exprs(); len(got) != 3 || got[0].String() != "a" || got[2].String() != "b" {
		t.Errorf("Exprs() = %v", got)
	}
	if !HasTemplate("a ${{ b }}") || HasTemplate("a $(b) $[ c ]") {
		t.Error("HasTemplate misjudged")
	}
}

func TestParseDirective(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ok      bool
		kind    DirectiveKind
		cond    string // canonical Cond or Collection
		loopVar string
		wantErr string
	}{
		{"if", "${{ if eq(parameters.toolset, 'msbuild') }}", true, DirectiveIf, "eq(parameters.toolset, 'msbuild')", "", ""},
		{"if no spaces inside parens", "${{if and(true,false)}}", true, DirectiveIf, "and(True, False)", "", ""},
		{"elseif", "${{ elseif eq(variables.foo, 'contoso') }}", true, DirectiveElseIf, "eq(variables.foo, 'contoso')", "", ""},
		{"else", "${{ else }}", true, DirectiveElse, "", "", ""},
		{"insert", "${{ insert }}", true, DirectiveInsert, "", "", ""},
		{"each", "${{ each value in parameters.listOfStrings }}", true, DirectiveEach, "parameters.listOfStrings", "value", ""},
		{"each split", "${{ each env in split(variables.environments, ',')}}", true, DirectiveEach, "split(variables.environments, ',')", "env", ""},
		{"each quoted space", "${{ each x in split(' a b ', ' ') }}", true, DirectiveEach, "split(' a b ', ' ')", "x", ""},
		{"not a directive", "${{ parameters.x }}", false, 0, "", "", ""},
		{"word prefix", "${{ iffy }}", false, 0, "", "", ""},
		{"case sensitive", "${{ IF true }}", false, 0, "", "", ""},
		{"embedded", "x ${{ if true }}", false, 0, "", "", ""},
		{"plain key", "steps", false, 0, "", "", ""},
		{"if without condition", "${{ if }}", true, 0, "", "", "Exactly 1 parameter(s) were expected following the directive 'if'. Actual parameter count: 0"},
		{"else with condition", "${{ else true }}", true, 0, "", "", "Exactly 0 parameter(s) were expected following the directive 'else'. Actual parameter count: 1"},
		{"if with two words", "${{ if a b }}", true, 0, "", "", "Actual parameter count: 2"},
		{"each without in", "${{ each x of y }}", true, 0, "", "", "Expected 'in'"},
		{"each bad variable", "${{ each 1x in y }}", true, 0, "", "", "not a valid name"},
		{"if bad expression", "${{ if eq(1 }}", true, 0, "", "", "Unclosed function"},
		{"if status function", "${{ if succeeded() }}", true, 0, "", "", "Unrecognized function: 'succeeded'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok, err := ParseDirective(tt.in, TemplateOptions())
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v (err %v)", ok, tt.ok, err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			if d.Kind != tt.kind || d.Var != tt.loopVar {
				t.Errorf("got %s var %q, want %s var %q", d.Kind, d.Var, tt.kind, tt.loopVar)
			}
			var cond string
			switch {
			case d.Cond != nil:
				cond = d.Cond.String()
			case d.Collection != nil:
				cond = d.Collection.String()
			}
			if cond != tt.cond {
				t.Errorf("expression = %q, want %q", cond, tt.cond)
			}
		})
	}
}

func TestRuntimeExpression(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"$[ eq(variables['Build.SourceBranch'], 'refs/heads/main') ]", "eq(variables['Build.SourceBranch'], 'refs/heads/main')", true},
		{"$[counter(variables['major'], 100)]", "counter(variables['major'], 100)", true},
		{"  $[ dependencies.A.outputs['s.v'] ]\n", "dependencies.A.outputs['s.v']", true},
		{"$[]", "", true},
		{"x $[ a ]", "", false},
		{"$[ a ] x", "", false},
		{"$(a)", "", false},
		{"${{ a }}", "", false},
		{"$[", "", false},
	}
	for _, tt := range tests {
		got, ok := RuntimeExpression(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("RuntimeExpression(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDirectiveKindString(t *testing.T) {
	for k, want := range map[DirectiveKind]string{DirectiveIf: "if", DirectiveElseIf: "elseif", DirectiveElse: "else", DirectiveEach: "each", DirectiveInsert: "insert", 0: "unknown"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), want)
		}
	}
}
