package cli

import "github.com/spf13/cobra"

// newPipelinesCommand is the `keystage pipelines` group. Local commands (validate, expand)
// compile a file on this machine; server commands arrive with the DevOps API.
func newPipelinesCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipelines",
		Short: "Compile, inspect and run Azure Pipelines YAML files",
	}
	cmd.AddCommand(newPipelinesValidateCommand(env))
	cmd.AddCommand(newPipelinesExpandCommand(env))
	return cmd
}
