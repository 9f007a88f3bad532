package expr

import (
	"fmt"
	"strings"
	"testing"
)

const benchCondition = "and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'))"

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchCondition); err != nil {
			b.Fatal(err)
		}
	}
}

// benchVariables is a job-sized variable set: 100 predefined-looking names.
func benchVariables() map[string]string {
	vars := map[string]string{"Build.SourceBranch": "refs/heads/main", "Agent.JobStatus": "Succeeded"}
	for i := range 98 {
		vars[fmt.Sprintf("System.Var%d", i)] = fmt.Sprintf("value-%d", i)
	}
	return vars
}

func BenchmarkEvalCondition(b *testing.B) {
	e, err := ParseWith(benchCondition, ConditionOptions(LevelStep))
	if err != nil {
		b.Fatal(err)
	}
	vars := NewObject()
	for k, v := range benchVariables() {
		vars.Set(k, String(v))
	}
	ctx := &Context{Status: StepStatus{JobStatus: "Succeeded"}}
	ctx.Set("variables", ObjectValue(vars))
	b.ReportAllocs()
	for b.Loop() {
		ok, err := e.EvalBool(ctx)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkEvalConditionLookup evaluates against a lookup-backed variables map, as an
// executor that keeps its own variable store would.
func BenchmarkEvalConditionLookup(b *testing.B) {
	e, err := ParseWith(benchCondition, ConditionOptions(LevelStep))
	if err != nil {
		b.Fatal(err)
	}
	lookup := MacroLookup(benchVariables())
	ctx := &Context{Status: StepStatus{JobStatus: "Succeeded"}}
	ctx.SetLookup("variables", func(key string) (Value, bool) {
		s, ok := lookup(key)
		return String(s), ok
	})
	b.ReportAllocs()
	for b.Loop() {
		ok, err := e.EvalBool(ctx)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// benchScript is a 1 KB script with 10 macros, some unknown.
func benchScript() string {
	var sb strings.Builder
	names := []string{"Build.SourceBranch", "System.Var1", "unknown.one", "System.Var50", "Agent.JobStatus",
		"System.Var97", "unknown.two", "system.var3", "BUILD.SOURCEBRANCH", "System.Var7"}
	for i := 0; sb.Len() < 1024; i++ {
		if i < len(names) {
			fmt.Fprintf(&sb, "echo \"step %d: $(%s)\" >> \"$LOG\" # keep going with some text\n", i, names[i])
		} else {
			sb.WriteString("echo \"plain line without macros, just padding the script out\"\n")
		}
	}
	return sb.String()
}

func BenchmarkExpandMacros(b *testing.B) {
	script := benchScript()
	lookup := MacroLookup(benchVariables())
	if n := strings.Count(script, "$("); n != 10 {
		b.Fatalf("script has %d macros, want 10", n)
	}
	b.SetBytes(int64(len(script)))
	b.ReportAllocs()
	for b.Loop() {
		out := ExpandMacros(script, lookup)
		if strings.Count(out, "$(") != 2 {
			b.Fatal("unexpected expansion")
		}
	}
}

func BenchmarkExpandVariables(b *testing.B) {
	vars := map[string]Variable{}
	for k, v := range benchVariables() {
		vars[k] = Variable{Value: v}
	}
	vars["CC"] = Variable{Value: "gcc-$(gcc_version)"}
	vars["gcc_version"] = Variable{Value: "$(System.Var1).$(System.Var2)"}
	b.ReportAllocs()
	for b.Loop() {
		if _, w := ExpandVariables(vars); len(w) != 0 {
			b.Fatal(w)
		}
	}
}

func BenchmarkTemplate(b *testing.B) {
	ctx := &Context{}
	ctx.Set("parameters", ObjectValue(func() *Object {
		o := NewObject()
		o.Set("os", String("Linux"))
		o.Set("config", String("Release"))
		return o
	}()))
	tpl, err := ParseTemplate("build-${{ parameters.os }}-${{ lower(parameters.config) }}", TemplateOptions())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Eval(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
