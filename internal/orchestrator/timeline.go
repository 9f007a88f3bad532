package orchestrator

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/pipeline/compile"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/run"
)

// Timeline record types.
const (
	RecordStage      = "Stage"
	RecordPhase      = "Phase"
	RecordJob        = "Job"
	RecordTask       = "Task"
	RecordCheckpoint = "Checkpoint"
)

// Timeline record states.
const (
	StatePending    = "pending"
	StateInProgress = "inProgress"
	StateCompleted  = "completed"
)

// TimelineRecord is one record of a run's timeline, with Azure's fields. Records form the
// tree Stage -> Phase -> Job -> Task (and Stage -> Checkpoint -> Checkpoint.*).
type TimelineRecord struct {
	ID         string `json:"id"`
	ParentID   string `json:"parentId,omitempty"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Identifier string `json:"identifier,omitempty"`
	RefName    string `json:"refName,omitempty"`
	Order      int    `json:"order"`
	State      string `json:"state"`
	// Result is empty until the record completes; then Azure's TaskResult name.
	Result       string         `json:"result,omitempty"`
	StartTime    time.Time      `json:"startTime,omitzero"`
	FinishTime   time.Time      `json:"finishTime,omitzero"`
	ErrorCount   int            `json:"errorCount"`
	WarningCount int            `json:"warningCount"`
	Issues       []Issue        `json:"issues,omitempty"`
	LogID        int            `json:"logId,omitempty"`
	Task         *TaskReference `json:"task,omitempty"`
	WorkerName   string         `json:"workerName,omitempty"`
	QueueID      int            `json:"queueId,omitempty"`
	Attempt      int            `json:"attempt"`
	// CurrentOperation says what a pending record waits for.
	CurrentOperation string    `json:"currentOperation,omitempty"`
	ChangeID         int       `json:"changeId"`
	LastModified     time.Time `json:"lastModified"`
}

// TaskReference names the task a Task record runs.
type TaskReference struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Timeline is a run's timeline; its ID is the run's plan id.
type Timeline struct {
	ID          string           `json:"id"`
	ChangeID    int              `json:"changeId"`
	LastChanged time.Time        `json:"lastChangedOn"`
	Records     []TimelineRecord `json:"records"`
}

// taskResult is Azure's TaskResult name of a result.
func taskResult(r job.Result) string {
	switch r {
	case job.Succeeded:
		return "succeeded"
	case job.SucceededWithIssues:
		return "succeededWithIssues"
	case job.Failed:
		return "failed"
	case job.Canceled:
		return "canceled"
	case job.Skipped:
		return "skipped"
	case "":
		return ""
	}
	return "abandoned"
}

func recordState(s run.Status) string {
	switch s {
	case run.InProgress:
		return StateInProgress
	case run.Completed:
		return StateCompleted
	}
	return StatePending
}

// recordID derives a stable record id from the plan id and a path.
func recordID(planID, path string) string {
	return uuid.NewSHA1(uuid.MustParse(planID), []byte(strings.ToLower(path))).String()
}

func stageRecordID(planID string, st *run.StageState) string {
	return recordID(planID, fmt.Sprintf("stage/%s/%d", st.Name, st.Attempt))
}

func phaseRecordID(planID string, st *run.StageState, js *run.JobState) string {
	return recordID(planID, fmt.Sprintf("phase/%s/%s/%d", st.Name, js.Name, js.Attempt))
}

// buildTimeline derives the timeline from the run's state and the per-job progress the
// agents reported. The result is in tree order: each stage, its checkpoints, its phases,
// each phase's jobs, each job's tasks.
func buildTimeline(planID string, st *run.State, tl *tlState, now time.Time) Timeline {
	t := Timeline{ID: planID, ChangeID: tl.ChangeID, LastChanged: tl.Changed}
	add := func(r TimelineRecord) {
		r.ChangeID = tl.ChangeID
		r.LastModified = tl.Changed
		if r.Attempt == 0 {
			r.Attempt = 1
		}
		t.Records = append(t.Records, r)
	}
	for si, stg := range st.Stages {
		sid := stageRecordID(planID, stg)
		add(TimelineRecord{
			ID: sid, Type: RecordStage, Name: stg.DisplayName, Identifier: stg.Name, Order: si + 1,
			State: recordState(stg.Status), Result: resultIf(stg.Status, stg.Result),
			StartTime: stg.StartTime, FinishTime: stg.FinishTime, Attempt: stg.Attempt,
			Issues: reasonIssue(stg.Result, stg.Reason),
		})
		for _, cp := range tl.Checkpoints {
			if !strings.EqualFold(cp.Stage, stg.Name) {
				continue
			}
			cid := recordID(planID, "checkpoint/"+cp.ID)
			state, result := StateInProgress, ""
			switch {
			case cp.Canceled:
				state, result = StateCompleted, "canceled"
			case cp.Decided:
				state, result = StateCompleted, map[bool]string{true: "succeeded", false: "failed"}[cp.Approved]
			}
			add(TimelineRecord{ID: cid, ParentID: sid, Type: RecordCheckpoint, Name: "Checkpoint", Order: 0,
				State: state, Result: result, StartTime: cp.Created, FinishTime: cp.DecidedAt})
			add(TimelineRecord{ID: cp.ID, ParentID: cid, Type: cp.Kind, Name: cp.Name, Order: 1,
				State: state, Result: result, StartTime: cp.Created, FinishTime: cp.DecidedAt,
				CurrentOperation: cp.Message})
		}
		for ji, js := range stg.Jobs {
			pid := phaseRecordID(planID, stg, js)
			phaseIdent := js.Name
			if stg.Name != compile.DefaultStageName {
				phaseIdent = stg.Name + "." + js.Name
			}
			pool := tl.Pools[poolKey(stg.Name, js.Name)]
			add(TimelineRecord{
				ID: pid, ParentID: sid, Type: RecordPhase, Name: js.DisplayName, Identifier: phaseIdent, RefName: js.Name,
				Order: ji + 1, State: recordState(js.Status), Result: resultIf(js.Status, js.Result),
				StartTime: js.StartTime, FinishTime: js.FinishTime, Attempt: js.Attempt,
			})
			for _, in := range js.Instances {
				jp := tl.Jobs[in.ID]
				r := TimelineRecord{
					ID: in.ID, ParentID: pid, Type: RecordJob, Name: in.DisplayName,
					Identifier: phaseIdent + "." + in.Name, RefName: in.Name, Order: in.Position,
					State: recordState(in.Status), Result: resultIf(in.Status, in.Result),
					FinishTime: in.FinishTime, Attempt: js.Attempt, QueueID: pool.Queue.ID,
				}
				if in.Reason != "" && in.Result != job.Succeeded {
					r.Issues = append(r.Issues, Issue{Type: issueType(in.Result), Message: in.Reason})
				}
				if jp != nil {
					r.WorkerName, r.LogID = jp.AgentName, jp.LogID
					r.StartTime = jp.Started
					r.Issues = append(r.Issues, jp.Issues...)
					if in.Status == run.InProgress && jp.Started.IsZero() {
						r.State = StatePending
						r.CurrentOperation = "Waiting for an agent in pool " + pool.Queue.PoolName
						if jp.AgentName != "" {
							r.CurrentOperation = "Starting on agent " + jp.AgentName
						}
					}
				} else if in.Status == run.InProgress {
					r.State = StatePending
				}
				if r.StartTime.IsZero() && in.Status == run.Completed {
					r.StartTime = in.FinishTime
				}
				if in.Report != nil {
					r.ErrorCount, r.WarningCount = in.Report.Errors, in.Report.Warnings
				}
				if jp != nil {
					r.ErrorCount = max(r.ErrorCount, jp.errors())
					r.WarningCount = max(r.WarningCount, jp.warnings())
				}
				for _, is := range r.Issues {
					if is.Type == "error" && r.ErrorCount == 0 {
						r.ErrorCount = 1
					}
				}
				add(r)
				if jp == nil {
					continue
				}
				for order, tr := range jp.Tasks {
					rec := TimelineRecord{
						ID: tr.ID, ParentID: in.ID, Type: RecordTask, Name: tr.DisplayName, RefName: tr.RefName,
						Order: order + 1, State: tr.State, Result: tr.Result, StartTime: tr.Start, FinishTime: tr.Finish,
						ErrorCount: tr.Errors, WarningCount: tr.Warnings, Issues: tr.Issues, LogID: tr.LogID,
						WorkerName: jp.AgentName, Attempt: 1,
					}
					if name, ver, ok := strings.Cut(tr.Task, "@"); ok {
						rec.Task = &TaskReference{Name: name, Version: ver + ".0.0"}
					}
					add(rec)
				}
			}
		}
	}
	return t
}

// resultIf is the record result of a completed state.
func resultIf(s run.Status, r job.Result) string {
	if s != run.Completed {
		return ""
	}
	return taskResult(r)
}

func issueType(r job.Result) string {
	if r == job.Skipped || r == job.Canceled {
		return "warning"
	}
	return "error"
}

// reasonIssue turns a stage's failure or skip reason into an issue.
func reasonIssue(r job.Result, reason string) []Issue {
	if reason == "" || r == job.Succeeded || reason == "not selected" {
		return nil
	}
	return []Issue{{Type: issueType(r), Message: reason}}
}
