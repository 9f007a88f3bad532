// Package expand owns template expansion: it turns a pipeline file and the templates it
// references into one document with every `${{ }}` expression, directive, template
// reference and `extends:` resolved, reading files only through a caller-supplied fs.FS.
package expand

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// Azure's limits on template expansion (Docs: process/template-expressions.md).
const (
	DefaultMaxFiles = 100      // separate YAML files included, directly or indirectly
	DefaultMaxDepth = 100      // levels of template nesting
	DefaultMaxBytes = 20 << 20 // memory used by the expanded pipeline
)

// Options configure an expansion. The zero Options is usable.
type Options struct {
	// Parameters are values for the root file's runtime parameters, keyed by name, as
	// text: a boolean is "true", a structured value (object, stepList, ...) is YAML or
	// JSON. Unknown names are errors.
	Parameters map[string]string
	// Variables are predefined variables visible to `${{ variables.X }}` (Azure offers the
	// ones "available in templates", such as Build.Reason and Build.SourceBranch).
	Variables map[string]string
	// MaxFiles, MaxDepth and MaxBytes override Azure's limits when positive.
	MaxFiles, MaxDepth, MaxBytes int
}

// Result is an expanded pipeline.
type Result struct {
	// Pipeline is the expanded root document: templates inlined, expressions evaluated,
	// `extends:` resolved, root variables in list form. The root `parameters:`
	// declarations are kept, as Azure's "download full YAML" keeps them.
	Pipeline *syntax.Node
	// Parameters are the resolved runtime parameters as plain data (strings, float64,
	// bools, nil, []any, map[string]any), in the form plan.Plan.Parameters holds.
	Parameters map[string]any
	// Files lists every file read, root first, in the order first read.
	Files []string
}

// Expand reads the pipeline at name in fsys and expands it. Diagnostics hold every error
// and warning; when they include an error the Result is nil. Expand does no I/O other
// than reading fsys and never reads the clock.
func Expand(fsys fs.FS, name string, opts Options) (*Result, syntax.Diagnostics) {
	e := newExpander(fsys, opts)
	res := e.run(name)
	diags := e.diags.Sorted()
	if diags.HasErrors() {
		return nil, diags
	}
	return res, diags
}

// expander holds the state of one expansion. It is not safe for concurrent use.
type expander struct {
	fsys  fs.FS
	opts  Options
	diags syntax.Diagnostics
	vals  *values
	files map[string]*loaded
	order []string
	// bytes approximates the memory held by the expansion, for the 20 MB limit.
	bytes     int
	overLimit bool
	sizes     map[*syntax.Node]int
	templated map[*syntax.Node]bool
	parsed    map[parsedKey]parsedTemplate
}

// loaded is a parsed file. A file is parsed once however often it is included.
type loaded struct {
	node      *syntax.Node
	validated map[syntax.Shape]bool
}

func newExpander(fsys fs.FS, opts Options) *expander {
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	return &expander{
		fsys:      fsys,
		opts:      opts,
		vals:      newValues(),
		files:     map[string]*loaded{},
		sizes:     map[*syntax.Node]int{},
		templated: map[*syntax.Node]bool{},
		parsed:    map[parsedKey]parsedTemplate{},
	}
}

// maxDiagnostics stops an expansion that keeps failing (say, inside a large each loop).
const maxDiagnostics = 200

func (e *expander) add(d syntax.Diagnostic) {
	if len(e.diags) < maxDiagnostics {
		e.diags = append(e.diags, d)
	}
}

func (e *expander) errorf(pos plan.Pos, format string, args ...any) {
	e.add(syntax.Errorf(pos, format, args...))
}

// failed reports whether expansion should stop descending (too many errors or a limit hit).
func (e *expander) failed() bool {
	return e.overLimit || len(e.diags) >= maxDiagnostics
}

// load reads, parses and validates a file as shape. from is the position that named it.
func (e *expander) load(name string, shape syntax.Shape, from plan.Pos) *syntax.Node {
	f, ok := e.files[name]
	if !ok {
		if len(e.files) >= e.opts.MaxFiles {
			e.errorf(from, "the pipeline includes more than %d files, Azure's limit", e.opts.MaxFiles)
			e.overLimit = true
			return nil
		}
		data, err := fs.ReadFile(e.fsys, name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				e.errorf(from, "file %s not found in the repository", name)
			} else {
				e.errorf(from, "read %s: %v", name, err)
			}
			e.files[name] = &loaded{}
			return nil
		}
		if !e.charge(from, len(data)) {
			return nil
		}
		e.order = append(e.order, name)
		n, diags := syntax.Parse(name, data)
		for _, d := range diags {
			e.add(d)
		}
		f = &loaded{node: n, validated: map[syntax.Shape]bool{}}
		e.files[name] = f
	}
	if f.node == nil {
		return nil
	}
	if !f.validated[shape] {
		f.validated[shape] = true
		for _, d := range syntax.Validate(f.node, shape, syntax.Template) {
			e.add(d)
		}
	}
	return f.node
}

// charge counts n bytes against the memory limit and reports whether expansion may go on.
func (e *expander) charge(pos plan.Pos, n int) bool {
	if e.overLimit {
		return false
	}
	e.bytes += n
	if e.bytes > e.opts.MaxBytes {
		e.errorf(pos, "the expanded pipeline exceeds %d MB, Azure's limit on memory used while expanding templates", e.opts.MaxBytes>>20)
		e.overLimit = true
		return false
	}
	return true
}

// size estimates the memory a subtree takes, memoized since subtrees are shared.
func (e *expander) size(n *syntax.Node) int {
	if n == nil {
		return 0
	}
	if s, ok := e.sizes[n]; ok {
		return s
	}
	s := 48 + len(n.Value)
	for _, p := range n.Pairs {
		s += e.size(p.Key) + e.size(p.Value)
		if s > e.opts.MaxBytes {
			break
		}
	}
	for _, item := range n.Items {
		s += e.size(item)
		if s > e.opts.MaxBytes {
			break
		}
	}
	e.sizes[n] = s
	return s
}

// resolve turns a template reference into a path in the repository: relative to the
// directory of the file holding the reference, or to the repository root with a leading
// slash. References to other repositories (`file@alias`) are not supported.
func resolve(ref string, from string) (string, error) {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return "", fmt.Errorf("template %s names repository '%s': templates from other repositories (template@alias) are not supported", ref, ref[i+1:])
	}
	var p string
	if strings.HasPrefix(ref, "/") {
		p = path.Clean(strings.TrimLeft(ref, "/"))
	} else {
		p = path.Join(path.Dir(from), ref)
	}
	if strings.Contains(ref, "\\") {
		p = path.Clean(strings.ReplaceAll(p, "\\", "/"))
	}
	if !fs.ValidPath(p) || p == "." {
		return "", fmt.Errorf("template path %s is outside the repository", ref)
	}
	return p, nil
}

// rootVariables returns the predefined variables as the root variable scope.
func (e *expander) rootVariables() *expr.Object {
	o := expr.NewObject()
	for _, k := range sortedKeys(e.opts.Variables) {
		o.Set(k, expr.String(e.opts.Variables[k]))
	}
	return o
}
