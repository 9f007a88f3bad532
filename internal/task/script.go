package task

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// ErrReported fails a step whose reasons the task has already logged as errors.
var ErrReported = errors.New("task failed")

// startBanner is printed by the script tasks right before the shell starts.
const startBanner = "========================== Starting Command Output ==========================="

// scriptRun is one run of a shell script, shared by CmdLine@2 and Bash@3.
type scriptRun struct {
	bashArgs     []string // before the script file
	dir          string
	environ      []string
	failOnStderr bool
	// stderrLimit caps the stderr chunks repeated as errors (CmdLine: 10 of at most 1000
	// bytes); 0 keeps every chunk (Bash).
	stderrLimit int
	// exitMessage formats the error for a non-zero exit code.
	exitMessage func(code int) string
}

// writeScript writes contents to a new <uuid>.sh in Agent.TempDirectory, as the script tasks
// do (UTF-8, no BOM).
func writeScript(env *Env, contents string) (string, error) {
	temp, _ := env.Host.Variable("Agent.TempDirectory")
	if _, err := os.Stat(temp); temp == "" || err != nil {
		return "", fmt.Errorf("Not found %s (agent.tempDirectory): %s", temp, temp)
	}
	path := filepath.Join(temp, uuid.NewString()+".sh")
	if err := os.WriteFile(path, []byte(contents), 0o644); err != nil {
		return "", fmt.Errorf("write script: %w", err)
	}
	return path, nil
}

// printOneLiner prints "Script contents:" and the script when it is a single line without a
// logging command, the rule both script tasks share.
func printOneLiner(env *Env, script string) {
	if !strings.Contains(script, "\n") && !strings.Contains(strings.ToUpper(script), "##VSO[") {
		env.logf("Script contents:")
		env.logf("%s", script)
	}
}

// lookPath finds name on the PATH of environ, as task-lib's which does.
func lookPath(environ []string, name string) (string, error) {
	path := ""
	for _, kv := range environ {
		if strings.HasPrefix(kv, "PATH=") {
			path = kv[len("PATH="):]
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil && path == "" {
		return p, nil
	}
	return "", fmt.Errorf("Unable to locate executable file: '%s'. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable. Also verify the file has a valid extension for an executable file.", name)
}

// run starts bash on the script file and applies the exit-code and stderr rules.
func (s scriptRun) run(ctx context.Context, env *Env, file string) error {
	bash, err := lookPath(s.environ, "bash")
	if err != nil {
		return err
	}
	env.logf("%s", startBanner)
	p := Process{Path: bash, Args: append(append([]string{}, s.bashArgs...), file), Dir: s.dir, Env: s.environ, Stdout: env.Stdout, Stderr: env.Stdout}
	var stderr *stderrCollector
	if s.failOnStderr {
		stderr = &stderrCollector{out: env.Stderr, limit: s.stderrLimit}
		p.Stderr = stderr
	}
	env.logf("%s", p.CommandLine())
	code, err := env.Exec(ctx, p)
	if err != nil {
		return err
	}
	failed := false
	if code != 0 {
		env.Host.Error(s.exitMessage(code))
		failed = true
	}
	if stderr != nil && stderr.wrote() {
		env.Host.Error("Bash wrote one or more lines to the standard error stream.")
		for _, chunk := range stderr.chunks() {
			env.Host.Error(chunk)
		}
		failed = true
	}
	if failed {
		return ErrReported
	}
	return nil
}

// stderrCollector passes stderr through to the log and keeps the chunks failOnStderr
// repeats as errors.
type stderrCollector struct {
	out   io.Writer
	limit int

	mu   sync.Mutex
	any  bool
	list []string
}

func (c *stderrCollector) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.any = true
	switch {
	case c.limit == 0:
		c.list = append(c.list, string(p))
	case len(c.list) < c.limit:
		if len(p) > 1000 {
			c.list = append(c.list, string(p[:1000])+"<truncated>")
		} else {
			c.list = append(c.list, string(p))
		}
	case len(c.list) == c.limit:
		c.list = append(c.list, "Additional writes to stderr truncated")
	}
	c.mu.Unlock()
	return c.out.Write(p)
}

func (c *stderrCollector) wrote() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.any
}

func (c *stderrCollector) chunks() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.list))
	for _, s := range c.list {
		out = append(out, string(bytes.TrimRight([]byte(s), "\n")))
	}
	return out
}
