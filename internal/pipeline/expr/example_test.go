package expr_test

import (
	"fmt"
	"time"

	"github.com/keystage/keystage/internal/pipeline/expr"
)

// A job condition reading a dependency's output, as the run state machine evaluates it.
func ExampleParseWith_jobCondition() {
	cond, err := expr.ParseWith(
		"and(succeeded(), eq(dependencies.A.outputs['printvar.shouldrun'], 'true'))",
		expr.ConditionOptions(expr.LevelJob))
	if err != nil {
		panic(err)
	}
	a, _ := expr.ParseJSON([]byte(`{"result":"Succeeded","outputs":{"printvar.shouldrun":"true"}}`))
	deps := expr.NewObject()
	deps.Set("A", a)

	ctx := &expr.Context{Status: expr.DependencyStatus{Results: map[string]string{"A": "Succeeded"}}}
	ctx.Set("dependencies", expr.ObjectValue(deps))
	run, err := cond.EvalBool(ctx)
	fmt.Println(run, err)
	// Output: true <nil>
}

// A multi-line condition from the docs: white space and new lines may separate a function
// name from its parameters.
func ExampleParseWith_multiLine() {
	cond, _ := expr.ParseWith(`and
(
  in(dependencies.a.result, 'Succeeded', 'SucceededWithIssues', 'Skipped'),
  in(dependencies.b.result, 'Succeeded', 'SucceededWithIssues', 'Skipped')
)
`, expr.ConditionOptions(expr.LevelJob))
	deps, _ := expr.ParseJSON([]byte(`{"a":{"result":"Skipped"},"b":{"result":"Succeeded"}}`))
	ctx := &expr.Context{}
	ctx.Set("dependencies", deps)
	fmt.Println(cond.EvalBool(ctx))
	// Output: true <nil>
}

// A runtime variable: `$[ ]` is detected, parsed with counter() allowed, and printed the
// way Azure prints values.
func ExampleRuntimeExpression() {
	src, ok := expr.RuntimeExpression("$[ format('{0:yyyyMMdd}-{1}', pipeline.startTime, eq(variables.a, 'x')) ]")
	fmt.Println(ok)
	e, _ := expr.ParseWith(src, expr.RuntimeVariableOptions())
	pipeline := expr.NewObject()
	pipeline.Set("startTime", expr.DateTime(time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)))
	ctx := &expr.Context{}
	ctx.Set("pipeline", expr.ObjectValue(pipeline))
	ctx.SetLookup("variables", func(string) (expr.Value, bool) { return expr.String("X"), true })
	v, _ := e.Eval(ctx)
	fmt.Println(v)
	// Output:
	// true
	// 20240305-True
}

// Template expressions: a whole-value expression keeps its type, embedded ones become text.
func ExampleParseTemplate() {
	params, _ := expr.ParseJSON([]byte(`{"os":"Linux","steps":[{"script":"make"}]}`))
	ctx := &expr.Context{}
	ctx.SetStrict("parameters", params)

	whole, _ := expr.ParseTemplate("${{ parameters.steps }}", expr.TemplateOptions())
	v, _ := whole.Eval(ctx)
	fmt.Println(v.Kind(), v)

	text, _ := expr.ParseTemplate("build-${{ lower(parameters.os) }}", expr.TemplateOptions())
	v, _ = text.Eval(ctx)
	fmt.Println(v.Kind(), v)

	missing, _ := expr.ParseTemplate("${{ parameters.missing }}", expr.TemplateOptions())
	_, err := missing.Eval(ctx)
	fmt.Println(err)
	// Output:
	// Array [{"script":"make"}]
	// String build-linux
	// Key not found 'missing'
}

// Macros as the agent expands task inputs: unknown names stay as written.
func ExampleExpandMacros() {
	lookup := expr.MacroLookup(map[string]string{"Build.SourcesDirectory": "/w/1/s"})
	fmt.Println(expr.ExpandMacros("cd $(build.sourcesdirectory) && echo $(missing)", lookup))
	// Output: cd /w/1/s && echo $(missing)
}

// Variable definitions expand recursively; cycles are reported for a warning.
func ExampleExpandVariables() {
	vars, warnings := expr.ExpandVariables(map[string]expr.Variable{
		"CC":          {Value: "gcc-$(gcc_version)"},
		"gcc_version": {Value: "12"},
		"loop":        {Value: "$(loop)"},
	})
	fmt.Println(vars["CC"].Value)
	for _, w := range warnings {
		fmt.Println(w)
	}
	// Output:
	// gcc-12
	// Unable to expand variable 'loop'. A cyclical reference was detected.
}
