package orchestrator

import (
	"fmt"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// tlState is the part of a run's timeline that the run state does not hold: what agents
// reported about each job, the logs, the jobs' pools and the checkpoints. The run-level
// fields are persisted at x/{runId}/timeline; each job's progress (with its logs) at
// x/{runId}/jobs/{jobId}, so that an event of one job rewrites only that job's entry.
type tlState struct {
	ChangeID  int       `json:"changeId"`
	Changed   time.Time `json:"changed"`
	NextLogID int       `json:"nextLogId"`
	// Jobs and Logs are kept in the jobs' entries; Logs indexes them by id - 1.
	Jobs        map[string]*jobProgress `json:"-"`
	Logs        []*logMeta              `json:"-"`
	Pools       map[string]jobPool      `json:"pools"`
	Checkpoints []*checkpoint           `json:"checkpoints,omitempty"`
	// Rejected is set when a checkpoint was rejected: the run ends failed.
	Rejected bool `json:"rejected,omitempty"`
}

// logMeta describes one log. A job's log has Parts: the logs of its tasks, in order.
type logMeta struct {
	ID       int       `json:"id"`
	RecordID string    `json:"recordId"`
	Lines    int       `json:"lines"`
	Created  time.Time `json:"created"`
	Changed  time.Time `json:"changed"`
	Parts    []int     `json:"parts,omitempty"`
	// Closed is set when no more lines will come.
	Closed bool `json:"closed,omitempty"`
}

// jobProgress is what the agent reported about one job instance.
type jobProgress struct {
	JobID string `json:"jobId"`
	// Logs are the job's logs: the job log and its tasks'.
	Logs []*logMeta `json:"logs,omitempty"`
	// Seq is the last event batch applied.
	Seq       int64           `json:"seq"`
	AgentID   int             `json:"agentId,omitempty"`
	AgentName string          `json:"agentName,omitempty"`
	Assigned  time.Time       `json:"assigned,omitzero"`
	Started   time.Time       `json:"started,omitzero"`
	LogID     int             `json:"logId,omitempty"`
	Tasks     []*taskProgress `json:"tasks,omitempty"`
	Issues    []Issue         `json:"issues,omitempty"`
	Ended     bool            `json:"ended,omitempty"`
}

// Kinds of task records.
const (
	taskInit  = "init"
	taskStep  = "step"
	taskFinal = "final"
)

// taskProgress is one Task record: "Initialize job", a step, or "Finalize Job".
type taskProgress struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Index       int       `json:"index"`
	PreJob      bool      `json:"preJob,omitempty"`
	RefName     string    `json:"refName,omitempty"`
	DisplayName string    `json:"displayName"`
	Task        string    `json:"task,omitempty"`
	State       string    `json:"state"`
	Result      string    `json:"result,omitempty"`
	Start       time.Time `json:"start,omitzero"`
	Finish      time.Time `json:"finish,omitzero"`
	LogID       int       `json:"logId,omitempty"`
	Errors      int       `json:"errors,omitempty"`
	Warnings    int       `json:"warnings,omitempty"`
	Issues      []Issue   `json:"issues,omitempty"`
}

// maxIssues bounds the issues kept per record.
const maxIssues = 20

func (jp *jobProgress) errors() int {
	n := 0
	for _, t := range jp.Tasks {
		n += t.Errors
	}
	return n
}

func (jp *jobProgress) warnings() int {
	n := 0
	for _, t := range jp.Tasks {
		n += t.Warnings
	}
	return n
}

// logByID returns a log's metadata, or nil.
func (tl *tlState) logByID(id int) *logMeta {
	if id < 1 || id > len(tl.Logs) {
		return nil
	}
	return tl.Logs[id-1]
}

// index rebuilds Logs from the jobs' entries after loading.
func (tl *tlState) index() {
	tl.Logs = make([]*logMeta, tl.NextLogID)
	for _, jp := range tl.Jobs {
		for _, m := range jp.Logs {
			if m.ID >= 1 && m.ID <= len(tl.Logs) {
				tl.Logs[m.ID-1] = m
			}
		}
	}
	for i, m := range tl.Logs {
		if m == nil { // a log whose job entry was lost: keep ids dense
			tl.Logs[i] = &logMeta{ID: i + 1, Closed: true}
		}
	}
}

// progress returns the job's progress, creating it, and marks it for the next commit:
// callers change it.
func (r *activeRun) progress(jobID string) *jobProgress {
	jp := r.tl.Jobs[jobID]
	if jp == nil {
		jp = &jobProgress{JobID: jobID}
		r.tl.Jobs[jobID] = jp
	}
	r.dirtyJobs[jobID] = true
	return jp
}

// newLog allocates a log of job jp for a record.
func (r *activeRun) newLog(jp *jobProgress, recordID string, now time.Time) *logMeta {
	r.tl.NextLogID++
	m := &logMeta{ID: r.tl.NextLogID, RecordID: recordID, Created: now.UTC(), Changed: now.UTC()}
	r.tl.Logs = append(r.tl.Logs, m)
	jp.Logs = append(jp.Logs, m)
	r.dirtyTL = true
	return m
}

// jobStarted gives an accepted job its start time and its job log.
func (r *activeRun) jobStarted(jobID string, now time.Time) {
	jp := r.progress(jobID)
	if jp.Started.IsZero() {
		jp.Started = now.UTC()
	}
	if jp.LogID == 0 {
		jp.LogID = r.newLog(jp, jobID, now).ID
	}
}

// task returns the job's task record of kind (and step index), creating it with its log.
func (r *activeRun) task(jobID string, jp *jobProgress, kind string, step *agentproto.Step, now time.Time) *taskProgress {
	for _, t := range jp.Tasks {
		if t.Kind == kind && (kind != taskStep || t.Index == step.Index && t.PreJob == step.PreJob) {
			return t
		}
	}
	r.jobStarted(jobID, now)
	t := &taskProgress{Kind: kind, State: StateInProgress, Start: now.UTC()}
	switch kind {
	case taskInit:
		t.ID, t.DisplayName, t.Index = recordID(r.rec.PlanID, "task/"+jobID+"/init"), "Initialize job", -1
	case taskFinal:
		t.ID, t.DisplayName, t.Index = recordID(r.rec.PlanID, "task/"+jobID+"/final"), "Finalize Job", -2
	default:
		run := "step"
		if step.PreJob {
			run = "prejob"
		}
		t.ID = recordID(r.rec.PlanID, fmt.Sprintf("task/%s/%s/%d", jobID, run, step.Index))
		t.Index, t.PreJob, t.RefName, t.DisplayName, t.Task = step.Index, step.PreJob, step.Name, step.DisplayName, step.Task
	}
	t.LogID = r.newLog(jp, t.ID, now).ID
	if jl := r.tl.logByID(jp.LogID); jl != nil {
		jl.Parts = append(jl.Parts, t.LogID)
	}
	jp.Tasks = append(jp.Tasks, t)
	return t
}

// hasStep reports whether any step of the job has started.
func (jp *jobProgress) hasStep() bool {
	for _, t := range jp.Tasks {
		if t.Kind == taskStep {
			return true
		}
	}
	return false
}

// complete ends a task record.
func (t *taskProgress) complete(result string, now time.Time) {
	if t.State == StateCompleted {
		return
	}
	t.State, t.Result, t.Finish = StateCompleted, result, now.UTC()
}

// applyEvents applies one batch of a job's events. It returns false for a batch already
// applied, and an error for a batch that skips one.
func (r *activeRun) applyEvents(jobID string, b *agentproto.Events, now time.Time) (bool, error) {
	jp := r.progress(jobID)
	if b.Seq <= jp.Seq {
		return false, nil
	}
	if b.Seq != jp.Seq+1 {
		return false, badRequest("Event batch %d of job %s arrived before batch %d; send the batches in order.", b.Seq, jobID, jp.Seq+1)
	}
	jp.Seq = b.Seq
	for i := range b.Events {
		e := &b.Events[i]
		switch e.Kind {
		case agentproto.JobLines:
			kind := taskInit
			if jp.hasStep() {
				kind = taskFinal
			}
			r.appendLines(r.task(jobID, jp, kind, nil, now), e.Lines, now)
		case agentproto.StepStarted:
			if init := findTask(jp, taskInit, 0); init != nil {
				init.complete("succeeded", now)
			}
			r.task(jobID, jp, taskStep, e.Step, now)
		case agentproto.StepLines:
			r.appendLines(r.task(jobID, jp, taskStep, e.Step, now), e.Lines, now)
		case agentproto.StepFinished:
			t := r.task(jobID, jp, taskStep, e.Step, now)
			t.Errors, t.Warnings = e.Report.Errors, e.Report.Warnings
			t.complete(taskResult(e.Report.Result), now)
			r.closeLog(t.LogID)
		}
	}
	return true, nil
}

func findTask(jp *jobProgress, kind string, index int) *taskProgress {
	for _, t := range jp.Tasks {
		if t.Kind == kind && (kind != taskStep || t.Index == index) {
			return t
		}
	}
	return nil
}

// appendLines adds a chunk's lines to a task's log and collects its issues.
func (r *activeRun) appendLines(t *taskProgress, chunk string, now time.Time) {
	lines, err := agentproto.ParseChunk([]byte(chunk))
	if err != nil || len(lines) == 0 {
		return // decoders already rejected bad chunks
	}
	for _, l := range lines {
		if len(t.Issues) >= maxIssues {
			break
		}
		if msg, ok := strings.CutPrefix(l, "##[error]"); ok {
			t.Issues = append(t.Issues, Issue{Type: "error", Message: msg})
		} else if msg, ok := strings.CutPrefix(l, "##[warning]"); ok {
			t.Issues = append(t.Issues, Issue{Type: "warning", Message: msg})
		}
	}
	m := r.tl.logByID(t.LogID)
	if m == nil {
		return
	}
	for start := 0; start < len(lines); start += maxChunkLines {
		end := min(start+maxChunkLines, len(lines))
		r.chunks = append(r.chunks, chunkWrite{logID: m.ID, firstLine: m.Lines + 1, data: agentproto.FormatChunk(lines[start:end])})
		m.Lines += end - start
	}
	m.Changed = now.UTC()
	r.linesAdded = true
}

func (r *activeRun) closeLog(id int) {
	if m := r.tl.logByID(id); m != nil {
		m.Closed = true
	}
}

// jobEnded closes a job's open records and logs when the job ends (finished or lost).
func (r *activeRun) jobEnded(jobID string, result job.Result, issue string, now time.Time) {
	if r.tl.Jobs[jobID] == nil && issue == "" {
		return
	}
	jp := r.progress(jobID)
	if issue != "" && len(jp.Issues) < maxIssues {
		jp.Issues = append(jp.Issues, Issue{Type: "error", Message: issue})
	}
	open := taskResult(result)
	if result == job.Succeeded || result == job.SucceededWithIssues {
		open = "succeeded"
	}
	if jp.hasStep() && issue == "" {
		r.task(jobID, jp, taskFinal, nil, now) // Azure always shows "Finalize Job"
	}
	for _, t := range jp.Tasks {
		switch {
		case t.State == StateCompleted:
		case t.Kind == taskStep && issue != "":
			t.complete("abandoned", now)
		case t.Kind == taskStep:
			t.complete(open, now)
		default:
			t.complete("succeeded", now)
		}
		r.closeLog(t.LogID)
	}
	r.closeLog(jp.LogID)
	jp.Ended = true
}
