package task

import (
	"context"
	"fmt"
)

// CmdLine is CmdLine@2, the target of the YAML `script:` shortcut. On Linux and macOS it
// writes the script to Agent.TempDirectory and runs `bash --noprofile --norc <file>`, without
// -e, so only the last command's status decides the result.
type CmdLine struct{}

var cmdLineDef = &Definition{
	Name:         "CmdLine",
	FriendlyName: "Command line",
	Description:  "Run a command line script using Bash on Linux and macOS and cmd.exe on Windows",
	Author:       "Microsoft Corporation",
	HelpURL:      "https://docs.microsoft.com/azure/devops/pipelines/tasks/utility/command-line",
	Version:      Version{2, 279, 1},
	Inputs: []Input{
		{Name: "script", Type: MultiLine, Default: "echo Write your commands here\n\necho Hello world\n", Required: true},
		{Name: "workingDirectory", Type: FilePath},
		{Name: "failOnStderr", Type: Boolean, Default: "false"},
		{Name: "ignoreHostExpression", Type: Boolean, Default: "true"},
	},
}

// Definition implements Task.
func (CmdLine) Definition() *Definition { return cmdLineDef }

// Run implements Task.
func (CmdLine) Run(ctx context.Context, env *Env) error {
	failOnStderr := env.Inputs.Bool("failOnStderr")
	script := env.Inputs.Get("script")
	dir, err := env.Inputs.Path("workingDirectory", true, true)
	if err != nil {
		return err
	}
	env.logf("Generating script.")
	file, err := writeScript(env, script)
	if err != nil {
		return err
	}
	printOneLiner(env, script)
	return scriptRun{
		bashArgs:     []string{"--noprofile", "--norc"},
		dir:          dir,
		environ:      env.Environ,
		failOnStderr: failOnStderr,
		stderrLimit:  10,
		exitMessage:  func(code int) string { return fmt.Sprintf("Bash exited with code '%d'.", code) },
	}.run(ctx, env, file)
}
