package orchestrator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/run"
)

// runEventKind says what happened to a run.
type runEventKind int

const (
	evStart      runEventKind = iota // queued or resumed: advance the state
	evAssigned                       // a job was handed to an agent
	evRequeued                       // a handed-out job was not accepted and is queued again
	evAccepted                       // the agent started the job
	evEvents                         // a batch of the job's events
	evComplete                       // the job finished (with its last events)
	evLost                           // the job's lease expired
	evCancel                         // the user canceled the run
	evCheckpoint                     // a checkpoint was approved or rejected
	evDelete                         // the run (or its project) is being deleted
	evView                           // a reader wants the committed timeline and logs
)

// runEvent is one thing that happened to a run; reply, when set, gets the outcome once the
// effects are durable.
type runEvent struct {
	kind      runEventKind
	jobID     string
	agentID   int
	agentName string
	batch     *agentproto.Events
	report    *job.Report
	reason    string
	// checkpoint decisions
	checkpointID string
	approved     bool
	reply        chan error
	// view receives the committed view (evView).
	view chan *viewData
}

// maxChunkLines bounds the lines of one stored log chunk, so that a line is found by
// listing at most a chunk's worth of keys back.
const maxChunkLines = 1000

// chunkWrite is a log chunk waiting for the next commit.
type chunkWrite struct {
	logID, firstLine int
	data             []byte
}

// snapshot is what readers see of an active run without asking its loop: copies made at
// the last commit.
type snapshot struct {
	rec         Run
	checkpoints []checkpoint
}

// viewData is the committed timeline and logs of an active run, computed by its loop when
// a reader asks (and kept until the next commit).
type viewData struct {
	timeline Timeline
	logs     []logMeta
	done     bool
}

// activeRun is a run that has not completed, with the goroutine that drives it. Fields
// below the line are owned by that goroutine.
type activeRun struct {
	s       *Service
	id      int64
	project Project
	events  chan *runEvent
	quit    chan struct{}
	snap    atomic.Pointer[snapshot]

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after every commit

	// artMu serializes changes to the run's artifact index.
	artMu sync.Mutex

	// ---- owned by the loop
	rec       *Run
	st        *run.State
	tl        *tlState
	jobs      map[string]*jobRecord // queued or running instances
	held      bool                  // waiting on checkpoints
	canceling bool
	// cancelAt is when a job asked to cancel is given up for lost.
	cancelAt map[string]time.Time

	dirtyRec, dirtyState, dirtyTL bool
	dirtyJobs                     map[string]bool
	linesAdded                    bool
	viewers                       []chan *viewData
	viewCache                     *viewData
	// lastCommit is how long the last commit took; the loop waits up to half of it for
	// more events before the next one (group commit).
	lastCommit time.Duration
	chunks     []chunkWrite
	jobPuts    []jobRecord
	jobDeletes []string
	after      []func()
	replies    []chan error
	failures   int
	finished   bool
}

func newActiveRun(s *Service, rec *Run, st *run.State, tl *tlState) *activeRun {
	r := &activeRun{
		s: s, id: rec.ID, project: rec.Project,
		events: make(chan *runEvent, 256), quit: make(chan struct{}), notify: make(chan struct{}),
		rec: rec, st: st, tl: tl, jobs: map[string]*jobRecord{}, cancelAt: map[string]time.Time{},
		dirtyJobs: map[string]bool{},
	}
	r.publish()
	return r
}

// send delivers an event without waiting for its effects; it is dropped once the loop has
// ended (the run completed or was deleted).
func (r *activeRun) send(ev *runEvent) {
	select {
	case r.events <- ev:
	case <-r.quit:
	}
}

// call delivers an event and waits until its effects are durable.
func (r *activeRun) call(ctx context.Context, ev *runEvent) error {
	ev.reply = make(chan error, 1)
	select {
	case r.events <- ev:
	case <-r.quit:
		return buildNotFound(r.id)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ev.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// changed returns a channel closed at the next commit.
func (r *activeRun) changed() <-chan struct{} {
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	return r.notify
}

func (r *activeRun) broadcast() {
	r.notifyMu.Lock()
	close(r.notify)
	r.notify = make(chan struct{})
	r.notifyMu.Unlock()
}

// maxBatch bounds the events applied in one commit.
const maxBatch = 512

// loop drives the run until it completes, is deleted, or the service stops.
func (r *activeRun) loop() {
	defer r.s.wg.Done()
	defer close(r.quit)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var batch []*runEvent
		select {
		case ev := <-r.events:
			batch = append(batch, ev)
		case <-timer.C:
		case <-r.s.baseCtx.Done():
			r.failReplies(fault.New(fault.Unavailable, CodeUnavailable, "The server is shutting down; retry."))
			return
		}
		batch = r.gather(batch)
		now := r.s.now()
		for _, ev := range batch {
			switch ev.kind {
			case evDelete:
				r.deleted(batch)
				return
			case evView:
				r.viewers = append(r.viewers, ev.view)
				continue
			}
			err := r.apply(ev, now)
			if ev.reply != nil {
				if err != nil {
					ev.reply <- err
				} else {
					r.replies = append(r.replies, ev.reply)
				}
			}
		}
		r.advance(now)
		r.flush()
		r.answerViews()
		if r.finished && r.failures == 0 {
			r.s.forget(r)
			return
		}
		timer.Reset(r.wakeIn(r.s.now()))
	}
}

// gather drains the events waiting after the first one. When the last commit was slow (a
// large run), it waits up to half that long for more, so that one commit carries the
// events of several jobs.
func (r *activeRun) gather(batch []*runEvent) []*runEvent {
	window := min(r.lastCommit/2, 10*time.Millisecond)
	var deadline <-chan time.Time
	if window > time.Millisecond && len(batch) > 0 && batch[0].kind != evView {
		t := time.NewTimer(window)
		defer t.Stop()
		deadline = t.C
	}
	for len(batch) < maxBatch {
		select {
		case ev := <-r.events:
			batch = append(batch, ev)
			continue
		default:
		}
		if deadline == nil {
			return batch
		}
		select {
		case ev := <-r.events:
			batch = append(batch, ev)
		case <-deadline:
			return batch
		}
	}
	return batch
}

// apply records one event in the run's state.
func (r *activeRun) apply(ev *runEvent, now time.Time) error {
	switch ev.kind {
	case evStart:
	case evAssigned:
		rec := r.jobs[ev.jobID]
		if rec == nil {
			return nil // the job ended meanwhile
		}
		rec.Status, rec.AgentID, rec.AgentName = jobAssigned, ev.agentID, ev.agentName
		jp := r.progress(ev.jobID)
		jp.AgentID, jp.AgentName, jp.Assigned = ev.agentID, ev.agentName, now.UTC()
	case evRequeued:
		rec := r.jobs[ev.jobID]
		if rec == nil {
			return nil
		}
		rec.Status, rec.AgentID, rec.AgentName = jobQueued, 0, ""
		if jp := r.tl.Jobs[ev.jobID]; jp != nil && jp.Started.IsZero() {
			jp = r.progress(ev.jobID)
			jp.AgentID, jp.AgentName, jp.Assigned = 0, "", time.Time{}
		}
	case evAccepted:
		if r.jobs[ev.jobID] == nil {
			return nil
		}
		r.jobStarted(ev.jobID, now)
	case evEvents:
		if r.jobs[ev.jobID] == nil {
			return jobNotFound(ev.jobID)
		}
		applied, err := r.applyEvents(ev.jobID, ev.batch, now)
		if err != nil {
			return err
		}
		r.dirtyTL = r.dirtyTL || applied
	case evComplete:
		if r.jobs[ev.jobID] == nil {
			return jobNotFound(ev.jobID)
		}
		if ev.batch != nil {
			if _, err := r.applyEvents(ev.jobID, ev.batch, now); err != nil {
				return err
			}
		}
		if n := len(ev.report.Attachments); n > 0 {
			// Timeline attachments stay on the agent: say so rather than drop them quietly.
			jp := r.progress(ev.jobID)
			jp.Issues = append(jp.Issues, Issue{Type: "warning", Message: fmt.Sprintf(
				"%d attachment(s) from ##vso[task.uploadfile], task.addattachment, task.uploadsummary or build.uploadlog were not uploaded: Keystage does not store timeline attachments yet.", n)})
		}
		r.finishJob(ev.jobID, *ev.report, "", now)
	case evLost:
		if r.jobs[ev.jobID] == nil {
			return nil
		}
		rep := job.Report{Result: job.Failed, Errors: 1}
		if _, _, in := r.st.Instance(ev.jobID); in != nil && in.CancelSent && r.st.Canceled {
			rep.Result = job.Canceled
		}
		r.finishJob(ev.jobID, rep, ev.reason, now)
	case evCancel:
		if r.st.Done() {
			return nil
		}
		r.st.Cancel(now)
		r.canceling = true
		r.dirtyState, r.dirtyRec = true, true
		if r.held {
			r.held = false // a canceled run stops waiting; Next skips what cancel allows
			r.tl.cancelCheckpoints(now)
			r.dirtyTL = true
		}
	case evCheckpoint:
		return r.decide(ev.checkpointID, ev.approved, now)
	}
	return nil
}

// finishJob reports a job's end to the state and retires its record.
func (r *activeRun) finishJob(jobID string, rep job.Report, issue string, now time.Time) {
	if err := r.st.JobFinished(jobID, rep, now); err != nil {
		r.s.log.Warn("job report not applied", "run", r.id, "job", jobID, "err", err)
	}
	r.jobEnded(jobID, rep.Result, issue, now)
	r.retire(jobID)
	r.dirtyState, r.dirtyTL, r.dirtyRec = true, true, true
}

// retire deletes a job's record and lease at the next commit.
func (r *activeRun) retire(jobID string) {
	if _, ok := r.jobs[jobID]; !ok {
		return
	}
	delete(r.jobs, jobID)
	delete(r.cancelAt, jobID)
	r.jobDeletes = append(r.jobDeletes, jobID)
	ls := r.s.leases
	r.after = append(r.after, func() { ls.end(jobID) })
}

// advance calls Next until the state has nothing more to do right now, acting on each
// action.
func (r *activeRun) advance(now time.Time) {
	if r.held {
		return
	}
	for range 1000 {
		acts := r.st.Next(now)
		if len(acts) == 0 {
			break
		}
		r.dirtyState, r.dirtyRec, r.dirtyTL = true, true, true
		for _, a := range acts {
			r.act(a, now)
		}
	}
	// Jobs asked to cancel that outlive their cancel timeout are given up for lost.
	for id, at := range r.cancelAt {
		if !now.Before(at) && r.jobs[id] != nil {
			rep := job.Report{Result: job.Canceled, Errors: 1}
			r.finishJob(id, rep, "The job did not stop within its cancel timeout after it was asked to cancel.", now)
			r.advance(now)
			return
		}
	}
}

// act performs one action of the state.
func (r *activeRun) act(a run.Action, now time.Time) {
	switch a.Kind {
	case run.StartJob:
		r.startJob(a, now)
	case run.CancelJob:
		rec := r.jobs[a.JobID]
		if rec == nil {
			return
		}
		if r.s.leases.dequeue(a.JobID) {
			// Never reached an agent: it ends now.
			reason := "The job was canceled before an agent started it."
			if a.Reason == run.ReasonTimeout {
				reason = fmt.Sprintf("The job waited for an agent longer than its timeout of %d minutes.", rec.Request.Job.TimeoutInMinutes)
			}
			r.finishJob(a.JobID, job.Report{Result: job.Canceled}, reason, now)
			return
		}
		grace := rec.Request.Job.CancelTimeoutInMinutes
		if grace <= 0 {
			grace = 5
		}
		r.cancelAt[a.JobID] = now.Add(time.Duration(grace)*time.Minute + r.s.cfg.LeaseDuration)
		id, reason := a.JobID, a.Reason
		r.after = append(r.after, func() { r.s.leases.requestCancel(id, reason) })
	case run.RunCompleted:
		r.finished = true
	}
}

// startJob queues a job instance the state started: it resolves the job's endpoints, adds
// the server's variables, and persists the job record; the job enters its pool's queue
// after the commit.
func (r *activeRun) startJob(a run.Action, now time.Time) {
	req := *a.Request
	pool, ok := r.tl.Pools[poolKey(a.Stage, a.Job)]
	if !ok {
		r.failStart(a.JobID, fmt.Sprintf("Job %s has no agent pool (the pipeline changed while the run was queued).", a.DisplayName), now)
		return
	}
	rec := jobRecord{
		JobID: a.JobID, RunID: r.id, Project: r.project, PlanID: r.rec.PlanID,
		Pipeline: r.rec.Pipeline, Stage: a.Stage, Job: a.Job, Queue: pool.Queue, Demands: pool.Demands,
		Status: jobQueued, Queued: now.UTC(),
	}
	req.Variables = append(req.Variables, r.serverVariables(a.JobID)...)
	if er := r.s.cfg.Endpoints; er != nil {
		eps, err := er.JobEndpoints(r.s.baseCtx, JobContext{Project: r.project, Pipeline: r.rec.Pipeline,
			RunID: r.id, PlanID: r.rec.PlanID, JobID: a.JobID, Stage: a.Stage, Job: a.Job, Request: &req})
		if err != nil {
			r.failStart(a.JobID, userMessage(err), now)
			return
		}
		req.Endpoints = eps
	}
	if msg := r.s.noAgentFor(r.s.baseCtx, rec); msg != "" {
		r.failStart(a.JobID, msg, now)
		return
	}
	rec.Request = req
	r.jobs[a.JobID] = &rec
	r.jobPuts = append(r.jobPuts, rec)
	r.progress(a.JobID)
	ls := r.s.leases
	r.after = append(r.after, func() { ls.track(r, rec) })
}

// failStart ends a job that cannot be queued.
func (r *activeRun) failStart(jobID, msg string, now time.Time) {
	r.jobs[jobID] = &jobRecord{JobID: jobID} // so that finishJob retires it
	r.finishJob(jobID, job.Report{Result: job.Failed, Errors: 1}, msg, now)
}

// userMessage is the message of a fault error, or a generic one.
func userMessage(err error) string {
	fe, _ := fault.As(err)
	return fe.Message
}

// wakeIn returns how long the loop may sleep before a deadline needs it.
func (r *activeRun) wakeIn(now time.Time) time.Duration {
	d := time.Hour
	if r.failures > 0 {
		d = min(d, time.Duration(min(r.failures, 30))*time.Second)
	}
	if t, ok := r.st.Deadline(); ok && !r.held {
		d = min(d, t.Sub(now))
	}
	for _, t := range r.cancelAt {
		d = min(d, t.Sub(now))
	}
	return max(d, time.Millisecond)
}

// deleted stops the run for good: its jobs leave queues and agents, callers get an error.
func (r *activeRun) deleted(batch []*runEvent) {
	for id := range r.jobs {
		r.s.leases.requestCancel(id, run.ReasonCanceled)
		r.s.leases.end(id)
	}
	err := buildNotFound(r.id)
	for _, ev := range batch {
		if ev.reply != nil && ev.kind != evDelete {
			ev.reply <- err
		}
	}
	r.failReplies(err)
	for _, ev := range batch {
		if ev.kind == evDelete && ev.reply != nil {
			ev.reply <- nil
		}
	}
	r.s.forget(r)
}
