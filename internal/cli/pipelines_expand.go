package cli

import (
	"github.com/spf13/cobra"

	"github.com/keystage/keystage/internal/pipeline/expand"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// newPipelinesExpandCommand is `keystage pipelines expand FILE`: print a pipeline with its
// templates expanded, like Azure's "Download full YAML".
func newPipelinesExpandCommand(env Env) *cobra.Command {
	var in compileInput
	cmd := &cobra.Command{
		Use:   "expand FILE",
		Short: "Print a pipeline file with every template and template expression expanded",
		Long: `Expand an azure-pipelines.yml file the way Azure does before a run: templates are
inlined, ${{ }} expressions and directives evaluated, extends resolved, runtime
parameters bound. The result is printed as YAML; diagnostics go to stderr, and the
command exits non-zero when expansion fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, name, opts, err := in.resolve(args[0])
			if err != nil {
				return err
			}
			res, diags := expand.Expand(fsys, name, expand.Options{Parameters: opts.Parameters, Variables: opts.Variables})
			printDiagnostics(env.Stderr, diags)
			if diags.HasErrors() {
				return diagnosticsError{code: 1}
			}
			out, err := syntax.Encode(res.Pipeline)
			if err != nil {
				return err
			}
			_, err = env.Stdout.Write(out)
			return err
		},
	}
	in.register(cmd)
	return cmd
}
