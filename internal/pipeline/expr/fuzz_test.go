package expr

import (
	"errors"
	"strings"
	"testing"
)

var fuzzExprSeeds = []string{
	"and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'))",
	"or(failed('A', 'B'), canceled(), always(), succeededOrFailed())",
	"format('{0:yyyyMMdd} {1} {{x}}', pipeline.startTime, 1.50)",
	"counter(format('{0}.{1}', variables.major, variables.minor), 100)",
	"replace(split(parameters.resourceIds[0], '/')[8], '-', '_')",
	"convertToJson(parameters.listOfValues)",
	"foo.*.id", "parameters.nested.*[0]", "parameters['a b'].c",
	"iif(eq(variables['Build.Reason'], 'PullRequest'), parameters.test2, parameters.test).pool",
	"containsValue(parameters.data, 2)", "join(';', parameters.myArray)",
	"in(1.2.3, '1.2.3', 4)", "notIn('a')", "coalesce(null, '', 'x')",
	"'It''s'", "-.5", "+1", "TRUE", "1.2.3.4", "length('😀')",
	"eq(1, 2, 3)", "(true)", "3 + 4", "‘x’", "eq('abc", "variables.", "a[*]]",
	"lt(gt(ge(le(1,2),3),4),5)", "xor(not(true), trim(' x '))", "upper(lower(startsWith('a', endsWith('b', contains('c', 'd')))))",
}

// FuzzParse checks that parsing and evaluating never panic, that errors are
// SyntaxErrors, and that the canonical form parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzExprSeeds {
		f.Add(s)
	}
	ctx := testContext(f)
	ctx.Status = DependencyStatus{Results: map[string]string{"A": "Succeeded", "B": "Failed"}}
	ctx.Counter = func(string, float64) (float64, error) { return 1, nil }
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T is not a *SyntaxError", src, err)
			}
			if se.Token != "" && !strings.HasPrefix(src[se.Offset:], se.Token) {
				t.Fatalf("Parse(%q): offset %d does not point at %q", src, se.Offset, se.Token)
			}
			return
		}
		canon := e.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, src, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, again.String())
		}
		v, err := e.Eval(ctx)
		if err == nil {
			_ = v.String()
			_, _ = v.MarshalJSON()
		}
		// The canonical form means the same thing.
		w, err2 := again.Eval(ctx)
		if (err == nil) != (err2 == nil) || (err == nil && v.String() != w.String() && v.Kind() != KindArray && v.Kind() != KindObject) {
			t.Fatalf("%q and its canonical form %q evaluate differently: %v/%v vs %v/%v", src, canon, v, err, w, err2)
		}
	})
}

// FuzzExpandMacros checks that macro expansion never panics, leaves text without known
// macros alone, and that recursive expansion terminates.
func FuzzExpandMacros(f *testing.F) {
	for _, s := range []string{
		"$(a)$(b)", "$(unknown)", "$()", "$($(x))", "$(a", "x$(A)y", "$$(a)", "$(Date:yyyyMMdd)$(Rev:.r)",
		"echo $(self) $(loop1)", "if [[ $(enable_tbb) == 1 ]]; then echo; fi",
	} {
		f.Add(s, "$(a)-$(loop2)")
	}
	f.Fuzz(func(t *testing.T, s, other string) {
		vars := map[string]string{"a": "A", "b": "$(a)", "x": "a", "self": "$(self)", "loop1": "$(loop2)", "loop2": other}
		out := ExpandMacros(s, MacroLookup(vars))
		if !strings.Contains(s, "$(") && out != s {
			t.Fatalf("text without macros changed: %q -> %q", s, out)
		}
		if got := ExpandMacros(s, func(string) (string, bool) { return "", false }); got != s {
			t.Fatalf("expansion with no variables changed %q to %q", s, got)
		}
		defs := map[string]Variable{"in": {Value: s}, "other": {Value: other, Secret: true}}
		for k, v := range vars {
			defs[k] = Variable{Value: v}
		}
		got, _ := ExpandVariables(defs)
		if len(got) != len(defs) {
			t.Fatalf("ExpandVariables returned %d variables, want %d", len(got), len(defs))
		}
	})
}

// FuzzTemplate checks that `${{ }}` interpolation never panics and that scalars without
// `${{` are literal.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"${{ parameters.myArray }}", "echo ${{ env }} and ${{ upper(env) }}!", "${{ 'my${{value' }}",
		"${{ format('{0}}}', 'a') }}", "a ${{ env", "${{ }}", "${{ if true }}", "}} ${{ 1 }} }}",
		"${{ each x in parameters.myArray }}", "$[ eq(1, 1) ]", "${{ 'a''b' }}${{'c'}}",
	} {
		f.Add(s)
	}
	ctx := testContext(f)
	ctx.Set("env", String("prod1"))
	opts := TemplateOptions("env")
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s, opts)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(s) {
				t.Fatalf("ParseTemplate(%q): bad error %v", s, err)
			}
		} else {
			v, err := tpl.Eval(ctx)
			if !HasTemplate(s) {
				if err != nil || v.String() != s || !tpl.IsLiteral() {
					t.Fatalf("literal %q evaluated to %v, %v", s, v, err)
				}
			}
		}
		_, _, _ = ParseDirective(s, opts)
		if inner, ok := RuntimeExpression(s); ok && !strings.Contains(s, inner) {
			t.Fatalf("RuntimeExpression(%q) = %q, not part of the text", s, inner)
		}
	})
}
