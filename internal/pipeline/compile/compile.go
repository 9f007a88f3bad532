// Package compile owns planning: it expands an Azure Pipelines file, validates the result
// and builds the plan.Plan that runners execute, without I/O beyond the caller's fs.FS
// and without reading the clock.
package compile

import (
	"io/fs"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expand"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// Diagnostic is a positioned error or warning (`file:line:col: message`).
type Diagnostic = syntax.Diagnostic

// Options configure a compilation. The zero Options is usable.
type Options struct {
	// Parameters are values for the pipeline's runtime (top-level) parameters as text,
	// as given on a command line or at queue time; structured values are YAML or JSON.
	Parameters map[string]string
	// Variables are predefined variables that `${{ variables.X }}` may read at compile
	// time (Build.Reason, Build.SourceBranch, ...). Compile reads no clock or
	// environment: anything time- or machine-dependent must come from here.
	Variables map[string]string
}

// Azure's job timeouts when a file sets none (minutes).
const (
	DefaultTimeoutInMinutes       = 60
	DefaultCancelTimeoutInMinutes = 5
	// MaxRetryCountOnTaskFailure is the agent's cap on retryCountOnTaskFailure.
	MaxRetryCountOnTaskFailure = 10
)

// Names of the implicit stage and job of the `jobs:` and `steps:` shortcuts.
const (
	DefaultStageName = "__default"
	DefaultJobName   = "Job"
)

// Compile reads the pipeline file name from fsys (the repository), expands its
// templates, validates it and returns its plan. Diagnostics hold every error and
// warning, sorted by position. When any is an error the plan is nil and err is a
// *syntax.InvalidError holding them; err is nil otherwise.
func Compile(fsys fs.FS, name string, opts Options) (*plan.Plan, []Diagnostic, error) {
	res, diags := expand.Expand(fsys, name, expand.Options{Parameters: opts.Parameters, Variables: opts.Variables})
	if diags.HasErrors() {
		return nil, diags, diags.Err()
	}
	p, more := Plan(res)
	diags = append(diags, more...).Sorted()
	if err := diags.Err(); err != nil {
		return nil, diags, err
	}
	return p, diags, nil
}

// Plan validates an expanded pipeline against the schema and builds its plan. The plan
// is nil when the diagnostics hold an error.
func Plan(res *expand.Result) (*plan.Plan, syntax.Diagnostics) {
	b := &builder{}
	diags := syntax.Validate(res.Pipeline, syntax.PipelineShape, syntax.Expanded)
	if diags.HasErrors() {
		return nil, diags.Sorted()
	}
	b.diags = diags
	p := b.pipeline(res.Pipeline)
	p.Parameters = res.Parameters
	if b.diags.HasErrors() {
		return nil, b.diags.Sorted()
	}
	return p, b.diags.Sorted()
}

// builder turns a validated, expanded pipeline into a plan, collecting diagnostics for
// what the schema cannot express (names, dependencies, numbers, unsupported values).
type builder struct {
	diags syntax.Diagnostics
	repos map[string]bool
}

func (b *builder) errorf(pos plan.Pos, format string, args ...any) {
	b.diags = append(b.diags, syntax.Errorf(pos, format, args...))
}

func (b *builder) warnf(pos plan.Pos, format string, args ...any) {
	b.diags = append(b.diags, syntax.Warnf(pos, format, args...))
}

// pipeline builds the root: shortcuts become an implicit stage and job.
func (b *builder) pipeline(root *syntax.Node) *plan.Plan {
	p := &plan.Plan{Name: strings.TrimSpace(root.Get("name").StringValue())}
	if v := root.Get("appendCommitMessageToRunName"); v != nil {
		ok, _ := syntax.ParseBool(v.Value)
		p.AppendCommitMessageToRunName = &ok
	}
	p.Variables = b.variables(root.Get("variables"))
	p.Pool = b.pool(root.Get("pool"))
	p.Trigger = b.trigger(root.Get("trigger"), false)
	p.PR = b.trigger(root.Get("pr"), true)
	p.Schedules = b.schedules(root.Get("schedules"))
	p.Repositories = b.repositories(root.Get("resources"))
	switch {
	case root.Get("stages") != nil:
		p.Stages = b.stages(root.Get("stages"), p.Pool)
	case root.Get("jobs") != nil:
		st := plan.Stage{Name: DefaultStageName, DependsOn: []string{}, Pool: p.Pool, Pos: root.Pos}
		st.Jobs = b.jobs(root.Get("jobs"), st.Pool)
		p.Stages = []plan.Stage{st}
	default:
		st := plan.Stage{Name: DefaultStageName, DependsOn: []string{}, Pool: p.Pool, Pos: root.Pos}
		// The steps-only form carries job keys at the root.
		st.Jobs = []plan.Job{b.job(root, DefaultJobName, st.Pool, true)}
		p.Stages = []plan.Stage{st}
	}
	if p.Stages == nil {
		p.Stages = []plan.Stage{}
	}
	b.checkStages(p.Stages)
	return p
}

// integer reads a whole number validated by the schema; min bounds it.
func (b *builder) integer(n *syntax.Node, def, min int, what string) int {
	if n == nil || n.IsNull() {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(n.StringValue()))
	if err != nil || v < min {
		b.errorf(n.Pos, "%s must be a whole number of at least %d, not '%s'", what, min, n.Value)
		return def
	}
	return v
}

// boolean reads a boolean validated by the schema.
func boolean(n *syntax.Node, def bool) bool {
	if n == nil || n.IsNull() {
		return def
	}
	v, ok := syntax.ParseBool(n.Value)
	if !ok {
		return def
	}
	return v
}

// text returns a trimmed scalar, "" when absent.
func text(n *syntax.Node) string {
	return strings.TrimSpace(n.StringValue())
}
