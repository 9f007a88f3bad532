// Command keystage is the single Keystage binary: server, agent, local pipeline runner and
// az-style CLI. This package only wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/keystage/keystage/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes one invocation and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	env := cli.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv}
	root := cli.NewRoot(env, newServeCommand(stderr, getenv), newAdminCommand(stdout, getenv), newRunCommand(stdout, stderr, getenv), newBenchCommand(stdout, getenv), newAgentCommand(stderr, getenv))
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var exit interface{ ExitCode() int }
		if errors.As(err, &exit) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(stderr, "ERROR:", msg)
			}
			return exit.ExitCode()
		}
		fmt.Fprintln(stderr, "ERROR:", err)
		return 1
	}
	return 0
}
