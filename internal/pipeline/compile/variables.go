package compile

import (
	"regexp"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// variableName is what Azure accepts as a user variable name: letters, digits, '.', '_'
// (Docs: process/variables.md). '-' is tolerated with a warning since secrets fetched from
// Key Vault commonly carry it.
var variableName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// reservedPrefixes are variable name prefixes Azure reserves for the system.
var reservedPrefixes = []string{"endpoint", "input", "secret", "path", "securefile"}

// variables reads a variables block in mapping or list form, in order.
func (b *builder) variables(n *syntax.Node) []plan.Variable {
	if n == nil {
		return nil
	}
	var out []plan.Variable
	add := func(name *syntax.Node, v plan.Variable) {
		b.checkVariableName(name, v.Name)
		out = append(out, v)
	}
	switch n.Kind {
	case syntax.Mapping:
		for _, p := range n.Pairs {
			add(p.Key, plan.Variable{Name: p.Key.Value, Value: p.Value.StringValue()})
		}
	case syntax.Sequence:
		for _, item := range n.Items {
			switch {
			case item.Get("group") != nil:
				out = append(out, plan.Variable{Group: text(item.Get("group"))})
			case item.Get("name") != nil:
				name := item.Get("name")
				add(name, plan.Variable{Name: text(name), Value: item.Get("value").StringValue(),
					ReadOnly: boolean(item.Get("readonly"), false)})
			default:
				b.errorf(item.Pos, "a variable needs a name or a group")
			}
		}
	}
	return out
}

func (b *builder) checkVariableName(n *syntax.Node, name string) {
	lower := strings.ToLower(name)
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(lower, p) && len(lower) > len(p) && (lower[len(p)] == '.' || lower[len(p)] == '_') {
			b.warnf(n.Pos, "variable name '%s' starts with '%s', a prefix Azure reserves for system variables", name, p)
			return
		}
	}
	switch {
	case !variableName.MatchString(name):
		b.errorf(n.Pos, "variable name '%s' may only contain letters, digits, '.' and '_'", name)
	case strings.Contains(name, "-"):
		b.warnf(n.Pos, "variable name '%s' contains '-'; Azure documents only letters, digits, '.' and '_'", name)
	}
}

// pool reads `pool: name` or `pool: {name, vmImage, demands}`. Keys the plan does not
// hold (Azure allows any) are reported as warnings.
func (b *builder) pool(n *syntax.Node) *plan.Pool {
	if n == nil || n.IsNull() {
		return nil
	}
	if n.Kind == syntax.Scalar {
		name := text(n)
		if strings.EqualFold(name, "server") {
			b.errorf(n.Pos, "agentless jobs (pool: server) are not supported")
		}
		return &plan.Pool{Name: name}
	}
	p := &plan.Pool{Name: text(n.Get("name")), VMImage: text(n.Get("vmImage"))}
	if d := n.Get("demands"); d != nil {
		p.Demands = names(d)
	}
	for _, pr := range n.Pairs {
		switch pr.Key.Value {
		case "name", "vmImage", "demands":
		default:
			b.warnf(pr.Key.Pos, "pool key '%s' is ignored; Keystage pools match on name, vmImage and demands", pr.Key.Value)
		}
	}
	return p
}

// strategy reads a job strategy: a static matrix, a runtime-expression matrix, or
// parallel copies.
func (b *builder) strategy(n *syntax.Node) *plan.Strategy {
	if n == nil || n.IsNull() {
		return nil
	}
	s := &plan.Strategy{}
	m, par := n.Get("matrix"), n.Get("parallel")
	if m != nil && par != nil {
		b.errorf(par.Pos, "a strategy has either a matrix or parallel, not both")
	}
	s.MaxParallel = b.integer(n.Get("maxParallel"), 0, 0, "maxParallel")
	if par != nil {
		s.Parallel = b.integer(par, 0, 1, "parallel")
		if n.Get("maxParallel") != nil {
			b.errorf(n.Get("maxParallel").Pos, "maxParallel applies to a matrix, not to parallel")
		}
	}
	switch {
	case m == nil:
	case m.Kind == syntax.Scalar:
		if _, ok := expr.RuntimeExpression(m.StringValue()); !ok {
			b.errorf(m.Pos, "a matrix must be a mapping of legs or a runtime expression $[ ... ]")
		}
		s.MatrixExpr = text(m)
	case m.Kind == syntax.Mapping:
		seen := map[string]bool{}
		for _, leg := range m.Pairs {
			name := leg.Key.Value
			if seen[strings.ToLower(name)] {
				b.errorf(leg.Key.Pos, "matrix leg '%s' is defined twice", name)
			}
			seen[strings.ToLower(name)] = true
			vars := []plan.Variable{}
			for _, p := range leg.Value.Pairs {
				vars = append(vars, plan.Variable{Name: p.Key.Value, Value: p.Value.StringValue()})
			}
			s.Matrix = append(s.Matrix, plan.MatrixLeg{Name: name, Variables: vars})
		}
	}
	if s.Matrix == nil && s.MatrixExpr == "" && s.Parallel == 0 && s.MaxParallel == 0 {
		return nil
	}
	return s
}

// trigger reads `trigger:` or `pr:`: none, a branch list, or a mapping of filters.
func (b *builder) trigger(n *syntax.Node, pr bool) *plan.Trigger {
	if n == nil {
		return nil
	}
	t := &plan.Trigger{}
	switch n.Kind {
	case syntax.Scalar:
		if n.IsNull() {
			return nil
		}
		t.None = true // the schema admits only "none"
	case syntax.Sequence:
		t.Branches.Include = names(n)
	case syntax.Mapping:
		t.Batch = boolean(n.Get("batch"), false)
		t.Branches = filter(n.Get("branches"))
		t.Paths = filter(n.Get("paths"))
		t.Tags = filter(n.Get("tags"))
		if pr {
			if d := n.Get("drafts"); d != nil {
				v := boolean(d, true)
				t.Drafts = &v
			}
			if a := n.Get("autoCancel"); a != nil {
				v := boolean(a, true)
				t.AutoCancel = &v
			}
		}
	}
	return t
}

// filter reads an include/exclude filter; exclude without include includes everything
// ("*"), as Azure does.
func filter(n *syntax.Node) plan.Filter {
	if n == nil {
		return plan.Filter{}
	}
	f := plan.Filter{}
	if n.Kind == syntax.Sequence {
		f.Include = names(n)
		return f
	}
	if in := n.Get("include"); in != nil {
		f.Include = names(in)
	}
	if ex := n.Get("exclude"); ex != nil {
		f.Exclude = names(ex)
		if n.Get("include") == nil {
			f.Include = []string{"*"}
		}
	}
	return f
}

// schedules reads the cron triggers.
func (b *builder) schedules(n *syntax.Node) []plan.Schedule {
	if n == nil {
		return nil
	}
	var out []plan.Schedule
	for _, s := range n.Items {
		out = append(out, plan.Schedule{
			Cron:        text(s.Get("cron")),
			DisplayName: text(s.Get("displayName")),
			Branches:    filter(s.Get("branches")),
			Batch:       boolean(s.Get("batch"), false),
			Always:      boolean(s.Get("always"), false),
		})
	}
	return out
}

// repositories reads resources.repositories and remembers the aliases for checkout.
func (b *builder) repositories(n *syntax.Node) []plan.Repository {
	b.repos = map[string]bool{}
	repos := n.Get("repositories")
	if repos == nil {
		return nil
	}
	var out []plan.Repository
	for _, r := range repos.Items {
		alias := text(r.Get("repository"))
		if b.repos[strings.ToLower(alias)] || strings.EqualFold(alias, "self") || strings.EqualFold(alias, "none") {
			b.errorf(r.Pos, "repository alias '%s' is reserved or already declared", alias)
		}
		b.repos[strings.ToLower(alias)] = true
		out = append(out, plan.Repository{
			Alias: alias, Type: text(r.Get("type")), Name: text(r.Get("name")),
			Ref: text(r.Get("ref")), Endpoint: text(r.Get("endpoint")),
		})
	}
	return out
}
