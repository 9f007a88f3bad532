package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/run"
	"github.com/keystage/keystage/internal/storage"
)

// LogInfo describes one log of a run: a task's, or a job's (all its tasks' lines in order).
type LogInfo struct {
	ID          int       `json:"id"`
	RecordID    string    `json:"recordId"`
	LineCount   int       `json:"lineCount"`
	Created     time.Time `json:"createdOn"`
	LastChanged time.Time `json:"lastChangedOn"`
	// Closed is set when the log will not grow any more.
	Closed bool `json:"closed"`
}

// runView is a run's timeline state as readers see it: the active loop's last snapshot or
// what storage holds for a completed run.
type runView struct {
	active   *activeRun
	logs     []logMeta
	done     bool
	timeline func() (Timeline, error)
}

func (s *Service) view(ctx context.Context, p Project, id int64) (*runView, error) {
	if r := s.active(p, id); r != nil {
		v, err := r.viewData(ctx)
		if err != nil {
			return nil, err
		}
		if v != nil {
			return &runView{active: r, logs: v.logs, done: v.done, timeline: func() (Timeline, error) { return v.timeline, nil }}, nil
		}
		// The run just completed (or storage is failing): read what is stored.
	}
	tl, err := s.loadTimelineState(ctx, p, id)
	if err != nil {
		return nil, err
	}
	v := &runView{logs: make([]logMeta, len(tl.Logs)), done: true}
	for i, m := range tl.Logs {
		v.logs[i] = *m
	}
	v.timeline = func() (Timeline, error) {
		var st run.State
		if err := storage.GetJSON(ctx, s.st, s.stateKey(p, id), &st); err != nil {
			return Timeline{}, storageError("load run state", err)
		}
		rec, err := s.Run(ctx, p, id)
		if err != nil {
			return Timeline{}, err
		}
		v.done = rec.Done()
		return buildTimeline(rec.PlanID, &st, tl, s.now()), nil
	}
	return v, nil
}

// loadTimelineState reads a run's stored timeline state and its jobs' progress.
func (s *Service) loadTimelineState(ctx context.Context, p Project, id int64) (*tlState, error) {
	var tl tlState
	err := storage.GetJSON(ctx, s.st, s.timelineKey(p, id), &tl)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, buildNotFound(id)
	}
	if err != nil {
		return nil, storageError("load timeline", err)
	}
	jobs, err := storage.ListJSON[*jobProgress](ctx, s.st, s.runDataPrefix(p, id)+"jobs/", "", 0)
	if err != nil {
		return nil, storageError("load timeline", err)
	}
	tl.Jobs = make(map[string]*jobProgress, len(jobs))
	for _, jp := range jobs {
		tl.Jobs[jp.JobID] = jp
	}
	tl.index()
	return &tl, nil
}

// Timeline returns run id's timeline.
func (s *Service) Timeline(ctx context.Context, p Project, id int64) (Timeline, error) {
	v, err := s.view(ctx, p, id)
	if err != nil {
		return Timeline{}, err
	}
	return v.timeline()
}

func (v *runView) log(id int) (logMeta, bool) {
	if id < 1 || id > len(v.logs) {
		return logMeta{}, false
	}
	return v.logs[id-1], true
}

// lineCount counts a log's lines, a job log's parts included.
func (v *runView) lineCount(m logMeta) int {
	if len(m.Parts) == 0 {
		return m.Lines
	}
	n := 0
	for _, p := range m.Parts {
		if pm, ok := v.log(p); ok {
			n += pm.Lines
		}
	}
	return n
}

func (v *runView) info(m logMeta) LogInfo {
	li := LogInfo{ID: m.ID, RecordID: m.RecordID, LineCount: v.lineCount(m), Created: m.Created, LastChanged: m.Changed, Closed: m.Closed || v.done}
	for _, p := range m.Parts {
		if pm, ok := v.log(p); ok && pm.Changed.After(li.LastChanged) {
			li.LastChanged = pm.Changed
		}
	}
	return li
}

// Logs lists run id's logs by id.
func (s *Service) Logs(ctx context.Context, p Project, id int64) ([]LogInfo, error) {
	v, err := s.view(ctx, p, id)
	if err != nil {
		return nil, err
	}
	out := make([]LogInfo, 0, len(v.logs))
	for _, m := range v.logs {
		out = append(out, v.info(m))
	}
	return out, nil
}

// Log describes one log of run id.
func (s *Service) Log(ctx context.Context, p Project, id int64, logID int) (LogInfo, error) {
	v, err := s.view(ctx, p, id)
	if err != nil {
		return LogInfo{}, err
	}
	m, ok := v.log(logID)
	if !ok {
		return LogInfo{}, logNotFound(id, logID)
	}
	return v.info(m), nil
}

func logNotFound(run int64, logID int) error {
	return notFound(CodeLogNotFound, "Log %d of build %d could not be found.", logID, run)
}

// LogLines returns lines start..end (1-based, inclusive; 0 means the first or last line) of
// a log of run id.
func (s *Service) LogLines(ctx context.Context, p Project, id int64, logID, start, end int) ([]string, error) {
	var out []string
	err := s.ReadLog(ctx, p, id, logID, start, end, func(lines []string) error {
		out = append(out, lines...)
		return nil
	})
	return out, err
}

// ReadLog hands lines start..end of a log to fn, in order, a chunk at a time.
func (s *Service) ReadLog(ctx context.Context, p Project, id int64, logID, start, end int, fn func([]string) error) error {
	v, err := s.view(ctx, p, id)
	if err != nil {
		return err
	}
	m, ok := v.log(logID)
	if !ok {
		return logNotFound(id, logID)
	}
	_, err = s.readLog(ctx, p, id, v, m, start, end, fn)
	return err
}

// readLog reads lines start..end of log m and returns the number of the last line read.
func (s *Service) readLog(ctx context.Context, p Project, id int64, v *runView, m logMeta, start, end int, fn func([]string) error) (int, error) {
	total := v.lineCount(m)
	if start < 1 {
		start = 1
	}
	if end <= 0 || end > total {
		end = total
	}
	if start > end {
		return end, nil
	}
	if len(m.Parts) == 0 {
		return end, s.readChunks(ctx, p, id, m.ID, start, end, fn)
	}
	// A job log: the lines of its parts, one after the other.
	base := 0
	for _, part := range m.Parts {
		pm, ok := v.log(part)
		if !ok {
			continue
		}
		lo, hi := base+1, base+pm.Lines
		base = hi
		if hi < start || lo > end || pm.Lines == 0 {
			continue
		}
		if err := s.readChunks(ctx, p, id, pm.ID, max(start, lo)-lo+1, min(end, hi)-lo+1, fn); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// readChunks reads lines start..end of a stored log.
func (s *Service) readChunks(ctx context.Context, p Project, id int64, logID, start, end int, fn func([]string) error) error {
	prefix := s.logPrefix(p, id, logID)
	after := ""
	if start > maxChunkLines {
		after = s.chunkKey(p, id, logID, start-maxChunkLines)
	}
	for {
		page, err := s.st.List(ctx, prefix, after, 64)
		if err != nil {
			return storageError("read log", err)
		}
		for _, e := range page {
			var first int
			if _, err := fmt.Sscanf(e.Key[len(prefix):], "%d", &first); err != nil {
				return fmt.Errorf("orchestrator: bad log chunk key %s", e.Key)
			}
			if first > end {
				return nil
			}
			lines, err := agentproto.ParseChunk(e.Value)
			if err != nil {
				return fmt.Errorf("orchestrator: log %d chunk %d: %w", logID, first, err)
			}
			last := first + len(lines) - 1
			if last < start {
				continue
			}
			lo, hi := max(start, first)-first, min(end, last)-first+1
			if err := fn(lines[lo:hi]); err != nil {
				return err
			}
			if last >= end {
				return nil
			}
		}
		if len(page) < 64 {
			return nil
		}
		after = page[len(page)-1].Key
	}
}

// FollowLog hands a log's lines to fn from line from (1-based) as they are written, until
// the log is closed (its record completed) or ctx ends. It returns nil when the log is
// complete.
func (s *Service) FollowLog(ctx context.Context, p Project, id int64, logID, from int, fn func([]string) error) error {
	next := max(from, 1)
	for {
		// Subscribe before reading, so that no commit is missed.
		var changed, quit <-chan struct{}
		if r := s.active(p, id); r != nil {
			changed, quit = r.changed(), r.quit
		}
		v, err := s.view(ctx, p, id)
		if err != nil {
			return err
		}
		m, ok := v.log(logID)
		if !ok {
			if v.done {
				return logNotFound(id, logID)
			}
		} else if total := v.lineCount(m); total >= next {
			last, err := s.readLog(ctx, p, id, v, m, next, total, fn)
			if err != nil {
				return err
			}
			next = last + 1
		}
		if v.done || ok && v.info(m).Closed && next > v.lineCount(m) || changed == nil {
			return nil
		}
		select {
		case <-changed:
		case <-quit:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitForChange blocks until run id changes (a commit), the run completes, or ctx ends. It
// returns at once for a completed run. The CLI's follow mode uses it between timeline reads.
func (s *Service) WaitForChange(ctx context.Context, p Project, id int64) error {
	r := s.active(p, id)
	if r == nil {
		_, err := s.Run(ctx, p, id)
		return err
	}
	select {
	case <-r.changed():
	case <-r.quit:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
