package compile

import (
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// stages builds the stages in file order; pool is the root pool they inherit.
func (b *builder) stages(n *syntax.Node, pool *plan.Pool) []plan.Stage {
	out := []plan.Stage{}
	for _, s := range n.Items {
		name := s.Get("stage")
		st := plan.Stage{
			Name:        text(name),
			DisplayName: text(s.Get("displayName")),
			Condition:   text(s.Get("condition")),
			Variables:   b.variables(s.Get("variables")),
			Pool:        pool,
			Pos:         s.Pos,
		}
		if st.Name == "" {
			b.errorf(s.Pos, "a stage needs a name (stage: Name)")
		}
		if p := b.pool(s.Get("pool")); p != nil {
			st.Pool = p
		}
		if d := s.Get("dependsOn"); d != nil {
			st.DependsOn = names(d)
		} else if len(out) > 0 {
			st.DependsOn = []string{out[len(out)-1].Name}
		} else {
			st.DependsOn = []string{}
		}
		st.Jobs = b.jobs(s.Get("jobs"), st.Pool)
		out = append(out, st)
	}
	return out
}

// names reads a dependsOn: a string, or a list of strings.
func names(n *syntax.Node) []string {
	out := []string{}
	switch n.Kind {
	case syntax.Scalar:
		if s := text(n); s != "" {
			out = append(out, s)
		}
	case syntax.Sequence:
		for _, item := range n.Items {
			if s := text(item); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// jobs builds a stage's jobs. Jobs without a name get Job, Job1, Job2, ...
func (b *builder) jobs(n *syntax.Node, pool *plan.Pool) []plan.Job {
	out := []plan.Job{}
	if n == nil {
		return out
	}
	taken := map[string]bool{}
	for _, j := range n.Items {
		if name := text(j.Get("job")); name != "" {
			taken[strings.ToLower(name)] = true
		}
	}
	next := 0
	for _, j := range n.Items {
		name := text(j.Get("job"))
		if name == "" {
			for {
				name = DefaultJobName
				if next > 0 {
					name += strconv.Itoa(next)
				}
				next++
				if !taken[strings.ToLower(name)] {
					break
				}
			}
			taken[strings.ToLower(name)] = true
		}
		out = append(out, b.job(j, name, pool, false))
	}
	return out
}

// job builds one job; n is a job mapping or, for the steps-only form (root set), the
// pipeline root, whose variables and pool stay at the root. The schema admits neither
// dependsOn nor cancelTimeoutInMinutes at the root, so those read as absent there.
func (b *builder) job(n *syntax.Node, name string, pool *plan.Pool, root bool) plan.Job {
	j := plan.Job{
		Name:            name,
		DisplayName:     text(n.Get("displayName")),
		DependsOn:       []string{},
		Condition:       text(n.Get("condition")),
		ContinueOnError: boolean(n.Get("continueOnError"), false),
		Pool:            pool,
		Pos:             n.Pos,
	}
	if !root {
		j.Variables = b.variables(n.Get("variables"))
		if p := b.pool(n.Get("pool")); p != nil {
			j.Pool = p
		}
	}
	if d := n.Get("dependsOn"); d != nil {
		j.DependsOn = names(d)
	}
	j.TimeoutInMinutes = b.integer(n.Get("timeoutInMinutes"), DefaultTimeoutInMinutes, 0, "timeoutInMinutes")
	j.CancelTimeoutInMinutes = b.integer(n.Get("cancelTimeoutInMinutes"), DefaultCancelTimeoutInMinutes, 0, "cancelTimeoutInMinutes")
	j.Strategy = b.strategy(n.Get("strategy"))
	if w := n.Get("workspace"); w != nil {
		j.Workspace = &plan.Workspace{Clean: text(w.Get("clean"))}
	}
	j.Steps = b.steps(n.Get("steps"), n.Pos)
	return j
}

// checkStages validates stage and job names and dependencies across the plan.
func (b *builder) checkStages(stages []plan.Stage) {
	stageNodes := make([]graphNode, len(stages))
	for i, st := range stages {
		stageNodes[i] = graphNode{name: st.Name, deps: st.DependsOn, pos: st.Pos}
		jobNodes := make([]graphNode, len(st.Jobs))
		for k, j := range st.Jobs {
			jobNodes[k] = graphNode{name: j.Name, deps: j.DependsOn, pos: j.Pos}
		}
		b.checkGraph(jobNodes, "job", "stage "+st.Name)
	}
	b.checkGraph(stageNodes, "stage", "the pipeline")
}

// graphNode is a stage or job in a dependency graph.
type graphNode struct {
	name string
	deps []string
	pos  plan.Pos
}

// checkGraph reports duplicate names, dependencies on unknown names or on oneself, and
// cycles. Names match ignoring case, as Azure's do.
func (b *builder) checkGraph(nodes []graphNode, kind, where string) {
	index := map[string]int{}
	for i, n := range nodes {
		k := strings.ToLower(n.name)
		if n.name == "" {
			continue
		}
		if _, dup := index[k]; dup {
			b.errorf(n.pos, "%s name '%s' is used more than once in %s; %s names must be unique", kind, n.name, where, kind)
			continue
		}
		index[k] = i
	}
	edges := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, d := range n.deps {
			j, ok := index[strings.ToLower(d)]
			switch {
			case !ok:
				b.errorf(n.pos, "%s %s depends on unknown %s '%s'", kind, n.name, kind, d)
			case j == i:
				b.errorf(n.pos, "%s %s depends on itself", kind, n.name)
			default:
				edges[i] = append(edges[i], j)
			}
		}
	}
	if cycle := findCycle(edges); cycle != nil {
		path := make([]string, len(cycle))
		for i, c := range cycle {
			path[i] = nodes[c].name
		}
		b.errorf(nodes[cycle[0]].pos, "%s dependencies form a cycle: %s", kind, strings.Join(path, " -> "))
	}
}

// findCycle returns one cycle of the graph as a path that starts and ends at the same
// node, or nil.
func findCycle(edges [][]int) []int {
	const (
		unvisited = iota
		active
		done
	)
	state := make([]int, len(edges))
	var stack []int
	var found []int
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = active
		stack = append(stack, i)
		for _, j := range edges[i] {
			switch state[j] {
			case active:
				for k, s := range stack {
					if s == j {
						found = append(append([]int{}, stack[k:]...), j)
						return true
					}
				}
			case unvisited:
				if visit(j) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return false
	}
	for i := range edges {
		if state[i] == unvisited && visit(i) {
			return found
		}
	}
	return nil
}
