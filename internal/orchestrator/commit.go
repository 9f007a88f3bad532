package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"maps"

	"github.com/keystage/keystage/internal/storage"
)

// Committing: each pass of a run's loop ends with one transaction holding everything the
// pass changed; only then do queued jobs reach agents, callers get answers and readers see
// the change.

// flush persists everything that changed in one transaction, then runs what waited for
// it: enqueuing jobs, ending leases, answering callers, notifying readers.
func (r *activeRun) flush() {
	if !r.dirtyRec && !r.dirtyState && !r.dirtyTL && len(r.dirtyJobs) == 0 && len(r.chunks) == 0 && len(r.jobPuts) == 0 && len(r.jobDeletes) == 0 {
		r.answer(nil)
		return
	}
	now := r.s.now()
	syncRun(r.rec, r.st, r.canceling)
	if r.tl.Rejected && r.rec.Done() {
		r.rec.Result = ResultFailed
	}
	r.tl.ChangeID++
	r.tl.Changed = now.UTC()
	r.rec.LastChanged = now.UTC()
	s, p, id := r.s, r.project, r.id
	chunks, puts, dels, done := r.chunks, r.jobPuts, r.jobDeletes, r.finished
	// Encode before the transaction: fn may run on the storage's writer goroutine and
	// should hold it as briefly as possible.
	type kv struct {
		key string
		val []byte
	}
	var writes []kv
	var err error
	enc := func(key string, v any) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = json.Marshal(v); err == nil {
			writes = append(writes, kv{key, b})
		}
	}
	enc(s.runKey(p, id), r.rec)
	if r.dirtyState {
		enc(s.stateKey(p, id), r.st)
	}
	enc(s.timelineKey(p, id), r.tl)
	for jobID := range r.dirtyJobs {
		if jp := r.tl.Jobs[jobID]; jp != nil {
			enc(s.jobProgressKey(p, id, jobID), jp)
		}
	}
	for _, c := range chunks {
		writes = append(writes, kv{s.chunkKey(p, id, c.logID, c.firstLine), c.data})
	}
	for _, j := range puts {
		enc(jobKey(j.JobID), j)
	}
	var counters map[string]float64
	if len(r.st.Counters) > 0 {
		counters = maps.Clone(r.st.Counters)
	}
	definitionID := r.rec.Pipeline.ID
	if err == nil {
		err = s.st.Update(s.baseCtx, func(tx storage.Store) error {
			for _, w := range writes {
				if err := tx.Put(s.baseCtx, w.key, w.val); err != nil {
					return err
				}
			}
			for _, j := range dels {
				if err := tx.Delete(s.baseCtx, jobKey(j)); err != nil {
					return err
				}
			}
			if counters != nil {
				if err := s.saveCounters(s.baseCtx, tx, p, definitionID, counters); err != nil {
					return err
				}
			}
			if done {
				return tx.Delete(s.baseCtx, activeKey(id))
			}
			return nil
		})
	}
	if err != nil {
		r.failures++
		s.log.Error("persist run", "run", id, "attempt", r.failures, "err", err)
		r.answer(storageError("persist run", err))
		return
	}
	r.failures = 0
	r.lastCommit = s.now().Sub(now)
	r.viewCache = nil
	clear(r.dirtyJobs)
	r.dirtyRec, r.dirtyState, r.dirtyTL, r.linesAdded = false, false, false, false
	r.chunks, r.jobPuts, r.jobDeletes = nil, nil, nil
	after := r.after
	r.after = nil
	for _, f := range after {
		f()
	}
	r.publish()
	r.answer(nil)
	r.broadcast()
}

// answer replies to the callers waiting for the last commit.
func (r *activeRun) answer(err error) {
	for _, c := range r.replies {
		c <- err
	}
	r.replies = nil
}

func (r *activeRun) failReplies(err error) {
	r.answer(err)
	for {
		select {
		case ev := <-r.events:
			if ev.reply != nil {
				ev.reply <- err
			}
		default:
			return
		}
	}
}

// publish makes a snapshot for readers.
func (r *activeRun) publish() {
	sn := &snapshot{rec: *r.rec}
	sn.rec.Tags = append([]string(nil), r.rec.Tags...)
	sn.rec.Issues = append([]Issue(nil), r.rec.Issues...)
	for _, cp := range r.tl.Checkpoints {
		sn.checkpoints = append(sn.checkpoints, *cp)
	}
	r.snap.Store(sn)
}

// answerViews gives waiting readers the committed view.
func (r *activeRun) answerViews() {
	if len(r.viewers) == 0 {
		return
	}
	if r.viewCache == nil && r.failures == 0 {
		v := &viewData{timeline: buildTimeline(r.rec.PlanID, r.st, r.tl, r.s.now()), done: r.rec.Done()}
		v.logs = make([]logMeta, len(r.tl.Logs))
		for i, m := range r.tl.Logs {
			v.logs[i] = *m
			v.logs[i].Parts = append([]int(nil), m.Parts...)
		}
		r.viewCache = v
	}
	for _, c := range r.viewers {
		c <- r.viewCache // nil while storage fails: readers fall back to storage
	}
	r.viewers = nil
}

// viewData asks the loop for the committed view; nil, nil means the loop has ended (the
// run completed) and storage has it.
func (r *activeRun) viewData(ctx context.Context) (*viewData, error) {
	c := make(chan *viewData, 1)
	select {
	case r.events <- &runEvent{kind: evView, view: c}:
	case <-r.quit:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case v := <-c:
		return v, nil
	case <-r.quit:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// saveCounters keeps the largest value counter() gave per prefix.
func (s *Service) saveCounters(ctx context.Context, tx storage.Store, p Project, definitionID int, counters map[string]float64) error {
	key := s.countersKey(p, definitionID)
	stored := map[string]float64{}
	if err := storage.GetJSON(ctx, tx, key, &stored); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	changed := false
	for k, v := range counters {
		if old, ok := stored[k]; !ok || v > old {
			stored[k] = v
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return storage.PutJSON(ctx, tx, key, maps.Clone(stored))
}
