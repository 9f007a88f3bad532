package orchestrator

import (
	"context"
	"sync"
	"time"
)

// session is an agent process's connection: the agent it is, what it offers, and a timer
// that marks the agent offline when it stops polling and heartbeating.
type session struct {
	t      *sessionTable
	id     string
	agent  agentID
	name   string
	info   AgentInfo
	owner  string
	closed chan struct{}

	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

// sessionTable holds the open sessions, one per agent.
type sessionTable struct {
	s       *Service
	mu      sync.Mutex
	byID    map[string]*session
	byAgent map[agentID]*session
}

func (s *Service) sessions() *sessionTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessTable == nil {
		s.sessTable = &sessionTable{s: s, byID: map[string]*session{}, byAgent: map[agentID]*session{}}
	}
	return s.sessTable
}

// idleLimit is how long a session may go without a poll or heartbeat before its agent is
// considered offline.
func (t *sessionTable) idleLimit() time.Duration {
	return t.s.cfg.PollTimeout + t.s.cfg.LeaseDuration
}

// open replaces the agent's session with a new one.
func (t *sessionTable) open(id agentID, info AgentInfo, owner string) *session {
	sess := &session{t: t, id: randomToken(16), agent: id, name: info.Name, info: info, owner: owner, closed: make(chan struct{})}
	t.mu.Lock()
	old := t.byAgent[id]
	t.byID[sess.id] = sess
	t.byAgent[id] = sess
	t.mu.Unlock()
	if old != nil {
		t.end(old, false)
	}
	sess.timer = time.AfterFunc(t.idleLimit(), func() { t.idle(sess) })
	return sess
}

// lookup returns the open session id of agent id.
func (t *sessionTable) lookup(id agentID, sessionID string) (*session, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sess := t.byID[sessionID]
	if sess == nil || sess.agent != id {
		return nil, sessionGone(sessionID)
	}
	return sess, nil
}

// close ends a session at the agent's request and marks the agent offline.
func (t *sessionTable) close(sess *session) { t.end(sess, true) }

// closeAgent ends the session of agent id, if any (a new registration replaced it).
func (t *sessionTable) closeAgent(id agentID) {
	t.mu.Lock()
	sess := t.byAgent[id]
	t.mu.Unlock()
	if sess != nil {
		t.end(sess, false)
	}
}

// touchAgent records activity of agent id (a heartbeat while it runs a job).
func (t *sessionTable) touchAgent(id agentID) {
	t.mu.Lock()
	sess := t.byAgent[id]
	t.mu.Unlock()
	if sess != nil {
		sess.touch()
	}
}

func (t *sessionTable) idle(sess *session) {
	t.s.log.Info("agent session idle; marking the agent offline", "agent", sess.name)
	t.end(sess, true)
}

// end removes a session, wakes its polls, and optionally marks the agent offline.
func (t *sessionTable) end(sess *session, offline bool) {
	sess.mu.Lock()
	if sess.done {
		sess.mu.Unlock()
		return
	}
	sess.done = true
	if sess.timer != nil {
		sess.timer.Stop()
	}
	close(sess.closed)
	sess.mu.Unlock()
	t.mu.Lock()
	delete(t.byID, sess.id)
	if t.byAgent[sess.agent] == sess {
		delete(t.byAgent, sess.agent)
	} else {
		offline = false // the agent has a newer session
	}
	t.mu.Unlock()
	if offline {
		if err := t.s.cfg.Pools.SetAgentStatus(t.s.baseCtx, sess.agent.org, sess.agent.pool, sess.agent.agent, false); err != nil {
			t.s.log.Warn("mark agent offline", "agent", sess.name, "err", err)
		}
	}
}

// touch postpones the idle timer.
func (sess *session) touch() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if !sess.done && sess.timer != nil {
		sess.timer.Reset(sess.t.idleLimit())
	}
}

func (sess *session) isClosed() bool {
	select {
	case <-sess.closed:
		return true
	default:
		return false
	}
}

// pollContext is ctx, also canceled when the session ends.
func (sess *session) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-sess.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
