package task

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// Bash is Bash@3, the target of the YAML `bash:` shortcut. Inline scripts and file paths are
// both run as `bash <generated file>` (no --noprofile/--norc, no -e).
type Bash struct{}

var bashDef = &Definition{
	Name:         "Bash",
	FriendlyName: "Bash",
	Description:  "Run a Bash script on macOS, Linux, or Windows",
	Author:       "Microsoft Corporation",
	HelpURL:      "https://docs.microsoft.com/azure/devops/pipelines/tasks/utility/bash",
	Version:      Version{3, 278, 0},
	Inputs: []Input{
		{Name: "targetType", Type: Radio, Default: "filePath"},
		{Name: "filePath", Type: FilePath, Required: true},
		{Name: "arguments", Type: String},
		{Name: "script", Type: MultiLine, Default: "# Write your commands here\n\necho 'Hello world'\n", Required: true},
		{Name: "workingDirectory", Type: FilePath},
		{Name: "failOnStderr", Type: Boolean, Default: "false"},
		{Name: "bashEnvValue", Type: String},
	},
}

// Definition implements Task.
func (Bash) Definition() *Definition { return bashDef }

// Run implements Task.
func (Bash) Run(ctx context.Context, env *Env) error {
	failOnStderr := env.Inputs.Bool("failOnStderr")
	dir, err := env.Inputs.Path("workingDirectory", true, true)
	if err != nil {
		return err
	}
	targetType := env.Inputs.Get("targetType")
	environ := append([]string{}, env.Environ...)
	if v := env.Inputs.Get("bashEnvValue"); v != "" {
		for i, kv := range environ {
			if old, ok := strings.CutPrefix(kv, "BASH_ENV="); ok {
				if old != "" {
					env.logf("The BASH_ENV environment variable has already been set to a '%s', the task will override it with '%s'", old, v)
				}
				environ = append(environ[:i], environ[i+1:]...)
				break
			}
		}
		environ = append(environ, "BASH_ENV="+v)
	}
	var contents string
	fileMode := strings.EqualFold(targetType, "filePath")
	if fileMode {
		path, err := env.Inputs.Path("filePath", true, false)
		if err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("ENOENT: no such file or directory, stat '%s'", path)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("Invalid file path '%s'.", path)
		}
		quoted := strings.ReplaceAll(path, "'", `'\''`)
		if envHas(env.Environ, "AZP_BASHV3_OLD_SOURCE_BEHAVIOR") {
			contents = strings.TrimSpace(fmt.Sprintf(". '%s' %s", quoted, env.Inputs.Get("arguments")))
		} else {
			contents = strings.TrimSpace(fmt.Sprintf("exec bash '%s' %s", quoted, env.Inputs.Get("arguments")))
		}
	} else {
		contents = env.Inputs.Get("script")
	}
	env.logf("Generating script.")
	if fileMode {
		env.logf("Formatted command: %s", contents)
	} else {
		printOneLiner(env, contents)
	}
	file, err := writeScript(env, contents)
	if err != nil {
		return err
	}
	return scriptRun{
		dir:          dir,
		environ:      environ,
		failOnStderr: failOnStderr,
		exitMessage: func(code int) string {
			if code == 137 {
				return "Bash exited with code 137, which means it ran out of memory. Make sure the agent (container) host has sufficient memory configured."
			}
			return fmt.Sprintf("Bash exited with code '%d'.", code)
		},
	}.run(ctx, env, file)
}

// envHas reports whether environ sets name to a non-empty value.
func envHas(environ []string, name string) bool {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
			return true
		}
	}
	return false
}
