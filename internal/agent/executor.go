// Package agent executes one pipeline job on this machine the way the Azure Pipelines agent
// does: directory layout, variables and environment, step conditions and controls, tasks,
// logging commands, masked step logs and output variables.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keystage/keystage/internal/mask"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/task"
)

// Config configures an Executor. WorkFolder and Tasks are required.
type Config struct {
	// WorkFolder is the agent's work directory (`_work`): build directories, _temp, _tool and
	// _tasks live below it.
	WorkFolder string
	// Tasks is the task registry, usually task.Builtins(). Lookups ignore name case.
	Tasks []task.Task
	// Mask configures each job's secret masker. When its MinLength is 0, the knob
	// AZP_IGNORE_SECRETS_SHORTER_THAN (a job variable or the agent's environment) sets it.
	Mask mask.Config
	// Artifacts stores run artifacts; nil makes artifact tasks and commands fail clearly.
	Artifacts task.ArtifactStore
	// Environ is the environment step processes start from; nil means os.Environ().
	Environ []string
	// AgentName and AgentID are Agent.Name (default: host name) and Agent.Id.
	AgentName string
	AgentID   int
	// HomeDirectory is Agent.HomeDirectory; default: the directory of the running binary.
	HomeDirectory string
	// Logger receives the executor's own diagnostics (not step output); nil discards them.
	Logger *slog.Logger

	// Minute is the length of one minute for timeoutInMinutes and cancelTimeoutInMinutes;
	// zero means time.Minute. Tests shorten it.
	Minute time.Duration
	// RetryDelay is the base of the back-off between retryCountOnTaskFailure attempts
	// (attempt n waits (n+1)² × RetryDelay); zero means one second, as in the agent.
	RetryDelay time.Duration
	// SigintTimeout and SigtermTimeout are how long a canceled step's processes get after
	// SIGINT and SIGTERM before they are killed; zero means 7.5 s and 2.5 s.
	SigintTimeout  time.Duration
	SigtermTimeout time.Duration
}

// Executor runs jobs on this machine. Like an Azure agent it runs one job at a time:
// concurrent Execute calls on one Executor wait for each other. Run jobs in parallel with
// several Executors, each with its own WorkFolder.
type Executor struct {
	cfg     Config
	environ map[string]string    // cfg.Environ by name; read-only
	tasks   map[string]task.Task // "name@major", lower case
	log     *slog.Logger
	mu      sync.Mutex
}

// New returns an Executor. It fails when a required Config field is missing or two tasks
// share a reference.
func New(cfg Config) (*Executor, error) {
	if cfg.WorkFolder == "" {
		return nil, errors.New("agent: Config.WorkFolder is required")
	}
	abs, err := filepath.Abs(cfg.WorkFolder)
	if err != nil {
		return nil, fmt.Errorf("agent: work folder: %w", err)
	}
	cfg.WorkFolder = abs
	if cfg.Environ == nil {
		cfg.Environ = os.Environ()
	}
	if cfg.HomeDirectory == "" {
		if exe, err := os.Executable(); err == nil {
			cfg.HomeDirectory = filepath.Dir(exe)
		}
	}
	if cfg.Minute == 0 {
		cfg.Minute = time.Minute
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Second
	}
	if cfg.SigintTimeout == 0 {
		cfg.SigintTimeout = task.DefaultSigintTimeout
	}
	if cfg.SigtermTimeout == 0 {
		cfg.SigtermTimeout = task.DefaultSigtermTimeout
	}
	e := &Executor{cfg: cfg, environ: environMap(cfg.Environ), tasks: map[string]task.Task{}, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	for _, t := range cfg.Tasks {
		ref := strings.ToLower(t.Definition().Ref())
		if _, dup := e.tasks[ref]; dup {
			return nil, fmt.Errorf("agent: task %s registered twice", t.Definition().Ref())
		}
		e.tasks[ref] = t
	}
	return e, nil
}

// Execute runs the job of req to the end and reports its result. It never returns an
// error: failures become a Failed result with the reason logged to sink. Canceling ctx
// cancels the job as Azure does: the running step is stopped (SIGINT, then SIGTERM, then
// SIGKILL) unless its condition still holds, later steps run only if their condition uses
// always() or canceled(), and the result is Canceled. Steps still running
// cancelTimeoutInMinutes after the cancellation are stopped too.
func (e *Executor) Execute(ctx context.Context, req job.Request, sink Sink) job.Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	if sink == nil {
		sink = Discard
	}
	j := &jobRun{e: e, req: &req, sink: sink, refs: map[string]int{}, outputs: map[string]job.Variable{}}
	j.newMasker()
	j.vars = newVariables(j.addSecret)
	defer j.cleanup()
	if err := j.prepare(); err != nil {
		j.jobError(err.Error())
		j.result = job.Failed
		return j.finish()
	}
	j.runSteps(ctx)
	return j.finish()
}

// jobRun is the state of one Execute.
type jobRun struct {
	e      *Executor
	req    *job.Request
	sink   Sink
	masker *mask.Masker
	vars   *variables
	layout layout

	mu          sync.Mutex // guards the fields below
	result      job.Result // the job result so far (Agent.JobStatus)
	steps       []job.StepReport
	outputs     map[string]job.Variable // folded "step.var" -> output
	prepend     []string                // task.prependpath entries, oldest first
	refs        map[string]int          // step reference names in use
	pgids       []int
	errors      int
	warnings    int
	buildNumber string
	tags        []string
	attachments []job.Attachment
	maskWarns   []string // masker warnings not yet logged
}

// jobLine writes a masked job-level line.
func (j *jobRun) jobLine(line string) {
	for _, l := range strings.Split(line, "\n") {
		j.sink.JobLine(j.masker.Mask(l))
	}
}

func (j *jobRun) jobError(msg string) {
	j.mu.Lock()
	j.errors++
	j.mu.Unlock()
	j.jobLine("##[error]" + msg)
}

func (j *jobRun) jobWarning(msg string) {
	j.mu.Lock()
	j.warnings++
	j.mu.Unlock()
	j.jobLine("##[warning]" + msg)
}

// prepare lays out directories and sets up variables, like the agent's "Initialize job".
func (j *jobRun) prepare() error {
	cfg := &j.e.cfg
	host, _ := os.Hostname()
	name := cfg.AgentName
	if name == "" {
		name = host
	}
	j.jobLine(fmt.Sprintf("Agent name: '%s'", name))
	j.jobLine(fmt.Sprintf("Agent machine name: '%s'", host))
	j.jobLine(fmt.Sprintf("Current agent version: '%s'", AgentVersion))
	j.jobLine("Prepare build directory.")
	n, err := allocateBuildDir(cfg.WorkFolder, j.req.PipelineName+"\x00"+j.req.Repository.URI)
	if err != nil {
		return fmt.Errorf("prepare build directory: %w", err)
	}
	clean := ""
	if j.req.Job.Workspace != nil {
		clean = j.req.Job.Workspace.Clean
	}
	if j.layout, err = prepareLayout(cfg.WorkFolder, n, clean); err != nil {
		return fmt.Errorf("prepare build directory: %w", err)
	}
	j.jobLine("Set build variables.")
	for _, v := range j.req.Variables {
		if v.Name == "" {
			continue
		}
		j.vars.set(v.Name, v.Value, v.Secret, v.ReadOnly, false)
	}
	for _, v := range j.e.predefined(j.req, j.layout) {
		j.vars.forceSet(v.Name, v.Value)
	}
	for _, v := range defaults() {
		if _, ok := j.vars.get(v.Name); !ok {
			j.vars.set(v.Name, v.Value, v.Secret, v.ReadOnly, false)
		}
	}
	j.result = job.Succeeded
	j.vars.forceSet("Agent.JobStatus", string(job.Succeeded))
	for _, w := range j.vars.recalculate() {
		j.jobWarning(w.String())
	}
	for _, w := range j.takeMaskWarnings() {
		j.jobWarning(w)
	}
	return nil
}

// setStatus merges r into the job result and updates Agent.JobStatus.
func (j *jobRun) setStatus(r job.Result) {
	j.mu.Lock()
	j.result = mergeResults(j.result, r)
	status := j.result
	j.mu.Unlock()
	j.vars.forceSet("Agent.JobStatus", string(status))
}

func (j *jobRun) status() job.Result {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.result
}

// runSteps runs every step in order with the job's timeout and cancellation rules.
func (j *jobRun) runSteps(ctx context.Context) {
	cfg := &j.e.cfg
	jobCtx, cancelJob := context.WithCancel(ctx)
	defer cancelJob()
	timedOut := false
	if m := j.req.Job.TimeoutInMinutes; m > 0 {
		var stop context.CancelFunc
		jobCtx, stop = context.WithTimeoutCause(jobCtx, time.Duration(m)*cfg.Minute, errJobTimeout)
		defer stop()
	}
	// hardCtx ends cancelTimeoutInMinutes after the job is canceled: steps that run
	// because of always() get that long.
	hardCtx, stopHard := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHard()
	go func() {
		select {
		case <-hardCtx.Done():
			return
		case <-jobCtx.Done():
		}
		grace := time.Duration(j.req.Job.CancelTimeoutInMinutes) * cfg.Minute
		if j.req.Job.CancelTimeoutInMinutes <= 0 {
			grace = 5 * cfg.Minute
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-hardCtx.Done():
		case <-t.C:
			stopHard()
		}
	}()
	// Pre-job entry points (task.json prejobexecution) run first, before checkout, in step
	// order; then every step's main entry point.
	for _, preJob := range []bool{true, false} {
		for i := range j.req.Job.Steps {
			if preJob {
				if _, ok := j.stepTask(&j.req.Job.Steps[i]).(task.PreJobTask); !ok || !j.req.Job.Steps[i].Enabled {
					continue
				}
			}
			if jobCtx.Err() != nil && j.status() != job.Canceled {
				j.setStatus(job.Canceled)
			}
			r := j.runStep(jobCtx, hardCtx, i, preJob)
			j.mu.Lock()
			j.steps = append(j.steps, r)
			j.mu.Unlock()
			if r.Result == job.SucceededWithIssues || r.Result == job.Failed {
				j.setStatus(r.Result)
			}
		}
	}
	if errors.Is(context.Cause(jobCtx), errJobTimeout) {
		timedOut = true
	}
	if jobCtx.Err() != nil {
		j.setStatus(job.Canceled)
	}
	if timedOut {
		name, _ := j.vars.get("Agent.Name")
		j.jobError(fmt.Sprintf("The job running on agent %s ran longer than the maximum time of %d minutes. For more information, see https://go.microsoft.com/fwlink/?linkid=2077134", name, j.req.Job.TimeoutInMinutes))
	}
}

var errJobTimeout = errors.New("job timed out")

// cleanup ends leftover processes of the job and empties the temp directory.
func (j *jobRun) cleanup() {
	j.mu.Lock()
	pgids := j.pgids
	j.pgids = nil
	j.mu.Unlock()
	announced := false
	for _, pg := range pgids {
		if syscall.Kill(-pg, 0) != nil {
			continue // the group is gone
		}
		if !announced {
			j.jobLine("Start cleaning up orphan processes.")
			announced = true
		}
		j.jobLine(fmt.Sprintf("Terminate orphan process group: pgid (%d)", pg))
		_ = syscall.Kill(-pg, syscall.SIGKILL)
	}
	if j.layout.temp != "" {
		if err := cleanTemp(j.layout.temp); err != nil {
			j.e.log.Warn("clean temp directory", "err", err)
		}
	}
}

// finish builds the report.
func (j *jobRun) finish() job.Report {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := job.Report{
		Result:      j.result,
		Steps:       j.steps,
		Errors:      j.errors,
		Warnings:    j.warnings,
		BuildNumber: j.buildNumber,
		Tags:        j.tags,
		Attachments: j.attachments,
	}
	keys := make([]string, 0, len(j.outputs))
	for k := range j.outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Outputs = append(r.Outputs, j.outputs[k])
	}
	return r
}

// mergeResults is the agent's TaskResultUtil.MergeTaskResults: once Canceled (or Skipped)
// the result stays; otherwise the worse of the two wins.
func mergeResults(current, coming job.Result) job.Result {
	if current == "" {
		return coming
	}
	if rank(current) > rank(job.Failed) {
		return current
	}
	if rank(coming) >= rank(current) {
		return coming
	}
	return current
}

// rank orders results as the agent's TaskResult enum does.
func rank(r job.Result) int {
	switch r {
	case job.Succeeded:
		return 0
	case job.SucceededWithIssues:
		return 1
	case job.Failed:
		return 2
	case job.Canceled:
		return 3
	case job.Skipped:
		return 4
	}
	return 5 // Abandoned
}
