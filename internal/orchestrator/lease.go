package orchestrator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/storage"
)

// Job record statuses (persisted).
const (
	jobQueued   = "queued"
	jobAssigned = "assigned"
)

// jobRecord is a job that is queued or running, persisted at orch/jobs/{jobId} so that a
// restarted server puts it back in its queue or keeps waiting for its agent.
type jobRecord struct {
	JobID    string      `json:"jobId"`
	RunID    int64       `json:"runId"`
	Project  Project     `json:"project"`
	PlanID   string      `json:"planId"`
	Pipeline PipelineRef `json:"pipeline"`
	Stage    string      `json:"stage"`
	Job      string      `json:"job"`
	Queue    QueueRef    `json:"queue"`
	Demands  []Demand    `json:"demands,omitempty"`
	// Request is what the agent runs; its variables include secrets (sealed at rest).
	Request job.Request `json:"request"`
	Status  string      `json:"status"`
	Queued  time.Time   `json:"queued"`
	// Assignment, when Status is jobAssigned.
	AgentID   int       `json:"agentId,omitempty"`
	AgentName string    `json:"agentName,omitempty"`
	SessionID string    `json:"sessionId,omitempty"`
	LockToken string    `json:"lockToken,omitempty"`
	RequestID int64     `json:"requestId,omitempty"`
	Assigned  time.Time `json:"assigned,omitzero"`
}

// leaseState is where a job is between queue and completion.
type leaseState int

const (
	leaseQueued    leaseState = iota // in its pool's queue
	leaseHandedOut                   // sent to an agent, not accepted yet
	leaseRunning                     // accepted; the agent heartbeats
	leaseEnded                       // finished, lost or deleted
)

// lease is the server's hold on one job: its record, where it is, who runs it, until when,
// and whether it must cancel. Fields after mu are guarded by it.
type lease struct {
	run     *activeRun
	demands []Demand
	pool    poolID

	mu          sync.Mutex
	rec         jobRecord
	state       leaseState
	lockedUntil time.Time
	timer       *time.Timer
	cancel      bool
	reason      string
	// wake is closed (and replaced) whenever cancel is set or the lease ends, waking
	// heartbeats that wait.
	wake chan struct{}
}

// leases index every queued or running job by job id.
type leases struct {
	s  *Service
	mu sync.Mutex
	m  map[string]*lease
}

func newLeases(s *Service) *leases { return &leases{s: s, m: map[string]*lease{}} }

// track starts tracking a persisted job: a queued one enters its pool's queue; an assigned
// one (after a restart) waits a full lease for its agent to heartbeat again.
func (ls *leases) track(r *activeRun, rec jobRecord) *lease {
	l := &lease{run: r, rec: rec, demands: rec.Demands, pool: poolID{rec.Project.OrgID, rec.Queue.PoolID}, wake: make(chan struct{})}
	ls.mu.Lock()
	ls.m[rec.JobID] = l
	ls.mu.Unlock()
	if rec.Status == jobAssigned {
		l.mu.Lock()
		l.state = leaseRunning
		l.extend(ls.s.now())
		l.mu.Unlock()
		return l
	}
	ls.s.queues.add(l.pool, l, false)
	return l
}

func (ls *leases) get(jobID string) *lease {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.m[jobID]
}

// extend renews the lease from now; l.mu is held.
func (l *lease) extend(now time.Time) {
	d := l.run.s.cfg.LeaseDuration
	l.lockedUntil = now.Add(d)
	if l.timer == nil {
		jobID := l.rec.JobID
		ls := l.run.s.leases
		l.timer = time.AfterFunc(d, func() { ls.expire(jobID) })
		return
	}
	l.timer.Reset(d)
}

// signal wakes heartbeats; l.mu is held.
func (l *lease) signal() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// expire runs when a lease timer fires: a job never accepted goes back to its queue, a
// running one is lost.
func (ls *leases) expire(jobID string) {
	l := ls.get(jobID)
	if l == nil {
		return
	}
	now := ls.s.now()
	l.mu.Lock()
	if l.state == leaseEnded || l.state == leaseQueued {
		l.mu.Unlock()
		return
	}
	if now.Before(l.lockedUntil) {
		l.timer.Reset(l.lockedUntil.Sub(now))
		l.mu.Unlock()
		return
	}
	agent := l.rec.AgentName
	if l.state == leaseHandedOut && !l.cancel {
		l.state = leaseQueued
		l.rec.Status, l.rec.AgentID, l.rec.AgentName, l.rec.SessionID, l.rec.LockToken = jobQueued, 0, "", "", ""
		rec := l.rec
		l.mu.Unlock()
		ls.s.log.Warn("job not accepted in time; requeued", "job", jobID, "agent", agent)
		if err := storage.PutJSON(ls.s.baseCtx, ls.s.st, jobKey(jobID), rec); err != nil {
			ls.s.log.Error("persist requeued job", "job", jobID, "err", err)
		}
		l.run.send(&runEvent{kind: evRequeued, jobID: jobID})
		ls.s.queues.add(l.pool, l, true)
		return
	}
	l.state = leaseEnded
	l.signal()
	l.mu.Unlock()
	ls.s.log.Warn("job lease expired; the agent is lost", "job", jobID, "agent", agent)
	l.run.send(&runEvent{kind: evLost, jobID: jobID, reason: fmt.Sprintf(
		"We stopped hearing from agent %s. Verify the agent machine is running and has a healthy network connection. Anything that terminates an agent process, starves it for CPU, or blocks its network access can cause this error.", agent)})
}

// end forgets a job: it finished, was lost, or its run is gone. Heartbeats learn it is gone.
func (ls *leases) end(jobID string) {
	ls.mu.Lock()
	l := ls.m[jobID]
	delete(ls.m, jobID)
	ls.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	queued := l.state == leaseQueued
	l.state = leaseEnded
	if l.timer != nil {
		l.timer.Stop()
	}
	l.signal()
	l.mu.Unlock()
	if queued {
		ls.s.queues.remove(l.pool, l)
	}
}

// dequeue takes a queued job out of its queue so that it can end without an agent; it
// reports false when an agent has it.
func (ls *leases) dequeue(jobID string) bool {
	l := ls.get(jobID)
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != leaseQueued {
		return false
	}
	// The poll that takes it checks the state under l.mu, so ending it here is enough even
	// if a poller holds it already.
	ls.s.queues.remove(l.pool, l)
	l.state = leaseEnded
	return true
}

// requestCancel asks the agent of a job to cancel; heartbeats carry it.
func (ls *leases) requestCancel(jobID, reason string) {
	l := ls.get(jobID)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel {
		return
	}
	l.cancel, l.reason = true, reason
	l.signal()
}

// check returns the lease of jobID when agent a holds it with lockToken.
func (ls *leases) check(jobID string, a agentID, lockToken string) (*lease, error) {
	l := ls.get(jobID)
	if l == nil {
		return nil, jobNotFound(jobID)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == leaseEnded {
		return nil, jobNotFound(jobID)
	}
	if l.state == leaseQueued || l.rec.LockToken == "" || l.rec.LockToken != lockToken ||
		l.rec.Project.OrgID != a.org || l.rec.Queue.PoolID != a.pool || l.rec.AgentID != a.agent {
		return nil, lockLost(jobID)
	}
	return l, nil
}

// handOut assigns a queued job to an agent's session and persists the assignment. It
// returns false when the job is no longer queued (canceled meanwhile).
func (ls *leases) handOut(ctx context.Context, l *lease, sess *session) (jobRecord, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != leaseQueued {
		return jobRecord{}, false, nil
	}
	reqID, err := ls.s.ids.next(ctx)
	if err != nil {
		return jobRecord{}, false, err
	}
	rec := l.rec
	now := ls.s.now()
	rec.Status, rec.AgentID, rec.AgentName, rec.SessionID = jobAssigned, sess.agent.agent, sess.name, sess.id
	rec.LockToken, rec.RequestID, rec.Assigned = randomToken(24), reqID, now.UTC()
	if err := storage.PutJSON(ctx, ls.s.st, jobKey(rec.JobID), rec); err != nil {
		return jobRecord{}, false, storageError("assign job", err)
	}
	l.rec = rec
	l.state = leaseHandedOut
	l.extend(now)
	return rec, true, nil
}

// leaseAnswer is what Accept and Heartbeat return; l.mu is held.
func (l *lease) answer() agentproto.Lease {
	return agentproto.Lease{LockedUntil: l.lockedUntil.UTC(), Cancel: l.cancel, Reason: l.reason}
}

// accept marks a handed-out job as started by its agent.
func (ls *leases) accept(jobID string, a agentID, lockToken string) (agentproto.Lease, bool, error) {
	l, err := ls.check(jobID, a, lockToken)
	if err != nil {
		return agentproto.Lease{}, false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.state == leaseHandedOut
	l.state = leaseRunning
	l.extend(ls.s.now())
	return l.answer(), first, nil
}

// heartbeat renews a lease and waits up to wait for a cancel request.
func (ls *leases) heartbeat(ctx context.Context, jobID string, a agentID, lockToken string, wait time.Duration) (agentproto.Lease, error) {
	l, err := ls.check(jobID, a, lockToken)
	if err != nil {
		return agentproto.Lease{Gone: isNotFound(err)}, err
	}
	l.mu.Lock()
	if l.state == leaseHandedOut {
		l.state = leaseRunning
	}
	l.extend(ls.s.now())
	if l.cancel || wait <= 0 {
		ans := l.answer()
		l.mu.Unlock()
		return ans, nil
	}
	wake := l.wake
	l.mu.Unlock()
	if max := ls.s.cfg.LeaseDuration / 2; wait > max {
		wait = max
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
	case <-ls.s.baseCtx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == leaseEnded {
		return agentproto.Lease{Gone: true}, jobNotFound(jobID)
	}
	l.extend(ls.s.now())
	return l.answer(), nil
}

// live reports whether a job is running on an agent (its token is usable).
func (ls *leases) live(jobID string) bool {
	l := ls.get(jobID)
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state == leaseHandedOut || l.state == leaseRunning
}

func (ls *leases) close() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, l := range ls.m {
		l.mu.Lock()
		if l.timer != nil {
			l.timer.Stop()
		}
		l.mu.Unlock()
	}
}

// requestIDs hands out job request ids, reserving them from storage in blocks.
type requestIDs struct {
	s    *Service
	mu   sync.Mutex
	last int64
	max  int64
}

const requestIDBlock = 1000

func (r *requestIDs) next(ctx context.Context) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last >= r.max {
		var hi int64
		err := r.s.st.Update(ctx, func(tx storage.Store) error {
			var err error
			hi, err = nextSeq(ctx, tx, reqSeqKey, requestIDBlock)
			return err
		})
		if err != nil {
			return 0, storageError("reserve request ids", err)
		}
		r.last, r.max = hi-requestIDBlock, hi
	}
	r.last++
	return r.last, nil
}
