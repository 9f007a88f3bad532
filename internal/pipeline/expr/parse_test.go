package expr

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts *Options // nil: Parse
		want string   // full error text
	}{
		{"smart quotes", "counter(format(‘{0}.{1}’, variables[‘Major’]), 0)", nil,
			"Unrecognized value: '‘{0}'. Located at position 16 within expression: counter(format(‘{0}.{1}’, variables[‘Major’]), 0)"},
		{"unknown function", "nothing()", nil,
			"Unrecognized function: 'nothing'. Located at position 1 within expression: nothing()"},
		{"unknown named value", "eq(nothing, 1)", &Options{NamedValues: []string{"variables"}},
			"Unrecognized named-value: 'nothing'. Located at position 4 within expression: eq(nothing, 1)"},
		{"status in template", "succeeded()", ptr(TemplateOptions()),
			"Unrecognized function: 'succeeded'. Located at position 1 within expression: succeeded()"},
		{"counter in condition", "counter('a', 1)", ptr(ConditionOptions(LevelJob)),
			"Unrecognized function: 'counter'. Located at position 1 within expression: counter('a', 1)"},
		{"stageDependencies in stage condition", "stageDependencies.A", ptr(ConditionOptions(LevelStage)),
			"Unrecognized named-value: 'stageDependencies'. Located at position 1 within expression: stageDependencies.A"},
		{"operator", "3 + 4", nil,
			"Unexpected symbol: '+'. Located at position 3 within expression: 3 + 4"},
		{"operator in call", "and(3 + 4)", nil,
			"Unexpected symbol: '+'. Located at position 7 within expression: and(3 + 4)"},
		{"syntax error wins over unknown name", "nope(1 2)", nil,
			"Unexpected symbol: '2'. Located at position 8 within expression: nope(1 2)"},
		{"juxtaposed words", "replace h(coalesce(parameters.y, parameters.y), '''', '''''')", nil,
			"Unexpected symbol: 'h'. Located at position 9 within expression: replace h(coalesce(parameters.y, parameters.y), '''', '''''')"},
		{"too few", "eq(1)", nil,
			"Too few parameters supplied: 'eq'. Located at position 1 within expression: eq(1)"},
		{"too many", "not(1, 2)", nil,
			"Too many parameters supplied: 'not'. Located at position 1 within expression: not(1, 2)"},
		{"always takes none", "always('A')", nil,
			"Too many parameters supplied: 'always'. Located at position 1 within expression: always('A')"},
		{"unclosed function", "eq(1, 2", nil,
			"Unclosed function: 'eq'. Located at position 1 within expression: eq(1, 2"},
		{"unclosed indexer", "variables['a'", nil,
			"Unclosed indexer: '['. Located at position 10 within expression: variables['a'"},
		{"unclosed string", "eq('abc, 1)", nil,
			"Unrecognized value: ''abc, 1)'. Located at position 4 within expression: eq('abc, 1)"},
		{"trailing comma", "eq(1, )", nil,
			"Unexpected symbol: ')'. Located at position 7 within expression: eq(1, )"},
		{"leading comma", "eq(, 1)", nil,
			"Unexpected symbol: ','. Located at position 4 within expression: eq(, 1)"},
		{"grouping parentheses", "(true)", nil,
			"Unexpected symbol: '('. Located at position 1 within expression: (true)"},
		{"not operator", "!true", nil,
			"Unrecognized value: '!true'. Located at position 1 within expression: !true"},
		{"double equals", "eq(1 == 1, true)", nil,
			"Unexpected symbol: '='. Located at position 6 within expression: eq(1 == 1, true)"},
		{"hyphen in property", "dependencies.my-job.result", nil,
			"Unrecognized value: 'my-job'. Located at position 14 within expression: dependencies.my-job.result"},
		{"missing property", "variables.", nil, "Unexpected end of expression"},
		{"number property", "variables.1", nil,
			"Expected a property name to follow the dereference operator '.': '1'. Located at position 11 within expression: variables.1"},
		{"index on literal", "'abc'[0]", nil,
			"Unexpected symbol: '['. Located at position 6 within expression: 'abc'[0]"},
		{"two operands", "true false", nil,
			"Unexpected symbol: 'false'. Located at position 6 within expression: true false"},
		{"bad number", "1.2.3.4.5", nil,
			"Unrecognized value: '1.2.3.4.5'. Located at position 1 within expression: 1.2.3.4.5"},
		{"exponent", "1e5", nil,
			"Unrecognized value: '1e5'. Located at position 1 within expression: 1e5"},
		{"number too big for decimal", "99999999999999999999999999999999", nil,
			"Unrecognized value: '99999999999999999999999999999999'. Located at position 1 within expression: 99999999999999999999999999999999"},
		{"empty", "", nil, "Expected an expression"},
		{"blank", "   ", nil, "Expected an expression"},
		{"too long", strings.Repeat("a", MaxLength+1), nil, "Exceeded max expression length 21000"},
		{"too deep", strings.Repeat("not(", 51) + "true" + strings.Repeat(")", 51), nil, "Exceeded max expression depth 50"},
		{"position counts characters", "eq('é', x!)", nil,
			"Unexpected symbol: '!'. Located at position 10 within expression: eq('é', x!)"},
		{"stray bracket", "variables]", nil,
			"Unexpected symbol: ']'. Located at position 10 within expression: variables]"},
		{"wildcard alone", "*", nil,
			"Unexpected symbol: '*'. Located at position 1 within expression: *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.opts == nil {
				_, err = Parse(tt.src)
			} else {
				_, err = ParseWith(tt.src, *tt.opts)
			}
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %q", tt.src, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.src, err, tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error is %T, want *SyntaxError", err)
			}
			if se.Token != "" && !strings.HasPrefix(tt.src[se.Offset:], se.Token) {
				t.Errorf("Offset %d does not point at token %q", se.Offset, se.Token)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestParseLimits(t *testing.T) {
	ok := strings.Repeat("not(", 49) + "true" + strings.Repeat(")", 49)
	if _, err := Parse(ok); err != nil {
		t.Errorf("depth 50 failed: %v", err)
	}
	if _, err := Parse(strings.Repeat("a", MaxLength)); err != nil {
		t.Errorf("length %d failed: %v", MaxLength, err)
	}
}

func TestCanonicalString(t *testing.T) {
	tests := []struct{ src, want string }{
		{"EQ( variables['Build.SourceBranch'] ,'refs/heads/main' )", "eq(variables['Build.SourceBranch'], 'refs/heads/main')"},
		{"variables['simple']", "variables.simple"},
		{"variables.simple", "variables.simple"},
		{"parameters['a b']", "parameters['a b']"},
		{"parameters['true']", "parameters['true']"},
		{"foo.*.id", "foo.*.id"},
		{"foo[*]", "foo.*"},
		{"'It''s'", "'It''s'"},
		{"true", "True"},
		{"FALSE", "False"},
		{"NULL", "null"},
		{"+1.50", "1.50"},
		{"1.2.3", "1.2.3"},
		{"succeededorfailed()", "succeededOrFailed()"},
		{"containsvalue(a, 1)", "containsValue(a, 1)"},
		{"a[b[0]]", "a[b[0]]"},
		{"split('a', ',')[0]", "split('a', ',')[0]"},
		{"iif(true, a, b).pool", "iif(True, a, b).pool"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.src, err)
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.src, got, tt.want)
		}
		if e.Source() != tt.src {
			t.Errorf("Source() = %q, want %q", e.Source(), tt.src)
		}
		again, err := Parse(e.String())
		if err != nil || again.String() != e.String() {
			t.Errorf("round trip of %q: %v, %v", e.String(), again, err)
		}
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts Options
		ok   bool
	}{
		{"template parameters", "parameters.x", TemplateOptions(), true},
		{"template variables any case", "VARIABLES.x", TemplateOptions(), true},
		{"template loop variable", "eq(env, 'x')", TemplateOptions("env"), true},
		{"template unknown", "dependencies.x", TemplateOptions(), false},
		{"template status", "always()", TemplateOptions(), false},
		{"step condition", "and(succeeded(), eq(variables.a, 1))", ConditionOptions(LevelStep), true},
		{"step dependencies", "dependencies.A.result", ConditionOptions(LevelStep), false},
		{"job stageDependencies", "eq(stageDependencies.S.J.outputs['s.v'], 'x')", ConditionOptions(LevelJob), true},
		{"stage dependencies", "eq(dependencies.S.outputs['J.s.v'], 'x')", ConditionOptions(LevelStage), true},
		{"condition counter", "counter('a', 1)", ConditionOptions(LevelStep), false},
		{"runtime variable counter", "counter(variables.major, 100)", RuntimeVariableOptions(), true},
		{"runtime variable resources", "resources.pipeline.x", RuntimeVariableOptions(), true},
		{"runtime variable status", "failed()", RuntimeVariableOptions(), false},
		{"runtime variable parameters", "parameters.x", RuntimeVariableOptions(), false},
		{"zero options allow any name", "whatever.x", Options{}, true},
		{"zero options forbid status", "canceled()", Options{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWith(tt.src, tt.opts)
			if (err == nil) != tt.ok {
				t.Errorf("ParseWith(%q) error = %v, want ok=%v", tt.src, err, tt.ok)
			}
		})
	}
}

func TestReferences(t *testing.T) {
	e, err := Parse("and(succeeded('A'), eq(dependencies.A.outputs['s.v'], Variables.x), in(variables.y, 1), Succeeded())")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.NamedValues(), []string{"dependencies", "Variables"}; !slices.Equal(got, want) {
		t.Errorf("NamedValues() = %v, want %v", got, want)
	}
	if got, want := e.Functions(), []string{"and", "succeeded", "eq", "in"}; !slices.Equal(got, want) {
		t.Errorf("Functions() = %v, want %v", got, want)
	}
	if _, ok := e.Literal(); ok {
		t.Error("Literal() reported a literal for a call")
	}
	lit, _ := Parse("'x'")
	if v, ok := lit.Literal(); !ok || v.String() != "x" {
		t.Errorf("Literal() = %v, %v; want x, true", v, ok)
	}
}

func TestEvalBool(t *testing.T) {
	e, err := ParseWith("eq(variables['Build.SourceBranch'], 'refs/heads/main')", ConditionOptions(LevelStep))
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.EvalBool(testContext(t))
	if err != nil || !ok {
		t.Fatalf("EvalBool = %v, %v; want true", ok, err)
	}
	ok, err = e.EvalBool(nil)
	if err != nil || ok {
		t.Fatalf("EvalBool(nil) = %v, %v; want false", ok, err)
	}
}
