package main

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestDevOpsScripts runs the scripts of testdata/devops: the devops and pipelines commands
// of the CLI against a real server in-process over real HTTPS, each script with its own
// server and CLI configuration (startScriptServer). tutorial_*.txtar walk
// tutorial-flow.md from §1 to §6, once per identity alternative, with a real `keystage
// agent` process (started in the background, working in the script's directory) that runs
// the pipeline's jobs and reaches the vault through the server's address, as agents on a
// machine without hosts-file entries for vault names do.
func TestDevOpsScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "devops"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			return startScriptServer(env)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"capture":  cmdCapture,
		},
	})
}
