package listener

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// Bounds of what is sent at once: lines of one batch, lines and bytes of one event (one
// log chunk), bytes of one batch. They keep every request under the server's limits.
const (
	maxBatchLines = 5000
	maxEventLines = 1000
	maxEventBytes = 512 << 10
	maxBatchBytes = 2 << 20
)

// reportTimeout bounds how long a finished job's report keeps being retried while the
// server is unreachable (the lease expires long before; this only avoids a stuck agent).
const reportTimeout = 10 * time.Minute

// runJob runs one job the server handed out and reports it. ctx is the listener's: when it
// ends the job is canceled, then reported.
func (l *Listener) runJob(ctx context.Context, msg *agentproto.JobMessage) {
	log := l.log.With("job", msg.JobID, "run", msg.RunID)
	// Calls about the job outlive ctx (a canceled job is still reported) but not the job.
	jobCtx, stopJob := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJob()
	acc := agentproto.Accept{LockToken: msg.LockToken, AgentName: l.reg.Name}
	var lease agentproto.Lease
	err := retry(jobCtx, 2*time.Second, func() error {
		_, err := l.c.do(jobCtx, http.MethodPost, jobPath(msg, "accept"), nil, acc, &lease)
		return err
	})
	if err != nil {
		log.Warn("job not accepted", "err", err)
		return
	}
	log.Info("job started", "name", msg.Request.JobDisplayName)

	// exec is canceled on the server's request, when the lease is lost, or when the
	// listener stops.
	exec, cancelExec := context.WithCancel(jobCtx)
	defer cancelExec()
	stopOnSignal := context.AfterFunc(ctx, cancelExec)
	defer stopOnSignal()
	sink := newEventSink()
	hb := &heartbeat{l: l, msg: msg, cancel: cancelExec}
	hbCtx, stopHeartbeat := context.WithCancel(jobCtx)
	defer stopHeartbeat()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hb.run(hbCtx) }()
	flushDone := make(chan struct{})
	go func() { defer wg.Done(); l.flushLoop(jobCtx, msg, sink, flushDone) }()

	l.artifacts.bind(msg)
	defer l.artifacts.bind(nil)
	rep := l.exe.Execute(exec, msg.Request, sink)
	close(flushDone)
	stopHeartbeat()
	wg.Wait()

	if hb.lost {
		log.Warn("the server dropped the job (its lease expired or its run was deleted); not reporting it")
		return
	}
	// The last events ride with the report; earlier ones, if many are left, go first.
	c := agentproto.Completion{LockToken: msg.LockToken, Report: rep}
	for {
		b := sink.take(msg.LockToken)
		if b == nil {
			break
		}
		b.Seq = sink.nextSeq()
		if sink.empty() {
			c.Events = *b
			break
		}
		err := retry(jobCtx, 5*time.Second, func() error {
			_, err := l.c.do(jobCtx, http.MethodPost, jobPath(msg, "events"), nil, b, nil)
			return err
		})
		if err != nil {
			log.Warn("job events not delivered", "err", err)
			sink.unnumber()
		}
	}
	repCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	err = retry(repCtx, 5*time.Second, func() error {
		_, err := l.c.do(repCtx, http.MethodPost, jobPath(msg, "complete"), nil, c, nil)
		return err
	})
	if err != nil {
		log.Error("could not report the job", "err", err)
		return
	}
	log.Info("job finished", "result", rep.Result)
}

// heartbeat renews the job's lease; each call waits on the server for a cancel request.
type heartbeat struct {
	l      *Listener
	msg    *agentproto.JobMessage
	cancel context.CancelFunc
	// lost is set when the server no longer knows the job; read it after run returns.
	lost bool
}

// run renews the lease until ctx ends or the server drops the job.
func (h *heartbeat) run(ctx context.Context) {
	every := time.Duration(h.msg.HeartbeatSeconds) * time.Second
	if every <= 0 {
		every = 10 * time.Second
	}
	q := url.Values{"lockToken": {h.msg.LockToken}, "wait": {formatSeconds(every)}}
	canceled := false
	for ctx.Err() == nil {
		var lease agentproto.Lease
		start := time.Now()
		_, err := h.l.c.do(ctx, http.MethodPost, jobPath(h.msg, "heartbeat"), q, nil, &lease)
		switch {
		case ctx.Err() != nil:
			return
		case gone(err) || lease.Gone:
			h.lost = true
			h.cancel()
			return
		case err != nil:
			// The server is unreachable or restarting: try again soon; the lease gives
			// LeaseSeconds of room.
			h.l.log.Warn("heartbeat failed", "job", h.msg.JobID, "err", err)
			sleep(ctx, min(every, time.Second))
			continue
		case lease.Cancel && !canceled:
			canceled = true
			h.l.log.Info("the server canceled the job", "job", h.msg.JobID, "reason", lease.Reason)
			h.cancel()
		}
		if lease.Cancel || time.Since(start) < every/4 {
			// Once canceled, or when the server answered at once, pace the renewals.
			sleep(ctx, every/2)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func formatSeconds(d time.Duration) string {
	return time.Duration(d.Round(time.Second)).String()
}

// flushLoop sends the sink's events every FlushInterval until done, in order, each batch
// retried until the server has it.
func (l *Listener) flushLoop(ctx context.Context, msg *agentproto.JobMessage, sink *eventSink, done <-chan struct{}) {
	t := time.NewTicker(l.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		case <-sink.full:
		}
		for {
			b := sink.take(msg.LockToken)
			if b == nil {
				break
			}
			b.Seq = sink.nextSeq()
			err := retry(ctx, 5*time.Second, func() error {
				_, err := l.c.do(ctx, http.MethodPost, jobPath(msg, "events"), nil, b, nil)
				return err
			})
			if err != nil {
				l.log.Warn("job events not delivered", "job", msg.JobID, "err", err)
				if gone(err) || ctx.Err() != nil {
					return
				}
				sink.unnumber() // the batch is lost; its number goes to the next one
			}
		}
	}
}

// eventSink is the agent.Sink of a running job: it turns the executor's calls into
// protocol events, merging consecutive lines into one chunk, for flushLoop to send.
type eventSink struct {
	mu     sync.Mutex
	events []agentproto.Event
	lines  [][]string // lines of events[i], formatted into a chunk when taken
	bytes  []int      // bytes of lines[i]
	count  int        // buffered lines
	seq    int64
	full   chan struct{}
}

func newEventSink() *eventSink { return &eventSink{full: make(chan struct{}, 1)} }

var _ agent.Sink = (*eventSink)(nil)

func wireStep(s agent.Step) *agentproto.Step {
	return &agentproto.Step{Index: s.Index, Name: s.Name, DisplayName: s.DisplayName, Task: s.Task, PreJob: s.PreJob}
}

func (s *eventSink) add(e agentproto.Event, line *string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if line != nil {
		n := len(s.events)
		if n > 0 && s.events[n-1].Kind == e.Kind && sameStep(s.events[n-1].Step, e.Step) &&
			len(s.lines[n-1]) < maxEventLines && s.bytes[n-1] < maxEventBytes {
			s.lines[n-1] = append(s.lines[n-1], *line)
			s.bytes[n-1] += len(*line) + 1
		} else {
			e.Time = time.Now().UTC()
			s.events = append(s.events, e)
			s.lines = append(s.lines, []string{*line})
			s.bytes = append(s.bytes, len(*line)+1)
		}
		s.count++
		if s.count >= maxBatchLines {
			select {
			case s.full <- struct{}{}:
			default:
			}
		}
		return
	}
	e.Time = time.Now().UTC()
	s.events = append(s.events, e)
	s.lines = append(s.lines, nil)
	s.bytes = append(s.bytes, 0)
}

func sameStep(a, b *agentproto.Step) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Index == b.Index && a.PreJob == b.PreJob
}

// JobLine implements agent.Sink.
func (s *eventSink) JobLine(line string) { s.add(agentproto.Event{Kind: agentproto.JobLines}, &line) }

// StepStarted implements agent.Sink.
func (s *eventSink) StepStarted(st agent.Step) {
	s.add(agentproto.Event{Kind: agentproto.StepStarted, Step: wireStep(st)}, nil)
}

// StepLine implements agent.Sink.
func (s *eventSink) StepLine(st agent.Step, line string) {
	s.add(agentproto.Event{Kind: agentproto.StepLines, Step: wireStep(st)}, &line)
}

// StepFinished implements agent.Sink.
func (s *eventSink) StepFinished(st agent.Step, r job.StepReport) {
	s.add(agentproto.Event{Kind: agentproto.StepFinished, Step: wireStep(st), Report: &r}, nil)
}

// take removes up to maxBatchLines lines' (and maxBatchBytes bytes') worth of events as a
// batch without a sequence number, or returns nil when nothing is buffered.
func (s *eventSink) take(lockToken string) *agentproto.Events {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return nil
	}
	b := &agentproto.Events{LockToken: lockToken}
	n, lines, size := 0, 0, 0
	for n < len(s.events) && len(b.Events) < agentproto.MaxEvents {
		if n > 0 && (lines+len(s.lines[n]) > maxBatchLines || size+s.bytes[n] > maxBatchBytes) {
			break
		}
		size += s.bytes[n]
		e := s.events[n]
		if s.lines[n] != nil {
			e.Lines = string(agentproto.FormatChunk(s.lines[n]))
			lines += len(s.lines[n])
		}
		b.Events = append(b.Events, e)
		n++
	}
	s.events = append([]agentproto.Event(nil), s.events[n:]...)
	s.lines = append([][]string(nil), s.lines[n:]...)
	s.bytes = append([]int(nil), s.bytes[n:]...)
	s.count -= lines
	return b
}

// nextSeq numbers the next batch.
func (s *eventSink) nextSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

// unnumber gives back the last batch number: that batch was dropped.
func (s *eventSink) unnumber() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq--
}

func (s *eventSink) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events) == 0
}
