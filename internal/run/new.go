package run

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// New returns the state of a run of p queued at now, before anything started. It fails when
// the plan's dependency graphs are broken (unknown names, cycles, duplicates), when a
// selection in opts names no stage or job, or when a variable group is not in opts.Groups.
// New keeps its own copy of opts; p is kept as is and must not be modified afterwards.
func New(p plan.Plan, opts Options, now time.Time) (*State, error) {
	if len(p.Stages) == 0 {
		return nil, errors.New("run: the pipeline has no stages")
	}
	if err := checkGraphs(p); err != nil {
		return nil, err
	}
	sel, err := selection(p, opts)
	if err != nil {
		return nil, err
	}
	s := &State{
		Plan:      p,
		Options:   opts,
		Status:    Pending,
		QueueTime: now.UTC(),
	}
	s.Options.Variables = append([]job.Variable(nil), opts.Variables...)
	for si, ps := range p.Stages {
		st := &StageState{
			Name:        ps.Name,
			DisplayName: orDefault(ps.DisplayName, ps.Name),
			Selected:    sel.stage[si],
			Attempt:     1,
			Status:      Pending,
		}
		st.DependsOn = contract(ps.Name, func(name string) ([]string, bool) {
			i := stageIndex(p, name)
			return p.Stages[i].DependsOn, sel.stage[i]
		}, ps.DependsOn)
		for ji, pj := range ps.Jobs {
			jst := &JobState{
				Name:        pj.Name,
				DisplayName: orDefault(pj.DisplayName, pj.Name),
				Selected:    sel.job[si][ji],
				Attempt:     1,
				Status:      Pending,
			}
			if pj.Strategy != nil {
				jst.MaxParallel = pj.Strategy.MaxParallel
			}
			jst.DependsOn = contract(pj.Name, func(name string) ([]string, bool) {
				i := jobIndex(ps, name)
				return ps.Jobs[i].DependsOn, sel.job[si][i]
			}, pj.DependsOn)
			st.Jobs = append(st.Jobs, jst)
		}
		s.Stages = append(s.Stages, st)
	}
	if err := s.checkGroups(); err != nil {
		return nil, err
	}
	s.BuildNumber = BuildNumber(p, opts, now)
	return s, nil
}

// checkGraphs rejects duplicate names, unknown dependencies and cycles, with the sentences
// Azure uses for them.
func checkGraphs(p plan.Plan) error {
	var errs []error
	seen := map[string]bool{}
	for _, st := range p.Stages {
		k := strings.ToLower(st.Name)
		if seen[k] {
			errs = append(errs, fmt.Errorf("the stage name %s appears more than once", st.Name))
		}
		seen[k] = true
	}
	for _, st := range p.Stages {
		for _, d := range st.DependsOn {
			if stageIndex(p, d) < 0 {
				errs = append(errs, fmt.Errorf("stage %s depends on unknown stage %s", st.Name, d))
			}
		}
	}
	if len(errs) == 0 {
		errs = append(errs, cycles(len(p.Stages), func(i int) string { return p.Stages[i].Name },
			func(i int) []string { return p.Stages[i].DependsOn },
			indexer(len(p.Stages), func(i int) string { return p.Stages[i].Name }), "stage %s depends on stage %s")...)
	}
	for _, st := range p.Stages {
		seen := map[string]bool{}
		for _, j := range st.Jobs {
			k := strings.ToLower(j.Name)
			if seen[k] {
				errs = append(errs, fmt.Errorf("stage %s job %s appears more than once", st.Name, j.Name))
			}
			seen[k] = true
		}
		bad := false
		for _, j := range st.Jobs {
			for _, d := range j.DependsOn {
				if jobIndex(st, d) < 0 {
					bad = true
					errs = append(errs, fmt.Errorf("stage %s job %s depends on unknown job %s", st.Name, j.Name, d))
				}
			}
		}
		if !bad {
			errs = append(errs, cycles(len(st.Jobs), func(i int) string { return st.Jobs[i].Name },
				func(i int) []string { return st.Jobs[i].DependsOn },
				indexer(len(st.Jobs), func(i int) string { return st.Jobs[i].Name }),
				"stage "+st.Name+" job %s depends on job %s")...)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("run: %w", errors.Join(errs...))
	}
	return nil
}

// indexer returns a lookup from a name (ignoring case) to its index among n names, -1 for
// none.
func indexer(n int, name func(int) string) func(string) int {
	idx := make(map[string]int, n)
	for i := n - 1; i >= 0; i-- {
		idx[strings.ToLower(name(i))] = i
	}
	return func(s string) int {
		if i, ok := idx[strings.ToLower(s)]; ok {
			return i
		}
		return -1
	}
}

// cycles returns one error per dependency edge that lies on a cycle, in node order.
func cycles(n int, name func(int) string, deps func(int) []string, index func(string) int, format string) []error {
	// reach[i][j]: j is reachable from i along dependency edges.
	reach := make([][]bool, n)
	for i := range n {
		reach[i] = make([]bool, n)
		stack := []int{i}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, d := range deps(k) {
				if j := index(d); j >= 0 && !reach[i][j] {
					reach[i][j] = true
					stack = append(stack, j)
				}
			}
		}
	}
	var errs []error
	for i := range n {
		for _, d := range deps(i) {
			if j := index(d); j >= 0 && reach[j][i] {
				errs = append(errs, fmt.Errorf(format+" which creates a cycle in the dependency graph", name(i), name(j)))
			}
		}
	}
	return errs
}

type selected struct {
	stage []bool
	job   [][]bool
}

// selection resolves Options.Stages and Options.Jobs against the plan.
func selection(p plan.Plan, opts Options) (selected, error) {
	sel := selected{stage: make([]bool, len(p.Stages)), job: make([][]bool, len(p.Stages))}
	all := len(opts.Stages) == 0 && len(opts.Jobs) == 0
	named := make([]bool, len(p.Stages))    // stage named in opts.Stages
	jobNamed := make([]bool, len(p.Stages)) // some opts.Jobs entry names a job of the stage
	for i, st := range p.Stages {
		sel.job[i] = make([]bool, len(st.Jobs))
	}
	for _, name := range opts.Stages {
		i := stageIndex(p, name)
		if i < 0 {
			return sel, fmt.Errorf("run: --stage %s: the pipeline has no stage %s (stages: %s)", name, name, stageNames(p))
		}
		named[i] = true
	}
	for _, ref := range opts.Jobs {
		stageName, jobName, scoped := strings.Cut(ref, ".")
		if !scoped {
			jobName, stageName = stageName, ""
		}
		found := false
		for i, st := range p.Stages {
			if scoped && !equalFold(st.Name, stageName) {
				continue
			}
			if j := jobIndex(st, jobName); j >= 0 {
				sel.job[i][j] = true
				jobNamed[i] = true
				found = true
			}
		}
		if !found {
			return sel, fmt.Errorf("run: --job %s: the pipeline has no such job (jobs: %s)", ref, jobNames(p))
		}
	}
	for i, st := range p.Stages {
		sel.stage[i] = all || named[i] || jobNamed[i]
		for j := range st.Jobs {
			if all || named[i] && !jobNamed[i] {
				sel.job[i][j] = true
			}
		}
	}
	return sel, nil
}

// contract returns the effective dependencies of a node: its dependencies that are selected,
// and in place of each unselected one, that one's effective dependencies, so that a selected
// node still waits for its nearest selected ancestors. The graph is acyclic (checkGraphs).
func contract(self string, node func(string) ([]string, bool), deps []string) []string {
	out := []string{}
	walk(self, deps, func(d string) []string {
		dd, ok := node(d)
		if ok {
			out = append(out, d)
			return nil
		}
		return dd
	})
	return out
}

// walk visits a dependency graph depth-first from deps, each name once (ignoring case) and
// never self; visit returns the dependencies to follow from the node it is given.
func walk(self string, deps []string, visit func(name string) []string) {
	seen := map[string]bool{strings.ToLower(self): true}
	var rec func([]string)
	rec = func(deps []string) {
		for _, d := range deps {
			k := strings.ToLower(d)
			if seen[k] {
				continue
			}
			seen[k] = true
			rec(visit(d))
		}
	}
	rec(deps)
}

// checkGroups fails when a variable group referenced anywhere is not in Options.Groups.
func (s *State) checkGroups() error {
	check := func(scope string, vars []plan.Variable) error {
		for _, v := range vars {
			if v.Group == "" {
				continue
			}
			if _, ok := s.group(v.Group); !ok {
				return fmt.Errorf("run: %s: variable group %s is not available to this run (local runs take variables from --var, --secret and --secret-file)", scope, v.Group)
			}
		}
		return nil
	}
	if err := check("variables", s.Plan.Variables); err != nil {
		return err
	}
	for _, ps := range s.Plan.Stages {
		if err := check("stage "+ps.Name, ps.Variables); err != nil {
			return err
		}
		for _, pj := range ps.Jobs {
			if err := check("stage "+ps.Name+" job "+pj.Name, pj.Variables); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *State) group(name string) ([]job.Variable, bool) {
	for k, v := range s.Options.Groups {
		if equalFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func stageIndex(p plan.Plan, name string) int {
	for i, st := range p.Stages {
		if equalFold(st.Name, name) {
			return i
		}
	}
	return -1
}

func jobIndex(st plan.Stage, name string) int {
	for i, j := range st.Jobs {
		if equalFold(j.Name, name) {
			return i
		}
	}
	return -1
}

func stageNames(p plan.Plan) string {
	var names []string
	for _, st := range p.Stages {
		names = append(names, st.Name)
	}
	return strings.Join(names, ", ")
}

func jobNames(p plan.Plan) string {
	var names []string
	for _, st := range p.Stages {
		for _, j := range st.Jobs {
			names = append(names, st.Name+"."+j.Name)
		}
	}
	return strings.Join(names, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
