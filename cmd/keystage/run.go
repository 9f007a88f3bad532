package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/joho/godotenv"
	"github.com/spf13/cobra"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/cli"
	"github.com/keystage/keystage/internal/pipeline/compile"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	runs "github.com/keystage/keystage/internal/run" // main.go declares run
	"github.com/keystage/keystage/internal/run/local"
	"github.com/keystage/keystage/internal/task"
)

// runFlags are the flags of `keystage run`.
type runFlags struct {
	list, dryRun, json  bool
	stages, jobs        []string
	vars, secrets       []string
	secretFiles, params []string
	skipTasks           []string
	workdir             string
	maxParallel         int
}

// newRunCommand is `keystage run`: compile a pipeline file and run it on this machine.
func newRunCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [FILE]",
		Short: "Run an Azure Pipelines YAML file on this machine",
		Long: `Compile an Azure Pipelines YAML file and run it on this machine, with Azure's
semantics for stages, jobs, conditions, strategies, variables and cancellation.

FILE defaults to azure-pipelines.yml at the root of the current git repository (or of
the current directory outside git). Template paths resolve inside that root.

Jobs run as soon as their dependencies allow, in parallel; every line a job prints is
prefixed with [Stage/Job]. Ctrl-C cancels the run as Azure does: running jobs stop their
current step and only steps, jobs and stages whose condition allows it (always(),
canceled(), or one that ignores job status) still run. A second Ctrl-C exits at once.

Selection: --stage and --job run part of the pipeline (both repeatable; a job is JOB or
STAGE.JOB). Stages and jobs that are not selected do not run and end Skipped. Their
dependents do not wait for them and their default condition does not look at them: a
selected job or stage depends on its nearest selected ancestors instead, and
dependencies.X / stageDependencies.X of an unselected one read as empty.

Variables: --var NAME=VALUE sets a queue-time variable, overriding every variable the
pipeline defines. --secret NAME=VALUE (or --secret NAME to read the environment variable
NAME) and --secret-file FILE (dotenv lines NAME=VALUE) set secrets: masked as *** in
every log line and not exported to step environments unless a step maps them in env:.
--param NAME=VALUE sets a runtime parameter (top-level parameters:).

Tasks: Keystage runs its built-in tasks:
  ` + builtinTaskList() + `
A step using any other task fails with an error naming the task, and a task that needs
a service connection (such as AzureKeyVault@2) fails too, since local runs have none. Pass
--skip-task NAME@MAJOR to disable the steps that use a task instead (they are logged as
skipped). To run a pipeline that reads secrets with AzureKeyVault@2, pass
--skip-task AzureKeyVault@2 and give the secrets it would fetch with --secret.

Work directory: --workdir DIR (default: _work at the repository root, with a
.gitignore inside so git ignores it) holds one agent work folder per job running at
the same time (DIR/agent1, DIR/agent2, ...), run numbers, the values of counter() for
the next runs (DIR/runs.json), and the run's artifacts in DIR/_artifacts/RUN_ID/NAME.

Exit status: 0 when the run Succeeded or SucceededWithIssues, 1 when it Failed (or the
file does not compile), 130 when it was canceled.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			return runPipeline(cmd.Context(), f, file, stdout, stderr, getenv)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.list, "list", "l", false, "list the stages and jobs as a table and exit (with --json: the compiled plan)")
	fl.BoolVarP(&f.dryRun, "dry-run", "n", false, "plan only: show which stages, jobs and steps would run, in order, without running anything")
	fl.BoolVar(&f.json, "json", false, "print machine-readable events, one JSON object per line, instead of text")
	fl.StringArrayVarP(&f.stages, "stage", "s", nil, "run only this stage (repeatable); see Selection")
	fl.StringArrayVarP(&f.jobs, "job", "j", nil, "run only this job, as JOB or STAGE.JOB (repeatable); see Selection")
	fl.StringArrayVar(&f.vars, "var", nil, "queue-time variable NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "secret variable NAME=VALUE, or NAME to read $NAME (repeatable)")
	fl.StringArrayVar(&f.secretFiles, "secret-file", nil, "read secret variables from a dotenv file of NAME=VALUE lines (repeatable)")
	fl.StringArrayVar(&f.params, "param", nil, "runtime parameter NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.skipTasks, "skip-task", nil, "disable the steps that use task NAME@MAJOR, e.g. AzureKeyVault@2 (repeatable)")
	fl.StringVar(&f.workdir, "workdir", "", "work directory (default: _work at the repository root)")
	fl.IntVar(&f.maxParallel, "max-parallel", 0, "run at most this many jobs at once (default: no limit)")
	return cmd
}

// builtinTaskList names the tasks of the registry, for the help text.
func builtinTaskList() string {
	var refs []string
	for _, t := range task.Builtins() {
		refs = append(refs, t.Definition().Ref())
	}
	return strings.Join(refs, ", ")
}

// exitError ends the process with a status; its message has already been printed.
type exitError struct{ code int }

func (e exitError) Error() string { return "" }
func (e exitError) ExitCode() int { return e.code }

// runPipeline implements `keystage run`.
func runPipeline(ctx context.Context, f runFlags, file string, stdout, stderr io.Writer, getenv func(string) string) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, inGit := gitRoot(cwd)
	path := file
	if path == "" {
		path = filepath.Join(root, "azure-pipelines.yml")
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(cwd, path)
	}
	fsRoot := root
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		fsRoot, rel = filepath.Dir(path), filepath.Base(path)
	}
	params, err := cli.ParsePairs("--param", f.params)
	if err != nil {
		return err
	}
	repo := localRepository(fsRoot, inGit && fsRoot == root)
	p, diags, err := compile.Compile(os.DirFS(fsRoot), filepath.ToSlash(rel), compile.Options{
		Parameters: params,
		Variables: map[string]string{
			"Build.Reason":           "Manual",
			"Build.SourceBranch":     repo.Branch,
			"Build.SourceBranchName": repo.Branch[strings.LastIndex(repo.Branch, "/")+1:],
			"Build.SourceVersion":    repo.Commit,
			"Build.Repository.Name":  repo.Name,
		},
	})
	for _, d := range diags {
		fmt.Fprintln(stderr, d.String())
	}
	if err != nil {
		return exitError{1}
	}
	if f.list {
		return listPlan(stdout, p, f.json)
	}
	queue, err := queueVariables(f, getenv)
	if err != nil {
		return err
	}
	if err := skipTasks(p, f.skipTasks); err != nil {
		return err
	}
	warnUnknownTasks(stderr, p)

	workdir := f.workdir
	if workdir == "" {
		workdir = filepath.Join(root, "_work")
	}
	if workdir, err = filepath.Abs(workdir); err != nil {
		return err
	}
	opts := runs.Options{
		PipelineName: repo.Name,
		Reason:       "Manual",
		RequestedFor: gitConfig(fsRoot, "user.name", getenv("USER")),
		Variables:    queue,
		Repository:   repo,
		Stages:       f.stages,
		Jobs:         f.jobs,
		MaxParallel:  f.maxParallel,
	}
	now := time.Now()
	if f.dryRun {
		opts.RunID = 1
	} else {
		if err := prepareWorkdir(workdir, f.workdir == "" && inGit); err != nil {
			return err
		}
		key := runs.RevisionKey(*p, opts, now)
		err := updateCounters(workdir, func(c *runCounters) {
			c.LastRunID++
			c.Revisions[key]++
			opts.RunID, opts.Revision, opts.Counters = c.LastRunID, c.Revisions[key], c.Counters[path]
		})
		if err != nil {
			return err
		}
	}
	st, err := runs.New(*p, opts, now)
	if err != nil {
		return err
	}

	var out local.Output = local.NewText(stdout)
	if f.json {
		out = local.NewJSON(stdout, nil)
	}
	artifacts := task.NewLocalArtifacts(filepath.Join(workdir, "_artifacts"))
	newExecutor := func(slot int) (local.Executor, error) {
		if f.dryRun {
			return local.DryRun{}, nil
		}
		return agent.New(agent.Config{
			WorkFolder: filepath.Join(workdir, "agent"+strconv.Itoa(slot)),
			Tasks:      task.Builtins(),
			Artifacts:  artifacts,
			AgentName:  "keystage-local-" + strconv.Itoa(slot),
			AgentID:    slot,
		})
	}
	d, err := local.New(local.Config{NewExecutor: newExecutor, Output: out})
	if err != nil {
		return err
	}
	stopSignals := watchSecondInterrupt(ctx, stderr, f.json)
	defer stopSignals()
	if err := d.Run(ctx, st); err != nil {
		return err
	}
	if len(st.Counters) > 0 && !f.dryRun {
		err := updateCounters(workdir, func(c *runCounters) {
			if c.Counters[path] == nil {
				c.Counters[path] = map[string]float64{}
			}
			for k, v := range st.Counters {
				c.Counters[path][k] = max(c.Counters[path][k], v)
			}
		})
		if err != nil {
			fmt.Fprintln(stderr, "warning:", err)
		}
	}
	if !f.json && !f.dryRun {
		printArtifacts(ctx, stdout, artifacts, st.Options.RunID, workdir)
	}
	switch st.Result {
	case job.Succeeded, job.SucceededWithIssues:
		return nil
	case job.Canceled:
		return exitError{130}
	}
	return exitError{1}
}

// watchSecondInterrupt explains a Ctrl-C (which cancels ctx) and exits at once on a second
// one. The returned function stops watching.
func watchSecondInterrupt(ctx context.Context, stderr io.Writer, quiet bool) func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-stop:
			return
		case <-ctx.Done():
		}
		if !quiet {
			fmt.Fprintln(stderr, "Canceling the run: running jobs stop; steps, jobs and stages whose condition allows it still run. Press Ctrl-C again to quit now.")
		}
		select {
		case <-stop:
		case <-sigs:
			fmt.Fprintln(stderr, "Quitting without waiting for the run: processes started by steps may still be running.")
			os.Exit(130)
		}
	}()
	// Stopping waits for the watcher, so that nothing writes to stderr after the run.
	return func() { signal.Stop(sigs); close(stop); <-done }
}

// queueVariables collects --var, --secret and --secret-file, in that order of precedence
// (a later definition of a name wins).
func queueVariables(f runFlags, getenv func(string) string) ([]job.Variable, error) {
	var out []job.Variable
	for _, kv := range f.vars {
		k, v, err := cli.SplitPair("--var", kv)
		if err != nil {
			return nil, err
		}
		out = append(out, job.Variable{Name: k, Value: v})
	}
	for _, file := range f.secretFiles {
		vars, err := readSecretFile(file)
		if err != nil {
			return nil, err
		}
		out = append(out, vars...)
	}
	for _, kv := range f.secrets {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, errors.New("--secret: want NAME=VALUE or NAME")
		}
		if !ok {
			if v = getenv(k); v == "" {
				return nil, fmt.Errorf("--secret %s: the environment variable %s is not set", k, k)
			}
		}
		out = append(out, job.Variable{Name: k, Value: v, Secret: true})
	}
	return out, nil
}

// readSecretFile reads a dotenv file (NAME=VALUE lines, # comments, quoted values) as
// secret variables, sorted by name. Errors never quote the file's values.
func readSecretFile(path string) ([]job.Variable, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	defer fh.Close()
	return parseSecrets(fh, path)
}

func parseSecrets(r io.Reader, name string) ([]job.Variable, error) {
	m, err := godotenv.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("--secret-file %s: not a dotenv file of NAME=VALUE lines", name)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]job.Variable, 0, len(keys))
	for _, k := range keys {
		out = append(out, job.Variable{Name: k, Value: m[k], Secret: true})
	}
	return out, nil
}

// skipTasks disables the steps that use the tasks named NAME@MAJOR.
func skipTasks(p *plan.Plan, refs []string) error {
	for _, ref := range refs {
		name, major, ok := strings.Cut(ref, "@")
		v, err := strconv.Atoi(major)
		if !ok || err != nil || name == "" {
			return fmt.Errorf("--skip-task %q: want NAME@MAJOR, e.g. AzureKeyVault@2", ref)
		}
		n := 0
		for si := range p.Stages {
			for ji := range p.Stages[si].Jobs {
				steps := p.Stages[si].Jobs[ji].Steps
				for k := range steps {
					if strings.EqualFold(steps[k].Task.Name, name) && steps[k].Task.Version == v {
						steps[k].Enabled = false
						n++
					}
				}
			}
		}
		if n == 0 {
			return fmt.Errorf("--skip-task %s: no step uses task %s", ref, ref)
		}
	}
	return nil
}

// warnUnknownTasks says up front which enabled steps use tasks Keystage does not have.
func warnUnknownTasks(stderr io.Writer, p *plan.Plan) {
	known := map[string]bool{}
	for _, t := range task.Builtins() {
		known[strings.ToLower(t.Definition().Ref())] = true
	}
	warned := map[string]bool{}
	for _, s := range p.Stages {
		for _, j := range s.Jobs {
			for _, st := range j.Steps {
				ref := fmt.Sprintf("%s@%d", st.Task.Name, st.Task.Version)
				if !st.Enabled || known[strings.ToLower(ref)] || warned[strings.ToLower(ref)] {
					continue
				}
				warned[strings.ToLower(ref)] = true
				fmt.Fprintf(stderr, "%s: warning: task %s is not available in Keystage; steps using it will fail (--skip-task %s skips them)\n", st.Pos, ref, ref)
			}
		}
	}
}

// listPlan prints the stages and jobs of p as a table, or p as JSON.
func listPlan(w io.Writer, p *plan.Plan, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tJOB\tDISPLAY NAME\tDEPENDS ON\tSTRATEGY\tCONDITION")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, s := range p.Stages {
		fmt.Fprintf(tw, "%s\t-\t%s\t%s\t-\t%s\n", s.Name, dash(s.DisplayName), dash(strings.Join(s.DependsOn, ", ")), dash(oneLine(s.Condition)))
		for _, j := range s.Jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, j.Name, dash(j.DisplayName), dash(strings.Join(j.DependsOn, ", ")), dash(strategy(j.Strategy)), dash(oneLine(j.Condition)))
		}
	}
	return tw.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func strategy(s *plan.Strategy) string {
	switch {
	case s == nil:
		return ""
	case s.MatrixExpr != "":
		return "matrix " + oneLine(s.MatrixExpr)
	case len(s.Matrix) > 0:
		var legs []string
		for _, l := range s.Matrix {
			legs = append(legs, l.Name)
		}
		out := "matrix " + strings.Join(legs, ", ")
		if s.MaxParallel > 0 {
			out += fmt.Sprintf(" (max %d)", s.MaxParallel)
		}
		return out
	case s.Parallel > 0:
		return fmt.Sprintf("parallel %d", s.Parallel)
	}
	return ""
}

// prepareWorkdir creates the work directory; a default one inside a git repository gets a
// .gitignore that makes git ignore it.
func prepareWorkdir(dir string, ignore bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if ignore {
		gi := filepath.Join(dir, ".gitignore")
		if _, err := os.Stat(gi); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(gi, []byte("# Created by keystage run: git ignores this work directory.\n*\n"), 0o644); err != nil {
				return fmt.Errorf("work directory: %w", err)
			}
		}
	}
	return nil
}

// runCounters is the work directory's record of run IDs, build number revisions and the
// values of counter() per pipeline file.
type runCounters struct {
	LastRunID int64                         `json:"lastRunId"`
	Revisions map[string]int                `json:"revisions"`
	Counters  map[string]map[string]float64 `json:"counters,omitempty"`
}

// updateCounters applies change to the work directory's counters under a file lock, so
// that concurrent runs in one work directory get different run IDs.
func updateCounters(workdir string, change func(*runCounters)) error {
	path := filepath.Join(workdir, "runs.json")
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("run counters: %w", err)
	}
	defer fh.Close()
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("run counters: lock: %w", err)
	}
	b, err := io.ReadAll(fh)
	if err != nil {
		return fmt.Errorf("run counters: %w", err)
	}
	var c runCounters
	if len(b) > 0 {
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("run counters: %s is corrupt (delete it to start again from run 1): %w", path, err)
		}
	}
	if c.Revisions == nil {
		c.Revisions = map[string]int{}
	}
	if c.Counters == nil {
		c.Counters = map[string]map[string]float64{}
	}
	change(&c)
	b, _ = json.MarshalIndent(c, "", "  ")
	if err := fh.Truncate(0); err != nil {
		return fmt.Errorf("run counters: %w", err)
	}
	if _, err := fh.WriteAt(append(b, '\n'), 0); err != nil {
		return fmt.Errorf("run counters: %w", err)
	}
	return nil
}

// gitRoot returns the root of the git repository holding dir, or dir itself.
func gitRoot(dir string) (string, bool) {
	out, err := gitOutput(dir, "rev-parse", "--show-toplevel")
	if err != nil || out == "" {
		return dir, false
	}
	return out, true
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func gitConfig(dir, key, def string) string {
	if v, err := gitOutput(dir, "config", key); err == nil && v != "" {
		return v
	}
	return def
}

// localRepository describes the self repository of a local run: the directory, and its
// branch, commit and commit message when it is a git repository.
func localRepository(root string, git bool) job.Repository {
	r := job.Repository{Name: filepath.Base(root), URI: root}
	if !git {
		return r
	}
	r.Provider = "Git"
	if b, err := gitOutput(root, "symbolic-ref", "-q", "HEAD"); err == nil {
		r.Branch = b
	}
	if c, err := gitOutput(root, "rev-parse", "HEAD"); err == nil {
		r.Commit = c
	}
	if m, err := gitOutput(root, "log", "-1", "--format=%s"); err == nil {
		r.Message = m
	}
	return r
}

// printArtifacts lists the run's artifacts and where they are.
func printArtifacts(ctx context.Context, w io.Writer, store *task.LocalArtifacts, runID int64, workdir string) {
	list, err := store.List(ctx, runID)
	if err != nil || len(list) == 0 {
		return
	}
	fmt.Fprintln(w, "Artifacts:")
	for _, a := range list {
		fmt.Fprintf(w, "  %s (%d files) %s\n", a.Name, a.Files, filepath.Join(workdir, "_artifacts", strconv.FormatInt(runID, 10), a.Name))
	}
}
