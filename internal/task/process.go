package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Default cancellation grace periods, as the agent's process invoker uses on Linux and macOS.
const (
	DefaultSigintTimeout  = 7500 * time.Millisecond
	DefaultSigtermTimeout = 2500 * time.Millisecond
)

// stdioDelay is how long a finished process's output pipes may stay open (held by
// background children) before the task stops reading; task-lib's toolrunner waits 10 s.
const stdioDelay = 10 * time.Second

// Process is one child process a task runs.
type Process struct {
	Path string
	Args []string // without the program name
	Dir  string
	Env  []string
	// Stdout and Stderr receive the output. When they are the same writer the child gets one
	// pipe for both, which keeps their relative order.
	Stdout io.Writer
	Stderr io.Writer
}

// CommandLine formats p as task-lib's toolrunner echoes it, "[command]/usr/bin/bash a b".
func (p Process) CommandLine() string {
	return "[command]" + strings.Join(append([]string{p.Path}, p.Args...), " ")
}

// Exec runs p to completion in its own process group and returns its exit code. When ctx
// is done first, the group gets SIGINT, then SIGTERM after SigintTimeout, then SIGKILL
// after SigtermTimeout, and Exec returns ctx's error once the process has exited.
func (e *Env) Exec(ctx context.Context, p Process) (int, error) {
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Dir = p.Dir
	cmd.Env = p.Env
	cmd.Stdout = p.Stdout
	cmd.Stderr = p.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = stdioDelay
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start %s: %w", p.Path, err)
	}
	pgid := cmd.Process.Pid
	if e.Host != nil {
		e.Host.ProcessStarted(pgid)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		steps := []struct {
			sig  syscall.Signal
			wait time.Duration
		}{{syscall.SIGINT, e.SigintTimeout}, {syscall.SIGTERM, e.SigtermTimeout}, {syscall.SIGKILL, 0}}
		for _, s := range steps {
			_ = syscall.Kill(-pgid, s.sig)
			if s.sig == syscall.SIGKILL {
				return
			}
			t := time.NewTimer(s.wait)
			select {
			case <-done:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	<-stopped
	if ctx.Err() != nil {
		return exitCode(cmd), ctx.Err()
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) && !errors.Is(err, exec.ErrWaitDelay) {
		return -1, fmt.Errorf("run %s: %w", p.Path, err)
	}
	return exitCode(cmd), nil
}

// exitCode is the process's exit status; a process killed by a signal reports 128+signal
// the way a shell does.
func exitCode(cmd *exec.Cmd) int {
	st := cmd.ProcessState
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}
