package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/storage"
)

// Start loads the pending waits and watches them until ctx ends: a wait whose pipeline
// has been permitted the resource resumes its run. It returns after loading; the watch
// runs in its own goroutine.
func (s *Service) Start(ctx context.Context, orch Orchestrator) error {
	if orch == nil {
		return errors.New("checkpoint: Start needs the orchestrator")
	}
	ws, err := storage.ListJSON[Wait](ctx, s.st, pendingPrefix, "", 0)
	if err != nil {
		return fmt.Errorf("checkpoint: load pending waits: %w", err)
	}
	s.mu.Lock()
	s.orch = orch
	for _, w := range ws {
		s.pending[w.key()] = w
	}
	s.mu.Unlock()
	go s.watch(ctx)
	return nil
}

// Notify makes the watch check the pending waits now (permissions may have changed).
func (s *Service) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		s.check(ctx)
	}
}

// Pending returns the runs waiting for a permission, oldest first.
func (s *Service) Pending() []Wait {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Wait, 0, len(s.pending))
	for _, w := range s.pending {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].RunID < out[j].RunID
	})
	return out
}

// check resolves the waits whose pipelines are now permitted; errors are logged and the
// wait retried at the next tick.
func (s *Service) check(ctx context.Context) {
	s.mu.Lock()
	orch := s.orch
	ws := make([]Wait, 0, len(s.pending))
	for _, w := range s.pending {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	if orch == nil {
		return
	}
	for _, w := range ws {
		if ctx.Err() != nil {
			return
		}
		if err := s.checkWait(ctx, orch, w); err != nil {
			s.log.WarnContext(ctx, "checkpoint: checking a pending wait failed", "run", w.RunID, "resource", w.resource(), "err", err)
		}
	}
}

func (s *Service) checkWait(ctx context.Context, orch Orchestrator, w Wait) error {
	org, err := s.devops.Organization(ctx, w.Project.OrgID)
	if errors.Is(err, devops.ErrNotFound) {
		return s.drop(ctx, w)
	}
	if err != nil {
		return err
	}
	ok, err := s.devops.IsPipelineAuthorized(ctx, org, w.Project.ID, w.ResourceType, w.ResourceID, w.DefinitionID)
	if errors.Is(err, devops.ErrNotFound) {
		// The project or the resource is gone: the run cannot use it; release the wait so
		// the job fails with the reason.
		ok, err = true, nil
	}
	if err != nil {
		return err
	}
	cps, err := orch.Checkpoints(ctx, w.Project, w.RunID)
	if err != nil {
		if fault.Is(err, fault.NotFound) && s.cfg.Now().Sub(w.Created) > s.cfg.Grace {
			return s.drop(ctx, w)
		}
		if fault.Is(err, fault.NotFound) {
			return nil // the run may still be being queued
		}
		return err
	}
	found, waiting := false, false
	for _, cp := range cps {
		if !strings.EqualFold(cp.Resource, w.resource()) || cp.Kind != orchestrator.CheckpointAuthorization {
			continue
		}
		found = true
		if !cp.Pending {
			continue
		}
		if !ok {
			waiting = true
			continue
		}
		if err := orch.ResolveCheckpoint(ctx, w.Project, w.RunID, cp.ID, true); err != nil && !fault.Is(err, fault.NotFound) {
			return err
		}
		s.log.InfoContext(ctx, "pipeline permitted: run continues", "project", w.Project.Name, "run", w.RunID, "resource", w.resource())
	}
	switch {
	case !found && s.cfg.Now().Sub(w.Created) <= s.cfg.Grace:
		return nil // the run's checkpoints may not be stored yet
	case waiting:
		return nil
	}
	return s.drop(ctx, w)
}

// drop forgets a wait.
func (s *Service) drop(ctx context.Context, w Wait) error {
	if err := s.st.Delete(ctx, w.key()); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.pending, w.key())
	s.mu.Unlock()
	return nil
}
