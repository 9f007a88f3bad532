package cli

import "github.com/spf13/cobra"

// newPipelinesCommand is the `keystage pipelines` group. Local commands (validate, expand)
// compile a file on this machine; server commands (the DevOps API's pipelines, runs,
// permissions and pools) are passed in.
func newPipelinesCommand(env Env, server ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipelines",
		Short: "Compile, inspect and run Azure Pipelines YAML files",
	}
	cmd.AddCommand(newPipelinesValidateCommand(env))
	cmd.AddCommand(newPipelinesExpandCommand(env))
	cmd.AddCommand(server...)
	return cmd
}
