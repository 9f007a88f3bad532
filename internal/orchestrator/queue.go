package orchestrator

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// errClosed is returned to pollers when the service stops.
var errClosed = errors.New("orchestrator: the server is shutting down")

// poolID identifies an agent pool across organizations.
type poolID struct {
	org  string
	pool int
}

// waiter is an agent's poll waiting for a job. The queue hands it a job by sending on ch
// (buffered, at most one send) after removing it from the pool's waiters.
type waiter struct {
	caps map[string]string
	ch   chan *lease
}

// poolQueue holds one pool's jobs in queue order and its idle agents in arrival order.
type poolQueue struct {
	jobs    []*lease
	waiters []*waiter
}

// queues are the job queues of every pool. Jobs are leases in state leaseQueued.
type queues struct {
	mu     sync.Mutex
	pools  map[poolID]*poolQueue
	closed chan struct{}
}

func newQueues() *queues {
	return &queues{pools: map[poolID]*poolQueue{}, closed: make(chan struct{})}
}

func (q *queues) pool(k poolID) *poolQueue {
	pq := q.pools[k]
	if pq == nil {
		pq = &poolQueue{}
		q.pools[k] = pq
	}
	return pq
}

// add enqueues a job: the longest-waiting agent whose capabilities satisfy its demands gets
// it at once; otherwise it waits at the back (front when requeued) of its pool's queue.
func (q *queues) add(k poolID, l *lease, front bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	pq := q.pool(k)
	for i, w := range pq.waiters {
		if ok, _ := Satisfied(l.demands, w.caps); ok {
			pq.waiters = append(pq.waiters[:i], pq.waiters[i+1:]...)
			w.ch <- l
			return
		}
	}
	if front {
		pq.jobs = append([]*lease{l}, pq.jobs...)
	} else {
		pq.jobs = append(pq.jobs, l)
	}
}

// remove takes a job out of its queue; it reports false when the job is not there (an agent
// already took it).
func (q *queues) remove(k poolID, l *lease) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	pq := q.pools[k]
	if pq == nil {
		return false
	}
	for i, x := range pq.jobs {
		if x == l {
			pq.jobs = append(pq.jobs[:i], pq.jobs[i+1:]...)
			return true
		}
	}
	return false
}

// take returns the first queued job of pool k that caps satisfy, waiting up to wait for one
// to be enqueued. It returns nil when none came in time, and an error when ctx ended or the
// service closed.
func (q *queues) take(ctx context.Context, k poolID, caps map[string]string, wait time.Duration) (*lease, error) {
	q.mu.Lock()
	pq := q.pool(k)
	for i, l := range pq.jobs {
		if ok, _ := Satisfied(l.demands, caps); ok {
			pq.jobs = append(pq.jobs[:i], pq.jobs[i+1:]...)
			q.mu.Unlock()
			return l, nil
		}
	}
	if wait <= 0 {
		q.mu.Unlock()
		return nil, nil
	}
	w := &waiter{caps: caps, ch: make(chan *lease, 1)}
	pq.waiters = append(pq.waiters, w)
	q.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	var err error
	select {
	case l := <-w.ch:
		return l, nil
	case <-t.C:
	case <-ctx.Done():
		err = ctx.Err()
	case <-q.closed:
		err = errClosed
	}
	// Leave the waiters, unless a job was handed over meanwhile.
	q.mu.Lock()
	for i, x := range pq.waiters {
		if x == w {
			pq.waiters = append(pq.waiters[:i], pq.waiters[i+1:]...)
			q.mu.Unlock()
			return nil, err
		}
	}
	q.mu.Unlock()
	l := <-w.ch
	if err != nil {
		// The poller is gone: the job goes back to the front for the next agent.
		q.add(k, l, true)
		return nil, err
	}
	return l, nil
}

// waiting returns how many jobs are queued in pool k.
func (q *queues) waiting(k poolID) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if pq := q.pools[k]; pq != nil {
		return len(pq.jobs)
	}
	return 0
}

func (q *queues) close() { close(q.closed) }

// noAgentFor returns Azure's error when the job's pool has agents but none can satisfy its
// demands (the job would wait forever), or "". A pool without any agent keeps the job
// queued: an agent may register later.
func (s *Service) noAgentFor(ctx context.Context, rec jobRecord) string {
	if len(rec.Demands) == 0 {
		return ""
	}
	agents, err := s.cfg.Pools.Agents(ctx, rec.Project.OrgID, rec.Queue.PoolID)
	if err != nil || len(agents) == 0 {
		return ""
	}
	var unmet Demand
	for _, a := range agents {
		ok, d := Satisfied(rec.Demands, a.Capabilities)
		if ok {
			return ""
		}
		unmet = d
	}
	all := make([]string, len(rec.Demands))
	for i, d := range rec.Demands {
		all[i] = d.String()
	}
	return "No agent found in pool " + rec.Queue.PoolName + " which satisfies the following demand: " + unmet.String() +
		". All demands: " + strings.Join(all, ", ")
}
