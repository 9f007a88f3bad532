package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keystage/keystage/internal/pipeline/compile"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// newPipelinesValidateCommand is `keystage pipelines validate FILE`: compile a pipeline
// file on this machine and print its diagnostics.
func newPipelinesValidateCommand(env Env) *cobra.Command {
	var in compileInput
	var showPlan bool
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a pipeline file and its templates, as Azure does before a run",
		Long: `Expand and compile an azure-pipelines.yml file and print every error and warning as
file:line:col: message. Templates are read from the repository that holds FILE (the
nearest directory above it with a .git entry, or --repo). Exits non-zero when the file
is not valid.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, name, opts, err := in.resolve(args[0])
			if err != nil {
				return err
			}
			p, diags, cerr := compile.Compile(fsys, name, opts)
			printDiagnostics(env.Stdout, diags)
			if cerr != nil {
				return diagnosticsError{code: 1}
			}
			if showPlan {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			fmt.Fprintf(env.Stdout, "%s is valid: %s\n", name, summary(p))
			return nil
		},
	}
	in.register(cmd)
	cmd.Flags().BoolVar(&showPlan, "plan", false, "print the compiled plan as JSON")
	return cmd
}

// compileInput holds the flags shared by the local pipeline commands.
type compileInput struct {
	params []string
	vars   []string
	repo   string
}

func (in *compileInput) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&in.params, "param", nil, "runtime parameter value `name=value` (repeatable; YAML for object types)")
	cmd.Flags().StringArrayVar(&in.vars, "var", nil, "predefined variable for ${{ variables.X }}, `name=value` (repeatable), e.g. Build.Reason=Manual")
	cmd.Flags().StringVar(&in.repo, "repo", "", "repository root that template paths resolve against (default: the nearest directory above FILE with a .git entry)")
}

// resolve opens the repository holding file and returns it with file's path inside it.
func (in *compileInput) resolve(file string) (fs.FS, string, compile.Options, error) {
	var opts compile.Options
	var err error
	if opts.Parameters, err = ParsePairs("--param", in.params); err != nil {
		return nil, "", opts, err
	}
	if opts.Variables, err = ParsePairs("--var", in.vars); err != nil {
		return nil, "", opts, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, "", opts, fmt.Errorf("pipelines: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, "", opts, fmt.Errorf("pipelines: %w", err)
	}
	root := in.repo
	if root == "" {
		root = repositoryRoot(filepath.Dir(abs))
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, "", opts, fmt.Errorf("pipelines: %w", err)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, "", opts, fmt.Errorf("pipelines: %s is not inside the repository %s", file, root)
	}
	return os.DirFS(root), filepath.ToSlash(rel), opts, nil
}

// repositoryRoot returns the nearest directory at or above dir holding .git, or dir.
func repositoryRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// printDiagnostics prints one file:line:col: message line per diagnostic.
func printDiagnostics(w io.Writer, diags []syntax.Diagnostic) {
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
	}
}

func summary(p *plan.Plan) string {
	jobs, steps := 0, 0
	for _, st := range p.Stages {
		jobs += len(st.Jobs)
		for _, j := range st.Jobs {
			steps += len(j.Steps)
		}
	}
	return fmt.Sprintf("%d stage(s), %d job(s), %d step(s)", len(p.Stages), jobs, steps)
}

// diagnosticsError ends a command with an exit code after its output said why; its message is
// empty so nothing more is printed.
type diagnosticsError struct{ code int }

func (e diagnosticsError) Error() string { return "" }
func (e diagnosticsError) ExitCode() int { return e.code }

var _ interface{ ExitCode() int } = diagnosticsError{}
