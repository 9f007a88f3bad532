package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/task"
)

// retryLimit caps retryCountOnTaskFailure, as the agent does.
const retryLimit = 10

var (
	errStepTimeout  = errors.New("step timed out")
	errJobCanceled  = errors.New("job canceled")
	errForceDone    = errors.New("task completed with done=true")
	defaultCondtion = "succeeded()"
)

// stepRun is the state of one step while it runs.
type stepRun struct {
	j    *jobRun
	plan *plan.Step
	info Step
	task task.Task
	def  *task.Definition
	// preJob is true for the pre-job run of a task.PreJobTask (task.json prejobexecution).
	preJob bool

	cmdMu     sync.Mutex // serializes logging commands
	mu        sync.Mutex // serializes printing and guards the fields below
	cmdResult job.Result // merged results of task.complete and failed commands
	forceDone context.CancelCauseFunc
	errors    int
	warnings  int
}

// runStep runs step i and returns its report. jobCtx ends when the job is canceled or
// times out; hardCtx when the cancel timeout has passed too. With preJob it runs the
// task's pre-job entry point instead, as "Pre-job: {display name}"; pre-job runs have no
// reference name.
func (j *jobRun) runStep(jobCtx, hardCtx context.Context, i int, preJob bool) job.StepReport {
	st := &j.req.Job.Steps[i]
	s := &stepRun{j: j, plan: st, preJob: preJob}
	s.task = j.stepTask(st)
	if s.task != nil {
		s.def = s.task.Definition()
	}
	isCheckout := strings.EqualFold(st.Task.Name, "Checkout")
	s.info = Step{Index: i, DisplayName: j.displayName(st, isCheckout), Task: fmt.Sprintf("%s@%d", st.Task.Name, st.Task.Version)}
	if preJob {
		s.info.PreJob = true
		s.info.DisplayName = "Pre-job: " + s.info.DisplayName
	} else {
		s.info.Name = j.refName(st)
	}
	rep := job.StepReport{Name: s.info.Name, DisplayName: s.info.DisplayName}
	j.sink.StepStarted(s.info)
	finish := func(r job.Result) job.StepReport {
		rep.Result = r
		s.mu.Lock()
		rep.Errors, rep.Warnings = s.errors, s.warnings
		s.mu.Unlock()
		j.sink.StepFinished(s.info, rep)
		return rep
	}
	if !st.Enabled || (isCheckout && task.IsNone(st.Inputs)) {
		return finish(job.Skipped)
	}

	// Variables may have changed (setvariable); expand them again, as the agent does
	// before every step.
	for _, w := range j.vars.recalculate() {
		s.warning(w.String())
	}
	s.flushMaskWarnings()
	s.debug(fmt.Sprintf("Evaluating condition for step: '%s'", s.info.DisplayName))
	cond, err := parseCondition(st.Condition)
	if err == nil {
		var ok bool
		ok, err = j.evalCondition(cond, jobCtx.Err() != nil)
		if err == nil && !ok {
			s.print("Skipping step due to condition evaluation.")
			return finish(job.Skipped)
		}
	}
	if err != nil {
		s.error(err.Error())
		return finish(job.Failed)
	}

	stepCtx, cancelStep := context.WithCancelCause(hardCtx)
	defer cancelStep(nil)
	done := make(chan struct{})
	var watch sync.WaitGroup
	if jobCtx.Err() == nil {
		watch.Add(1)
		go func() {
			defer watch.Done()
			select {
			case <-done:
				return
			case <-jobCtx.Done():
			}
			j.setStatus(job.Canceled)
			s.debug(fmt.Sprintf("Re-evaluate condition on job cancellation for step: '%s'.", s.info.DisplayName))
			ok, err := j.evalCondition(cond, true)
			if err != nil {
				s.error(err.Error())
			}
			if !ok {
				s.error("The Operation will be canceled. The next steps may not contain expected logs.")
				cancelStep(errJobCanceled)
			}
		}()
	}
	result := s.run(stepCtx)
	s.flushMaskWarnings()
	close(done)
	watch.Wait()
	if result == job.Failed && st.ContinueOnError {
		result = job.SucceededWithIssues
	}
	s.section("Finishing: " + s.info.DisplayName)
	return finish(result)
}

// stepTask returns the registered task a step names, or nil.
func (j *jobRun) stepTask(st *plan.Step) task.Task {
	return j.e.tasks[strings.ToLower(fmt.Sprintf("%s@%d", st.Task.Name, st.Task.Version))]
}

// parseCondition parses a step condition; empty means succeeded().
func parseCondition(text string) (*expr.Expr, error) {
	if strings.TrimSpace(text) == "" {
		text = defaultCondtion
	}
	return expr.ParseWith(text, expr.ConditionOptions(expr.LevelStep))
}

// evalCondition evaluates a step condition against the job's variables and status.
func (j *jobRun) evalCondition(cond *expr.Expr, canceling bool) (bool, error) {
	var ctx expr.Context
	ctx.SetLookup("variables", func(key string) (expr.Value, bool) {
		v, ok := j.vars.get(key)
		return expr.String(v), ok
	})
	ctx.Status = expr.StepStatus{JobStatus: string(j.status()), Canceling: canceling}
	return cond.EvalBool(&ctx)
}

// refName returns the step's reference name: `name:` or, for an unnamed step, the task
// name, numbered from 2 when several unnamed steps use the same task.
func (j *jobRun) refName(st *plan.Step) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	base := st.Name
	if base == "" {
		base = st.Task.Name
	}
	name := base
	for n := 2; j.refs[fold(name)] > 0; n++ {
		name = base + strconv.Itoa(n)
	}
	j.refs[fold(name)]++
	return name
}

// displayName macro-expands the step's display name; without one the log shows the task
// name, or "Checkout <repository>@<branch> to s" for the checkout step.
func (j *jobRun) displayName(st *plan.Step, isCheckout bool) string {
	if st.DisplayName != "" {
		return expr.ExpandMacros(st.DisplayName, j.vars.macroLookup())
	}
	if isCheckout {
		name := j.req.Repository.Name
		if name == "" {
			name = "self"
		}
		branch := j.req.Repository.Branch
		if i := strings.LastIndexByte(branch, '/'); i >= 0 {
			branch = branch[i+1:]
		}
		return fmt.Sprintf("Checkout %s@%s to s", name, branch)
	}
	return st.Task.Name
}

// run executes the step's task with its retries and timeout and returns the step result
// before continueOnError.
func (s *stepRun) run(ctx context.Context) job.Result {
	st := s.plan
	s.section("Starting: " + s.info.DisplayName)
	if s.task == nil {
		s.error(fmt.Sprintf("Task %s is not available in Keystage: no built-in task is named %s with major version %d.", s.info.Task, st.Task.Name, st.Task.Version))
		return job.Failed
	}
	s.banner()
	if st.TimeoutInMinutes > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, time.Duration(st.TimeoutInMinutes)*s.j.e.cfg.Minute, errStepTimeout)
		defer stop()
	}
	env := s.taskEnv()
	retries := st.RetryCountOnTaskFailure
	if retries > retryLimit {
		s.warning(fmt.Sprintf("The maximum allowed number of attempts is %d but got %d. Retry attempts count will be decreased to %d.", retryLimit, retries, retryLimit))
		retries = retryLimit
	}
	for attempt := 0; ; attempt++ {
		result, final := s.attempt(ctx, env)
		if final || result != job.Failed || attempt >= retries {
			return result
		}
		delay := time.Duration((attempt+1)*(attempt+1)) * s.j.e.cfg.RetryDelay
		s.warning(fmt.Sprintf("RetryHelper encountered task failure, will retry (attempt #: %d out of %d) after %d ms", attempt+1, retries, delay.Milliseconds()))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.interrupted(ctx)
		case <-t.C:
		}
	}
}

// attempt runs the task once. final is true when the step was interrupted (timeout or
// cancellation), which is never retried.
func (s *stepRun) attempt(ctx context.Context, env *task.Env) (job.Result, bool) {
	s.mu.Lock()
	s.cmdResult = ""
	runCtx, forceDone := context.WithCancelCause(ctx)
	s.forceDone = forceDone
	s.mu.Unlock()
	defer forceDone(nil)

	out, errOut := s.newLineWriter(), s.newLineWriter()
	env.Stdout, env.Stderr = out, errOut
	var err error
	if pre, ok := s.task.(task.PreJobTask); ok && s.preJob {
		err = pre.RunPreJob(runCtx, env)
	} else {
		err = s.task.Run(runCtx, env)
	}
	out.flush()
	errOut.flush()
	if ctx.Err() != nil {
		return s.interrupted(ctx), true
	}
	s.mu.Lock()
	result := s.cmdResult
	s.mu.Unlock()
	forced := errors.Is(context.Cause(runCtx), errForceDone)
	switch {
	case err == nil, forced && errors.Is(err, context.Canceled):
	case errors.Is(err, task.ErrReported):
		result = mergeResults(result, job.Failed)
	default:
		s.error(err.Error())
		result = mergeResults(result, job.Failed)
	}
	if result == "" {
		result = job.Succeeded
	}
	return result, false
}

// interrupted logs and classifies a step stopped by its timeout or by cancellation.
func (s *stepRun) interrupted(ctx context.Context) job.Result {
	if errors.Is(context.Cause(ctx), errStepTimeout) {
		s.error("The task has timed out.")
		return job.Failed
	}
	s.error("The operation was canceled.")
	return job.Canceled
}

// banner prints the task metadata block the agent prints before a task runs.
func (s *stepRun) banner() {
	d := s.def
	const rule = "=============================================================================="
	s.print(rule)
	s.print("Task         : " + d.FriendlyName)
	s.print("Description  : " + d.Description)
	s.print("Version      : " + d.Version.String())
	s.print("Author       : " + d.Author)
	s.print("Help         : " + d.HelpURL)
	s.print(rule)
}

// taskEnv resolves the step's inputs and environment (Agent TaskRunner): defaults, then
// the step's values, macro expansion against the variables, then against the agent's
// environment, then filePath inputs rooted at the sources directory.
func (s *stepRun) taskEnv() *task.Env {
	j, cfg := s.j, &s.j.e.cfg
	lookup := j.vars.macroLookup()
	hostEnv := j.e.environ
	envLookup := func(name string) (string, bool) { v, ok := hostEnv[name]; return v, ok }
	inputs := s.def.Resolve(s.plan.Inputs)
	sources, _ := j.vars.get("Build.SourcesDirectory")
	workdir, _ := j.vars.get("System.DefaultWorkingDirectory")
	for k, v := range inputs {
		v = expr.ExpandMacros(v, lookup)
		v = expr.ExpandMacros(v, envLookup)
		if in := s.def.Input(k); in != nil && in.Type == task.FilePath {
			v = rootPath(v, sources)
		}
		inputs[k] = v
	}
	stepEnv := map[string]string{}
	for k, v := range s.plan.Env {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		v = expr.ExpandMacros(strings.TrimSpace(v), lookup)
		stepEnv[k] = expr.ExpandMacros(v, envLookup)
	}
	return &task.Env{
		Inputs:           inputs,
		Environ:          s.environ(hostEnv, stepEnv),
		WorkingDirectory: workdir,
		Repository:       j.req.Repository,
		RunID:            j.req.RunID,
		Artifacts:        cfg.Artifacts,
		Host:             s,
		SigintTimeout:    cfg.SigintTimeout,
		SigtermTimeout:   cfg.SigtermTimeout,
	}
}

// rootPath is the agent's TranslateFilePathInput: absolute paths are cleaned, relative
// ones (and "") are rooted at the sources directory.
func rootPath(p, sources string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(sources, p)
}

// environ builds a step process's environment in the agent's order: the agent's own
// environment, the step's `env:`, then every public variable (which wins over `env:` on a
// name clash, as in the agent), the prepended PATH, and TF_BUILD=True.
func (s *stepRun) environ(host, stepEnv map[string]string) []string {
	env := make(map[string]string, len(host)+len(stepEnv)+64)
	for k, v := range host {
		env[k] = v
	}
	for k, v := range stepEnv {
		env[k] = v
	}
	for _, kv := range s.j.vars.exported() {
		env[kv[0]] = kv[1]
	}
	s.j.mu.Lock()
	prepend := append([]string(nil), s.j.prepend...)
	s.j.mu.Unlock()
	if len(prepend) > 0 {
		parts := make([]string, 0, len(prepend)+1)
		for i := len(prepend) - 1; i >= 0; i-- {
			parts = append(parts, prepend[i])
		}
		orig, ok := s.j.vars.get("PATH")
		if !ok {
			if v, ok2 := stepEnv["PATH"]; ok2 {
				orig = v
			} else {
				orig = host["PATH"]
			}
		}
		if orig != "" {
			parts = append(parts, orig)
		}
		env["PATH"] = strings.Join(parts, string(os.PathListSeparator))
	}
	env["TF_BUILD"] = "True"
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// environMap turns KEY=VALUE entries into a map; later entries win.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}
