package devopshttp

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator"
)

// timelineJSON is the Build API's Timeline.
type timelineJSON struct {
	ID            string       `json:"id"`
	ChangeID      int          `json:"changeId"`
	LastChangedBy string       `json:"lastChangedBy"`
	LastChangedOn time.Time    `json:"lastChangedOn"`
	URL           string       `json:"url"`
	Records       []recordJSON `json:"records"`
}

// recordJSON is a TimelineRecord: GUID fields are null, never "".
type recordJSON struct {
	ID               string       `json:"id"`
	ParentID         *string      `json:"parentId"`
	Type             string       `json:"type"`
	Name             string       `json:"name"`
	Identifier       *string      `json:"identifier"`
	RefName          *string      `json:"refName,omitempty"`
	StartTime        *time.Time   `json:"startTime"`
	FinishTime       *time.Time   `json:"finishTime"`
	CurrentOperation *string      `json:"currentOperation"`
	PercentComplete  *int         `json:"percentComplete"`
	State            string       `json:"state"`
	Result           *string      `json:"result"`
	ResultCode       *string      `json:"resultCode"`
	ChangeID         int          `json:"changeId"`
	LastModified     time.Time    `json:"lastModified"`
	WorkerName       *string      `json:"workerName"`
	QueueID          *int         `json:"queueId,omitempty"`
	Order            int          `json:"order"`
	Details          *struct{}    `json:"details"`
	ErrorCount       int          `json:"errorCount"`
	WarningCount     int          `json:"warningCount"`
	URL              *string      `json:"url"`
	Log              *logRefJSON  `json:"log"`
	Task             *taskRefJSON `json:"task"`
	Attempt          int          `json:"attempt"`
	Issues           []issueJSON  `json:"issues"`
	PreviousAttempts []struct{}   `json:"previousAttempts"`
}

type logRefJSON struct {
	ID   int    `json:"id"`
	Type string `json:"type"`
	URL  string `json:"url"`
}

type taskRefJSON struct {
	ID      *string `json:"id"`
	Name    string  `json:"name"`
	Version string  `json:"version"`
}

type issueJSON struct {
	Type     string            `json:"type"`
	Category *string           `json:"category"`
	Message  string            `json:"message"`
	Data     map[string]string `json:"data"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// logURL is the Build API URL of a log.
func logURL(rq *Request, buildID int64, logID int) string {
	return rq.URL(rq.Project.ID, "_apis", "build", "builds", strconv.FormatInt(buildID, 10), "logs", strconv.Itoa(logID))
}

func (a *runsAPI) timelineJSON(rq *Request, buildID int64, tl orchestrator.Timeline) timelineJSON {
	u := rq.URL(rq.Project.ID, "_apis", "build", "builds", strconv.FormatInt(buildID, 10), "Timeline", tl.ID)
	out := timelineJSON{ID: tl.ID, ChangeID: tl.ChangeID, LastChangedBy: "00000002-0000-8888-8000-000000000000",
		LastChangedOn: tl.LastChanged, URL: u, Records: make([]recordJSON, 0, len(tl.Records))}
	for _, r := range tl.Records {
		j := recordJSON{
			ID: r.ID, ParentID: strPtr(r.ParentID), Type: r.Type, Name: r.Name, Identifier: strPtr(r.Identifier),
			RefName: strPtr(r.RefName), StartTime: timePtr(r.StartTime), FinishTime: timePtr(r.FinishTime),
			CurrentOperation: strPtr(r.CurrentOperation), State: r.State, Result: strPtr(r.Result),
			ChangeID: r.ChangeID, LastModified: r.LastModified, WorkerName: strPtr(r.WorkerName), Order: r.Order,
			ErrorCount: r.ErrorCount, WarningCount: r.WarningCount, Attempt: r.Attempt,
			Issues: []issueJSON{}, PreviousAttempts: []struct{}{},
		}
		if r.QueueID != 0 {
			q := r.QueueID
			j.QueueID = &q
		}
		if r.State == orchestrator.StateCompleted {
			pc := 100
			j.PercentComplete = &pc
		}
		if r.LogID != 0 {
			j.Log = &logRefJSON{ID: r.LogID, Type: "Container", URL: logURL(rq, buildID, r.LogID)}
		}
		if r.Task != nil {
			j.Task = &taskRefJSON{Name: r.Task.Name, Version: r.Task.Version}
			if id, ok := devops.TaskIDByName(r.Task.Name); ok {
				j.Task.ID = &id
			}
		}
		for _, is := range r.Issues {
			cat := "General"
			j.Issues = append(j.Issues, issueJSON{Type: is.Type, Category: &cat, Message: is.Message, Data: map[string]string{"type": is.Type}})
		}
		out.Records = append(out.Records, j)
	}
	return out
}

// getTimeline answers GET …/builds/{buildId}/timeline[/{timelineId}]. Keystage extension:
// with changeId=N and wait=S (seconds, at most 60) the request waits until the timeline's
// changeId passes N, so a follower needs no polling loop.
func (a *runsAPI) getTimeline(rq *Request) error {
	p, id, err := a.build(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	tl, err := a.runs.Timeline(ctx, p, id)
	if err != nil {
		return err
	}
	if tid, ok := rq.Value("timelineId"); ok && !strings.EqualFold(tid, tl.ID) {
		return orchestrator.RunNotFound(id)
	}
	if pid := rq.Query("planId"); pid != "" && !strings.EqualFold(pid, tl.ID) {
		return devops.BadRequest("planId %s is not the plan of build %d.", clip(pid), id)
	}
	changeID := -1
	if s := rq.Query("changeId"); s != "" {
		if changeID, err = strconv.Atoi(s); err != nil || changeID < 0 {
			return devops.BadRequest("changeId must be a non-negative integer.")
		}
	}
	if s := rq.Query("wait"); s != "" && changeID >= 0 {
		secs, err := strconv.Atoi(s)
		if err != nil || secs < 0 {
			return devops.BadRequest("wait must be a number of seconds.")
		}
		wctx, cancel := context.WithTimeout(ctx, time.Duration(min(secs, 60))*time.Second)
		defer cancel()
		for tl.ChangeID <= changeID && wctx.Err() == nil {
			if err := a.runs.WaitForChange(wctx, p, id); err != nil && wctx.Err() == nil {
				return err
			}
			if tl, err = a.runs.Timeline(ctx, p, id); err != nil {
				return err
			}
			run, err := a.runs.Run(ctx, p, id)
			if err != nil {
				return err
			}
			if run.Done() {
				break
			}
		}
	}
	out := a.timelineJSON(rq, id, tl)
	if changeID >= 0 {
		kept := out.Records[:0]
		for _, r := range out.Records {
			if r.ChangeID > changeID {
				kept = append(kept, r)
			}
		}
		out.Records = kept
	}
	return rq.OK(out)
}
