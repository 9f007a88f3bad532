package expr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testContext is the context the function tables evaluate against.
func testContext(t testing.TB) *Context {
	t.Helper()
	vars := NewObject()
	for k, v := range map[string]string{
		"Build.SourceBranch":     "refs/heads/main",
		"Build.SourceBranchName": "main",
		"Build.Reason":           "PullRequest",
		"letters":                "ABC",
		"numbers":                "123",
		"emptyString":            "",
		"major":                  "1",
		"environments":           "prod1,prod2",
		"Agent.JobStatus":        "Succeeded",
	} {
		vars.Set(k, String(v))
	}
	foo, err := ParseJSON([]byte(`[{"id":1,"a":"avalue1"},{"id":2,"a":"avalue2"},{"id":3,"a":"avalue3"}]`))
	if err != nil {
		t.Fatal(err)
	}
	params, err := ParseJSON([]byte(`{
		"myArray": ["FOO", "BAR", "ZOO"],
		"branchOptions": ["refs/heads/main", "refs/heads/test"],
		"listOfValues": {"this_is": {"a_complex": "object", "with": ["one", "two"]}},
		"resourceIds": ["/subscriptions/mysubscription/resourceGroups/myResourceGroup/providers/Microsoft.Network/loadBalancers/kubernetes-internal"],
		"data": {"one": 1, "two": 2, "three": 3},
		"regions": "  wus1,   wus2, wus3,wus4",
		"test": {"pool": "ManagedDevOpsPool"},
		"test2": {"pool": "Azure Devops"},
		"nested": [[1, 2], [3], {"x": 4}],
		"flag": true,
		"count": 3
	}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := &Context{}
	ctx.Set("variables", ObjectValue(vars))
	ctx.Set("parameters", params)
	ctx.Set("foo", foo)
	ctx.Set("pipeline", mustObject(t, "startTime", time.Date(2024, 3, 5, 14, 7, 9, 123456789, time.UTC)))
	deps, err := ParseJSON([]byte(`{"A": {"result": "Succeeded", "outputs": {"printvar.shouldrun": "true"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx.Set("dependencies", deps)
	return ctx
}

type evalCase struct {
	name    string
	expr    string
	want    string // Value.String() of the result
	kind    Kind
	wantErr string // substring of the error
}

func runEvalCases(t *testing.T, ctx *Context, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			got, err := e.Eval(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Eval(%q) error = %v, want it to contain %q", tt.expr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.expr, err)
			}
			if got.String() != tt.want || got.Kind() != tt.kind {
				t.Errorf("Eval(%q) = %q (%s), want %q (%s)", tt.expr, got.String(), got.Kind(), tt.want, tt.kind)
			}
		})
	}
}

// Examples from Microsoft's expressions documentation, with the outputs it states.
func TestDocumentedExamples(t *testing.T) {
	runEvalCases(t, testContext(t), []evalCase{
		{"and", "and(eq(variables.letters, 'ABC'), eq(variables.numbers, 123))", "True", KindBool, ""},
		{"coalesce", "coalesce(variables.couldBeNull, variables.couldAlsoBeNull, 'literal so it always works')", "literal so it always works", KindString, ""},
		{"coalesce literal", "coalesce(variables.emptyString, '', 'literal value')", "literal value", KindString, ""},
		{"contains", "contains('ABCDE', 'BCD')", "True", KindBool, ""},
		{"containsValue", "containsValue(parameters.branchOptions, variables['Build.SourceBranch'])", "True", KindBool, ""},
		{"convertToJson", "convertToJson(parameters.listOfValues)",
			"{\n  \"this_is\": {\n    \"a_complex\": \"object\",\n    \"with\": [\n      \"one\",\n      \"two\"\n    ]\n  }\n}", KindString, ""},
		{"endsWith", "endsWith('ABCDE', 'DE')", "True", KindBool, ""},
		{"eq", "eq(variables.letters, 'ABC')", "True", KindBool, ""},
		{"format", "format('Hello {0} {1}', 'John', 'Doe')", "Hello John Doe", KindString, ""},
		{"format date", "format('{0:yyyyMMdd}', pipeline.startTime)", "20240305", KindString, ""},
		{"format braces", "format('literal left brace {{ and literal right brace }}')", "literal left brace { and literal right brace }", KindString, ""},
		{"ge", "ge(5, 5)", "True", KindBool, ""},
		{"gt", "gt(5, 2)", "True", KindBool, ""},
		{"in", "in('B', 'A', 'B', 'C')", "True", KindBool, ""},
		{"iif", "iif(eq(variables['Build.Reason'], 'PullRequest'), 'ManagedDevOpsPool', 'Azure Pipelines')", "ManagedDevOpsPool", KindString, ""},
		{"iif object", "iif(ne(variables['Build.Reason'], 'PullRequest'), parameters.test2, parameters.test).pool", "ManagedDevOpsPool", KindString, ""},
		{"join", "join(';', parameters.myArray)", "FOO;BAR;ZOO", KindString, ""},
		{"le", "le(2, 2)", "True", KindBool, ""},
		{"length", "length('fabrikam')", "8", KindNumber, ""},
		{"length object", "length(parameters.data)", "3", KindNumber, ""},
		{"length array", "length(parameters.myArray)", "3", KindNumber, ""},
		{"lower", "lower('FOO')", "foo", KindString, ""},
		{"lt", "lt(2, 5)", "True", KindBool, ""},
		{"ne", "ne(1, 2)", "True", KindBool, ""},
		{"not", "not(eq(1, 2))", "True", KindBool, ""},
		{"notIn", "notIn('D', 'A', 'B', 'C')", "True", KindBool, ""},
		{"or", "or(eq(1, 1), eq(2, 3))", "True", KindBool, ""},
		{"replace", "replace('https://www.tinfoilsecurity.com/saml/consume','https://www.tinfoilsecurity.com','http://server')", "http://server/saml/consume", KindString, ""},
		{"split", "split(variables.environments, ',')", `["prod1","prod2"]`, KindArray, ""},
		{"split and replace", "replace(split(parameters.resourceIds[0], '/')[8], '-', '_')", "kubernetes_internal", KindString, ""},
		{"startsWith", "startsWith('ABCDE', 'AB')", "True", KindBool, ""},
		{"trim", "trim('  variable  ')", "variable", KindString, ""},
		{"trim split item", "trim(split(parameters.regions, ',')[1])", "wus2", KindString, ""},
		{"upper", "upper('bah')", "BAH", KindString, ""},
		{"xor", "xor(True, False)", "True", KindBool, ""},
		{"filtered array", "foo.*.id", "[1,2,3]", KindArray, ""},
		{"type casting lt", "lt(False, True)", "True", KindBool, ""},
		{"type casting lt reversed", "lt(True, False)", "False", KindBool, ""},
		{"true as number", "eq('true', true)", "True", KindBool, ""},
		{"false as number", "eq('false', true)", "False", KindBool, ""},
		{"dependency output", "and(eq(dependencies.A.result, 'Succeeded'), eq(dependencies.A.outputs['printvar.shouldrun'], 'true'))", "True", KindBool, ""},
		{"dependency result in", "in(dependencies.A.result, 'Succeeded', 'SucceededWithIssues', 'Skipped')", "True", KindBool, ""},
	})
}

func TestFunctions(t *testing.T) {
	runEvalCases(t, testContext(t), []evalCase{
		// and / or / not / xor
		{"and short-circuits", "and(false, gt(1, 'x'))", "False", KindBool, ""},
		{"and casts", "and('a', 1, 1.2.3)", "True", KindBool, ""},
		{"and empty string", "and(true, '')", "False", KindBool, ""},
		{"and many", "and(true, true, true, false)", "False", KindBool, ""},
		{"or short-circuits", "or(true, gt(1, 'x'))", "True", KindBool, ""},
		{"or evaluates until true", "or(false, gt(1, 'x'))", "", 0, "Unable to convert from String to Number."},
		{"or all false", "or(false, 0, '', variables.missing)", "False", KindBool, ""},
		{"not null", "not(variables.missing)", "True", KindBool, ""},
		{"not string", "not('false')", "False", KindBool, ""},
		{"xor both", "xor(true, 1)", "False", KindBool, ""},
		// eq / ne
		{"eq ignore case", "eq('ABC', 'abc')", "True", KindBool, ""},
		{"eq number string", "eq(1, '1.0')", "True", KindBool, ""},
		{"eq failed conversion", "eq(1, 'one')", "False", KindBool, ""},
		{"ne failed conversion", "ne(1, 'one')", "True", KindBool, ""},
		{"eq versions", "eq(1.2.3, '1.2.3')", "True", KindBool, ""},
		{"eq null missing", "eq(variables.missing, '')", "True", KindBool, ""},
		{"eq missing vs zero", "eq(variables.missing, 0)", "False", KindBool, ""},
		{"eq arrays by identity", "eq(parameters.myArray, parameters.myArray)", "True", KindBool, ""},
		{"eq distinct arrays", "eq(split('a', ','), split('a', ','))", "False", KindBool, ""},
		// ordering
		{"gt strings", "gt('b', 'A')", "True", KindBool, ""},
		{"gt version", "gt(1.10.0, '1.9.9')", "True", KindBool, ""},
		{"ge conversion error", "ge(2, 'abc')", "", 0, "Unable to convert from String to Number."},
		{"lt string vs number", "lt('10', 9)", "True", KindBool, ""},
		{"le null", "le(variables.missing, 0)", "True", KindBool, ""},
		{"gt array", "gt(parameters.myArray, 1)", "", 0, "Unable to convert from Array to Number."},
		// in / notIn
		{"in single", "in('a')", "False", KindBool, ""},
		{"in ignore case", "in('b', 'A', 'B')", "True", KindBool, ""},
		{"in short-circuits", "in(1, 1, gt(1, 'x'))", "True", KindBool, ""},
		{"in conversion failure is no match", "in(1, 'x', '1')", "True", KindBool, ""},
		{"notIn match", "notIn('a', 'A')", "False", KindBool, ""},
		// string tests
		{"contains ignore case", "contains('Hello', 'LL')", "True", KindBool, ""},
		{"contains empty", "contains('x', '')", "True", KindBool, ""},
		{"contains number", "contains(12345, 34)", "True", KindBool, ""},
		{"contains bool text", "contains(true, 'ru')", "True", KindBool, ""},
		{"contains array fails", "contains(parameters.myArray, 'FOO')", "", 0, "Unable to convert from Array to String."},
		{"startsWith ignore case", "startsWith('refs/heads/main', 'REFS/HEADS/')", "True", KindBool, ""},
		{"startsWith longer", "startsWith('ab', 'abc')", "False", KindBool, ""},
		{"endsWith unicode", "endsWith('straße', 'SSE')", "False", KindBool, ""},
		{"endsWith unicode case", "endsWith('STRASSÉ', 'sé')", "True", KindBool, ""},
		// containsValue
		{"containsValue object values", "containsValue(parameters.data, '2')", "True", KindBool, ""},
		{"containsValue converts items to right", "containsValue(parameters.myArray, 'foo')", "True", KindBool, ""},
		{"containsValue miss", "containsValue(parameters.myArray, 'nope')", "False", KindBool, ""},
		{"containsValue not a collection", "containsValue('abc', 'a')", "False", KindBool, ""},
		// coalesce
		{"coalesce keeps type", "coalesce(variables.missing, parameters.myArray)", `["FOO","BAR","ZOO"]`, KindArray, ""},
		{"coalesce all empty", "coalesce(variables.missing, '')", "", KindString, ""},
		{"coalesce zero is a value", "coalesce(0, 'x')", "0", KindNumber, ""},
		{"coalesce false is a value", "coalesce(false, 'x')", "False", KindBool, ""},
		// join
		{"join non-array", "join(',', 'abc')", "abc", KindString, ""},
		{"join object", "join(',', parameters.data)", "", KindString, ""},
		{"join mixed", "join('-', parameters.nested)", "--", KindString, ""},
		{"join numbers", "join(', ', foo.*.id)", "1, 2, 3", KindString, ""},
		{"join single skips separator", "join(parameters.myArray, split('a', ','))", "a", KindString, ""},
		{"join separator array fails", "join(parameters.myArray, parameters.myArray)", "", 0, "Unable to convert from Array to String."},
		// length
		{"length null", "length(variables.missing)", "0", KindNumber, ""},
		{"length number", "length(12.5)", "4", KindNumber, ""},
		{"length utf16", "length('😀é')", "3", KindNumber, ""},
		{"length bool", "length(true)", "4", KindNumber, ""},
		// lower / upper / trim / replace / split
		{"lower null", "lower(variables.missing)", "", KindString, ""},
		{"upper bool", "upper(false)", "FALSE", KindString, ""},
		{"trim tabs", "trim('\t x \n')", "x", KindString, ""},
		{"replace ignore case", "replace('aXbxc', 'x', '-')", "a-b-c", KindString, ""},
		{"replace empty old", "replace('abc', '', 'x')", "", 0, "must not be empty"},
		{"replace none", "replace('abc', 'z', 'y')", "abc", KindString, ""},
		{"replace unicode ignore case", "replace('Äbä', 'ä', 'x')", "xbx", KindString, ""},
		{"replace unicode pattern in ascii", "replace('abc', 'é', 'x')", "abc", KindString, ""},
		{"replace overlapping", "replace('aaaa', 'aa', 'b')", "bb", KindString, ""},
		{"contains unicode", "contains('GRÜN', 'rü')", "True", KindBool, ""},
		{"replace with quote", "replace('it''s', '''', '''''')", "it''s", KindString, ""},
		{"split keeps empties", "split('a,,b,', ',')", `["a","","b",""]`, KindArray, ""},
		{"split multi-char separator", "split('a, b, c', ', ')", `["a","b","c"]`, KindArray, ""},
		{"split empty separator", "split('abc', '')", `["abc"]`, KindArray, ""},
		{"split empty string", "split('', ',')", `[""]`, KindArray, ""},
		{"split index out of range", "split('a,b', ',')[5]", "", KindNull, ""},
		// iif
		{"iif false", "iif(false, 'a', 'b')", "b", KindString, ""},
		{"iif one arg", "iif(true)", "", KindNull, ""},
		{"iif evaluates both branches", "iif(true, 'a', gt(1, 'x'))", "", 0, "Unable to convert"},
		// convertToJson
		{"json string", "convertToJson('a\"b')", `"a\"b"`, KindString, ""},
		{"json number", "convertToJson(1.50)", "1.5", KindString, ""},
		{"json bool", "convertToJson(true)", "true", KindString, ""},
		{"json null", "convertToJson(variables.missing)", "null", KindString, ""},
		{"json empty array", "convertToJson(split('', ',')[1])", "null", KindString, ""},
		{"json version", "convertToJson(1.2.3)", `"1.2.3"`, KindString, ""},
		{"json nested", "convertToJson(parameters.nested)", "[\n  [\n    1,\n    2\n  ],\n  [\n    3\n  ],\n  {\n    \"x\": 4\n  }\n]", KindString, ""},
		// indexing
		{"index property", "parameters.test.pool", "ManagedDevOpsPool", KindString, ""},
		{"index ignore case", "PARAMETERS['TEST']['Pool']", "ManagedDevOpsPool", KindString, ""},
		{"index missing", "parameters.test.nope", "", KindNull, ""},
		{"index of string", "variables.letters.x", "", KindNull, ""},
		{"index array by string number", "parameters.myArray['1']", "BAR", KindString, ""},
		{"index array by fraction", "parameters.myArray[1.9]", "BAR", KindString, ""},
		{"index array negative", "parameters.myArray[-1]", "", KindNull, ""},
		{"index array by word", "parameters.myArray['x']", "", KindNull, ""},
		{"index object by number", "parameters.data[1]", "", KindNull, ""},
		{"index computed key", "parameters[format('te{0}', 'st')].pool", "ManagedDevOpsPool", KindString, ""},
		{"index by bool", "parameters.nested[true]", "[3]", KindArray, ""},
		{"wildcard object", "parameters.data.*", "[1,2,3]", KindArray, ""},
		{"wildcard bracket", "parameters.myArray[*]", `["FOO","BAR","ZOO"]`, KindArray, ""},
		{"wildcard nested", "parameters.nested.*.*", "[1,2,3,4]", KindArray, ""},
		{"wildcard index", "parameters.nested.*[0]", "[1,3]", KindArray, ""},
		{"wildcard filters misses", "parameters.nested.*.x", "[4]", KindArray, ""},
		{"wildcard on scalar", "variables.letters.*", "[]", KindArray, ""},
		{"filtered length", "length(foo.*.a)", "3", KindNumber, ""},
		{"unknown named value", "nothing.here", "", KindNull, ""},
		{"function result index", "split('a/b', '/')[1]", "b", KindString, ""},
		// literals
		{"null literal", "null", "", KindNull, ""},
		{"version literal", "1.2.3.4", "1.2.3.4", KindVersion, ""},
		{"leading-point number", ".5", "0.5", KindNumber, ""},
		{"signed number", "-1.2", "-1.2", KindNumber, ""},
		{"plus number", "+3", "3", KindNumber, ""},
		{"quote escape", "'It''s OK'", "It's OK", KindString, ""},
		{"TRUE", "TRUE", "True", KindBool, ""},
		{"big number", "45700000000000000000000000000", "45700000000000000000000000000", KindNumber, ""},
		// status and counter without hooks
		{"status without hook", "succeeded()", "", 0, "only available in conditions"},
		{"counter without hook", "counter('a', 1)", "", 0, "counter() is not available"},
	})
}

func TestCounter(t *testing.T) {
	seen := map[string]float64{}
	ctx := testContext(t)
	ctx.Counter = func(prefix string, seed float64) (float64, error) {
		n, ok := seen[prefix]
		if !ok {
			n = seed
		} else {
			n++
		}
		seen[prefix] = n
		return n, nil
	}
	e, err := ParseWith("counter(variables['major'], 100)", RuntimeVariableOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"100", "101", "102"} {
		v, err := e.Eval(ctx)
		if err != nil || v.String() != want {
			t.Fatalf("counter = %v, %v; want %s", v, err, want)
		}
	}
	day, err := ParseWith("counter(format('{0:yyyyMMdd}', pipeline.startTime), 0)", RuntimeVariableOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := day.Eval(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := seen["20240305"]; !ok {
		t.Errorf("counter prefixes = %v, want 20240305 among them", seen)
	}
	ctx.Counter = func(string, float64) (float64, error) { return 0, errors.New("store down") }
	if _, err := e.Eval(ctx); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("counter error = %v, want the hook's error", err)
	}
	bad, _ := Parse("counter('x', 'seed')")
	ctx.Counter = func(string, float64) (float64, error) { return 1, nil }
	if _, err := bad.Eval(ctx); err == nil {
		t.Error("counter with a word seed succeeded, want an error")
	}
}

func TestStrictNamedValue(t *testing.T) {
	ctx := &Context{}
	ctx.SetStrict("parameters", mustObject(t, "present", "yes"))
	tests := []evalCase{
		{"present", "parameters.present", "yes", KindString, ""},
		{"ignore case", "parameters['PRESENT']", "yes", KindString, ""},
		{"missing", "parameters.undefined", "", 0, "Key not found 'undefined'"},
		{"missing in coalesce", "coalesce(parameters.undefined, 'x')", "", 0, "Key not found"},
		{"whole", "length(parameters)", "1", KindNumber, ""},
	}
	runEvalCases(t, ctx, tests)
}

func TestLookupNamedValue(t *testing.T) {
	vars := map[string]string{"Build.SourceBranch": "refs/heads/main"}
	ctx := &Context{}
	ctx.SetLookup("variables", func(key string) (Value, bool) {
		for k, v := range vars {
			if strings.EqualFold(k, key) {
				return String(v), true
			}
		}
		return Value{}, false
	})
	runEvalCases(t, ctx, []evalCase{
		{"index", "variables['build.sourcebranch']", "refs/heads/main", KindString, ""},
		{"property", "eq(variables.missing, '')", "True", KindBool, ""},
		{"whole is an error", "length(variables)", "", 0, "can only be used with an index"},
		{"wildcard is an error", "variables.*", "", 0, "can only be used with an index"},
	})
}

func TestContextClone(t *testing.T) {
	base := &Context{}
	base.Set("a", String("1"))
	child := base.Clone()
	child.Set("a", String("2"))
	child.Set("b", String("3"))
	e, _ := Parse("format('{0}{1}', a, b)")
	if v, _ := e.Eval(base); v.String() != "1" {
		t.Errorf("base sees %q, want 1", v)
	}
	if v, _ := e.Eval(child); v.String() != "23" {
		t.Errorf("child sees %q, want 23", v)
	}
	var nilCtx *Context
	if nilCtx.Clone() == nil {
		t.Error("Clone of nil returned nil")
	}
}
