// Package cli implements Keystage's az-style command tree for client commands; it reaches
// the server only through its public HTTP API (package client).
package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// Env is what commands read from and write to; tests substitute their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable; nil means no environment.
	Getenv func(string) string
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// NewRoot returns the root `keystage` command with every client command, plus the extra
// commands the binary wires in (serve, agent, run), in the order given.
func NewRoot(env Env, extra ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:           "keystage",
		Short:         "Self-hosted Azure Key Vault and Azure Pipelines in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.AddCommand(extra...)
	a := newApp(env)
	root.AddCommand(
		newPipelinesCommand(env, a.pipelinesServerCommands()...),
		a.newLoginCommand(),
		a.newLogoutCommand(),
		a.newAccountCommand(),
		a.newConfigCommand(),
		a.newConfigureCommand(),
		a.newGroupCommand(),
		a.newKeyvaultCommand(),
		a.newIdentityCommand(),
		a.newADCommand(),
		a.newRoleCommand(),
		a.newEnvCommand(),
		a.newHostsCommand(),
		a.newDevOpsCommand(),
	)
	return root
}
