package run

import (
	"strings"
	"time"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// evalEnv is what a stage or job expression (condition, `$[ ]` variable, runtime matrix) can
// see: variables, `dependencies`, `stageDependencies`, the status functions and
// pipeline.startTime.
type evalEnv struct {
	// vars are in increasing precedence; a later name wins (case-insensitive).
	vars []job.Variable
	// deps is `dependencies`: the direct dependencies (stages for a stage expression, jobs of
	// the same stage for a job expression).
	deps []depEntry
	// stageDeps is `stageDependencies`: the direct dependencies of the job's stage (of the
	// stage itself for stage variables), each with its jobs. Conditions of stages cannot use it.
	stageDeps []stageDepEntry
	// status answers the status functions over every direct and indirect dependency: Azure
	// documents that the default succeeded() "applies not only to direct dependencies, but to
	// their indirect dependencies, computed recursively". order lists status.Results' keys in
	// dependency order for messages.
	status    expr.DependencyStatus
	order     []string
	startTime time.Time
	// counter implements counter() in `$[ ]` variable values.
	counter func(prefix string, seed float64) (float64, error)
}

type depEntry struct {
	name   string
	result job.Result
	// outputs are keyed "step.var", "leg.step.var" (matrix and parallel instances), and for
	// a stage "job.step.var" or "job.leg.step.var".
	outputs []job.Variable
}

type stageDepEntry struct {
	name   string
	result job.Result
	jobs   []depEntry
}

// revealsSecret reports whether val contains the value of a secret the expression could read,
// so that a `$[ ]` variable computed from a secret stays secret.
func (e *evalEnv) revealsSecret(val string) bool {
	if val == "" {
		return false
	}
	hit := func(vs []job.Variable) bool {
		for _, v := range vs {
			if v.Secret && v.Value != "" && strings.Contains(val, v.Value) {
				return true
			}
		}
		return false
	}
	if hit(e.vars) {
		return true
	}
	for _, d := range e.deps {
		if hit(d.outputs) {
			return true
		}
	}
	for _, sd := range e.stageDeps {
		for _, d := range sd.jobs {
			if hit(d.outputs) {
				return true
			}
		}
	}
	return false
}

// baseEnv holds the run-scope variables: root, then scoped (the variables of inner scopes in
// precedence order), then queue-time, then the predefined ones in sys.
func (s *State) baseEnv(root, scoped, sys []job.Variable) *evalEnv {
	run := s.runSystemVariables()
	vars := make([]job.Variable, 0, len(root)+len(scoped)+len(s.Options.Variables)+len(run)+len(sys))
	vars = append(vars, root...)
	vars = append(vars, scoped...)
	vars = append(vars, s.Options.Variables...)
	vars = append(vars, run...)
	vars = append(vars, sys...)
	return &evalEnv{vars: vars, startTime: s.StartTime, status: expr.DependencyStatus{Canceling: s.Canceled}, counter: s.counter}
}

// staticVariables are the variables of a scope that are known before it starts: everything
// but `$[ ]` values, groups inlined. Conditions see these.
func (s *State) staticVariables(vars []plan.Variable) []job.Variable {
	var out []job.Variable
	for _, v := range vars {
		if v.Group != "" {
			g, _ := s.group(v.Group)
			out = append(out, g...)
			continue
		}
		if _, ok := expr.RuntimeExpression(v.Value); ok {
			continue
		}
		out = append(out, job.Variable{Name: v.Name, Value: v.Value, ReadOnly: v.ReadOnly})
	}
	return out
}

// stageEnv is the environment of a stage's condition and variables; stageVars are the
// stage-scope variables visible so far. The status functions are answered only when
// status is set (conditions), since walking the dependency graph has a cost.
func (s *State) stageEnv(st *StageState, stageVars []job.Variable, status bool) *evalEnv {
	e := s.baseEnv(s.Variables, stageVars, stageSystemVariables(st))
	for _, d := range st.DependsOn {
		e.deps = append(e.deps, s.stageDep(s.Stage(d)))
	}
	e.stageDeps = s.stageDeps(st)
	e.status.Kind = "stage"
	if !status {
		return e
	}
	idx := make(map[string]*StageState, len(s.Stages))
	for _, x := range s.Stages {
		idx[strings.ToLower(x.Name)] = x
	}
	e.order, e.status.Results = ancestors(st.Name, func(name string) ([]string, job.Result) {
		x := idx[strings.ToLower(name)]
		return x.DependsOn, x.Result
	}, st.DependsOn)
	return e
}

// jobEnv is the environment of a job's condition, variables and runtime matrix; jobVars are
// the job-scope variables visible so far. As for stageEnv, status asks for the status
// functions.
func (s *State) jobEnv(st *StageState, js *JobState, jobVars []job.Variable, status bool) *evalEnv {
	scoped := make([]job.Variable, 0, len(st.Variables)+len(jobVars))
	scoped = append(scoped, st.Variables...)
	scoped = append(scoped, jobVars...)
	sys := append(stageSystemVariables(st), phaseSystemVariables(js)...)
	e := s.baseEnv(s.Variables, scoped, sys)
	e.status.Canceling = st.Canceled
	for _, d := range js.DependsOn {
		e.deps = append(e.deps, jobDep(st.Job(d), false))
	}
	e.stageDeps = s.stageDeps(st)
	e.status.Kind = "job"
	if !status {
		return e
	}
	idx := make(map[string]*JobState, len(st.Jobs))
	for _, x := range st.Jobs {
		idx[strings.ToLower(x.Name)] = x
	}
	e.order, e.status.Results = ancestors(js.Name, func(name string) ([]string, job.Result) {
		x := idx[strings.ToLower(name)]
		return x.DependsOn, x.Result
	}, js.DependsOn)
	return e
}

// stageDeps is `stageDependencies` for expressions in or under stage st.
func (s *State) stageDeps(st *StageState) []stageDepEntry {
	var out []stageDepEntry
	for _, d := range st.DependsOn {
		ds := s.Stage(d)
		sd := stageDepEntry{name: ds.Name, result: ds.Result}
		for _, j := range ds.Jobs {
			sd.jobs = append(sd.jobs, jobDep(j, false))
		}
		out = append(out, sd)
	}
	return out
}

// stageDep is a completed stage as its dependents see it.
func (s *State) stageDep(st *StageState) depEntry {
	d := depEntry{name: st.Name, result: st.Result}
	for _, js := range st.Jobs {
		d.outputs = append(d.outputs, jobDep(js, true).outputs...)
	}
	return d
}

// jobDep is a completed job as its dependents see it. Output names get the leg name in front
// for strategy instances, and the job name too when prefixJob is set (stage outputs).
func jobDep(js *JobState, prefixJob bool) depEntry {
	d := depEntry{name: js.Name, result: js.Result}
	for _, in := range js.Instances {
		if in.Report == nil {
			continue
		}
		prefix := ""
		if prefixJob {
			prefix = js.Name + "."
		}
		if in.Name != defaultInstance {
			prefix += in.Name + "."
		}
		for _, o := range in.Report.Outputs {
			o.Name = prefix + o.Name
			d.outputs = append(d.outputs, o)
		}
	}
	return d
}

// ancestors walks the dependency graph from deps and returns every direct and indirect
// dependency (in walk order) with its result.
func ancestors(self string, node func(string) ([]string, job.Result), deps []string) ([]string, map[string]string) {
	var names []string
	results := map[string]string{}
	walk(self, deps, func(d string) []string {
		dd, r := node(d)
		names = append(names, d)
		results[d] = string(r)
		return dd
	})
	return names, results
}

// counter is counter(prefix, seed): the first evaluation of a prefix in a run takes the
// value after the last one of earlier runs (Options.Counters), or seed; later evaluations
// in the same run give the same value.
func (s *State) counter(prefix string, seed float64) (float64, error) {
	if v, ok := s.Counters[prefix]; ok {
		return v, nil
	}
	v := seed
	if last, ok := s.Options.Counters[prefix]; ok {
		v = last + 1
	}
	if s.Counters == nil {
		s.Counters = map[string]float64{}
	}
	s.Counters[prefix] = v
	return v, nil
}
