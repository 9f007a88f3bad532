package run

import (
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// evalCondition decides whether a stage or job (kind) runs. An empty condition is Azure's
// default succeeded(). reason explains a false result.
func (s *State) evalCondition(cond string, e *evalEnv, kind string) (run bool, reason string, err error) {
	if strings.TrimSpace(cond) == "" {
		ok, err := e.status.Status(expr.Succeeded, nil)
		if err != nil || ok {
			return ok, "", err
		}
		return false, e.whyNotSucceeded(kind), nil
	}
	level := expr.LevelJob
	if kind == "stage" {
		level = expr.LevelStage
	}
	x, err := expr.ParseWith(cond, expr.ConditionOptions(level))
	if err != nil {
		return false, "", err
	}
	ok, err := x.EvalBool(e.context(true))
	if err != nil || ok {
		return ok, "", err
	}
	return false, "condition " + strings.Join(strings.Fields(cond), " ") + " was false", nil
}

// evalValue evaluates the text of a `$[ ]` variable value.
func (s *State) evalValue(text string, e *evalEnv) (string, error) {
	x, err := expr.ParseWith(text, expr.RuntimeVariableOptions())
	if err != nil {
		return "", err
	}
	v, err := x.Eval(e.context(false))
	if err != nil {
		return "", err
	}
	str, ok := v.ToString()
	if !ok {
		return "", fmt.Errorf("the expression gives %s, which is not a variable value (use convertToJson)", v.Kind())
	}
	return str, nil
}

// evalMatrix evaluates a runtime `strategy.matrix`: an expression giving a JSON object of
// legs (as a string, typically an output variable, or as an object), each leg an object of
// variable names to scalar values. Null or empty text means no legs.
func (s *State) evalMatrix(text string, e *evalEnv) ([]plan.MatrixLeg, error) {
	src, ok := expr.RuntimeExpression(text)
	if !ok {
		src = text
	}
	x, err := expr.ParseWith(src, expr.RuntimeVariableOptions())
	if err != nil {
		return nil, err
	}
	v, err := x.Eval(e.context(false))
	if err != nil {
		return nil, err
	}
	if v.Kind() == expr.KindString {
		str, _ := v.ToString()
		if strings.TrimSpace(str) == "" {
			return nil, nil
		}
		if v, err = expr.ParseJSON([]byte(str)); err != nil {
			return nil, fmt.Errorf("matrix: %w", err)
		}
	}
	switch v.Kind() {
	case expr.KindNull:
		return nil, nil
	case expr.KindObject:
	default:
		return nil, fmt.Errorf("matrix must be a JSON object of legs, not %s", v.Kind())
	}
	var legs []plan.MatrixLeg
	for name, lv := range v.Object().All() {
		if lv.Kind() != expr.KindObject {
			return nil, fmt.Errorf("matrix leg %s must be an object of variables, not %s", name, lv.Kind())
		}
		leg := plan.MatrixLeg{Name: name, Variables: []plan.Variable{}}
		for vn, vv := range lv.Object().All() {
			str, ok := vv.ToString()
			if !ok {
				return nil, fmt.Errorf("matrix leg %s variable %s must be a string, number or boolean, not %s", name, vn, vv.Kind())
			}
			leg.Variables = append(leg.Variables, plan.Variable{Name: vn, Value: str})
		}
		legs = append(legs, leg)
	}
	if len(legs) == 0 {
		return nil, nil
	}
	return legs, nil
}

// context binds the environment's named values for expr.
func (e *evalEnv) context(conditions bool) *expr.Context {
	c := &expr.Context{}
	vars := make(map[string]string, len(e.vars))
	for _, v := range e.vars {
		vars[strings.ToLower(v.Name)] = v.Value
	}
	c.SetLookup("variables", func(key string) (expr.Value, bool) {
		v, ok := vars[strings.ToLower(key)]
		if !ok {
			return expr.Value{}, false
		}
		return expr.String(v), true
	})
	deps := expr.NewObject()
	for _, d := range e.deps {
		deps.Set(d.name, depValue(d))
	}
	c.Set("dependencies", expr.ObjectValue(deps))
	sdeps := expr.NewObject()
	for _, sd := range e.stageDeps {
		jobs := expr.NewObject()
		for _, d := range sd.jobs {
			jobs.Set(d.name, depValue(d))
		}
		sdeps.Set(sd.name, expr.ObjectValue(jobs))
	}
	c.Set("stageDependencies", expr.ObjectValue(sdeps))
	pipeline := expr.NewObject()
	pipeline.Set("startTime", expr.DateTime(e.startTime))
	c.Set("pipeline", expr.ObjectValue(pipeline))
	if conditions {
		c.Status = e.status
	} else {
		c.Counter = e.counter
	}
	return c
}

func depValue(d depEntry) expr.Value {
	o := expr.NewObject()
	o.Set("result", expr.String(string(d.result)))
	outs := expr.NewObject()
	for _, v := range d.outputs {
		outs.Set(v.Name, expr.String(v.Value))
	}
	o.Set("outputs", expr.ObjectValue(outs))
	return expr.ObjectValue(o)
}

// whyNotSucceeded explains a false default condition.
func (e *evalEnv) whyNotSucceeded(kind string) string {
	if e.status.Canceling {
		return "the run was canceled"
	}
	for _, n := range e.order {
		if r := e.status.Results[n]; r != string(job.Succeeded) && r != string(job.SucceededWithIssues) {
			return fmt.Sprintf("%s %s ended %s", kind, n, r)
		}
	}
	return "condition succeeded() was false"
}
