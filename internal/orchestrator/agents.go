package orchestrator

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/storage"
)

// agentID identifies a registered agent.
type agentID struct {
	org   string
	pool  int
	agent int
}

// Agent is an authenticated agent process, as its credential proves.
type Agent struct {
	OrgID   string
	PoolID  int
	AgentID int
}

func (a Agent) id() agentID { return agentID{a.OrgID, a.PoolID, a.AgentID} }

// agentTokenPurpose domain-separates the MACs of agent credentials.
const agentTokenPurpose = "orchestrator/agent-token/v1"

// agentTokenPrefix starts every agent credential; the ids after it locate the stored MAC.
const agentTokenPrefix = "ksagent1"

// agentCreds caches the MAC of each agent's current credential.
type agentCreds struct {
	mu  sync.Mutex
	mac map[agentID][]byte
}

// RegisterAgent registers an agent process in pool poolID of organization orgID (replacing
// an agent of the same name) and returns its new credential; the previous credential of
// that agent stops working. The caller has authenticated and authorized the registration.
func (s *Service) RegisterAgent(ctx context.Context, orgID string, poolID int, reg agentproto.Registration) (agentproto.Registered, error) {
	info, err := s.cfg.Pools.RegisterAgent(ctx, orgID, poolID, reg)
	if err != nil {
		return agentproto.Registered{}, err
	}
	id := agentID{orgID, poolID, info.ID}
	token := fmt.Sprintf("%s.%s.%d.%d.%s", agentTokenPrefix, orgID, poolID, info.ID, randomToken(32))
	mac := s.cfg.MAC.MAC(agentTokenPurpose, []byte(token))
	if err := s.st.Put(ctx, s.agentTokenKey(orgID, poolID, info.ID), mac); err != nil {
		return agentproto.Registered{}, storageError("register agent", err)
	}
	s.creds().set(id, mac)
	// A registration replaces the agent's previous process: its session ends.
	s.sessions().closeAgent(id)
	s.log.Info("agent registered", "org", orgID, "pool", poolID, "agent", info.Name, "id", info.ID)
	return agentproto.Registered{AgentID: info.ID, PoolID: poolID, PoolName: info.PoolName, Name: info.Name, Token: token}, nil
}

// AuthenticateAgent verifies an agent credential (the bearer token of agent protocol
// calls) and returns the agent it belongs to.
func (s *Service) AuthenticateAgent(ctx context.Context, token string) (Agent, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 5 || parts[0] != agentTokenPrefix {
		return Agent{}, unauthorizedAgent()
	}
	pool, err1 := strconv.Atoi(parts[2])
	agent, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || pool <= 0 || agent <= 0 || len(parts[1]) != 36 {
		return Agent{}, unauthorizedAgent()
	}
	id := agentID{parts[1], pool, agent}
	want, ok := s.creds().get(id)
	if !ok {
		b, err := s.st.Get(ctx, s.agentTokenKey(id.org, id.pool, id.agent))
		if errors.Is(err, storage.ErrNotFound) {
			return Agent{}, unauthorizedAgent()
		}
		if err != nil {
			return Agent{}, storageError("authenticate agent", err)
		}
		want = b
		s.creds().set(id, b)
	}
	if !hmac.Equal(want, s.cfg.MAC.MAC(agentTokenPurpose, []byte(token))) {
		return Agent{}, unauthorizedAgent()
	}
	return Agent{OrgID: id.org, PoolID: id.pool, AgentID: id.agent}, nil
}

func (s *Service) creds() *agentCreds {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agentCreds == nil {
		s.agentCreds = &agentCreds{mac: map[agentID][]byte{}}
	}
	return s.agentCreds
}

func (c *agentCreds) get(id agentID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.mac[id]
	return b, ok
}

func (c *agentCreds) set(id agentID, mac []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mac[id] = mac
}

// OpenSession opens the agent's session (closing one it had) and marks it online.
func (s *Service) OpenSession(ctx context.Context, a Agent, req agentproto.SessionRequest) (agentproto.Session, error) {
	info, err := s.cfg.Pools.Agent(ctx, a.OrgID, a.PoolID, a.AgentID)
	if err != nil {
		return agentproto.Session{}, err
	}
	sess := s.sessions().open(a.id(), info, req.OwnerName)
	if err := s.cfg.Pools.SetAgentStatus(ctx, a.OrgID, a.PoolID, a.AgentID, true); err != nil {
		s.log.Warn("mark agent online", "agent", info.Name, "err", err)
	}
	return agentproto.Session{SessionID: sess.id, AgentID: a.AgentID, PollSeconds: int(s.cfg.PollTimeout / time.Second)}, nil
}

// CloseSession closes the agent's session and marks it offline.
func (s *Service) CloseSession(ctx context.Context, a Agent, sessionID string) error {
	sess, err := s.sessions().lookup(a.id(), sessionID)
	if err != nil {
		return err
	}
	s.sessions().close(sess)
	return nil
}

// Poll waits up to wait (at most Config.PollTimeout) for a job for the agent's session. It
// returns nil when no job came in time. The returned job is leased to the agent, which must
// Accept it within Config.LeaseDuration.
func (s *Service) Poll(ctx context.Context, a Agent, sessionID string, wait time.Duration) (*agentproto.JobMessage, error) {
	sess, err := s.sessions().lookup(a.id(), sessionID)
	if err != nil {
		return nil, err
	}
	if wait > s.cfg.PollTimeout {
		wait = s.cfg.PollTimeout
	}
	deadline := s.now().Add(wait)
	ctx, cancel := sess.pollContext(ctx)
	defer cancel()
	sess.touch()
	defer sess.touch()
	if !sess.info.Enabled {
		// A disabled agent gets no jobs; it keeps polling until it is enabled again.
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		return nil, nil
	}
	for {
		left := deadline.Sub(s.now())
		l, err := s.queues.take(ctx, poolID{a.OrgID, a.PoolID}, sess.info.Capabilities, left)
		if err != nil {
			if errors.Is(err, errClosed) {
				return nil, fault.New(fault.Unavailable, CodeUnavailable, "The server is shutting down; poll again.")
			}
			if sess.isClosed() {
				return nil, sessionGone(sessionID)
			}
			return nil, err
		}
		if l == nil {
			return nil, nil
		}
		rec, ok, err := s.leases.handOut(ctx, l, sess)
		if err != nil {
			s.queues.add(l.pool, l, true)
			return nil, err
		}
		if !ok {
			continue // canceled while queued
		}
		msg, err := s.jobMessage(rec)
		if err != nil {
			return nil, err
		}
		l.run.send(&runEvent{kind: evAssigned, jobID: rec.JobID, agentName: rec.AgentName, agentID: rec.AgentID})
		return msg, nil
	}
}

// jobMessage builds the message that hands a job to its agent, with a fresh job token.
func (s *Service) jobMessage(rec jobRecord) (*agentproto.JobMessage, error) {
	tok, err := s.issueJobToken(rec)
	if err != nil {
		return nil, err
	}
	req := rec.Request
	req.Variables = append(append([]job.Variable(nil), req.Variables...),
		job.Variable{Name: "System.AccessToken", Value: tok, Secret: true, ReadOnly: true})
	return &agentproto.JobMessage{
		MessageType:      agentproto.MessageType,
		RequestID:        rec.RequestID,
		LockToken:        rec.LockToken,
		LeaseSeconds:     int(s.cfg.LeaseDuration / time.Second),
		HeartbeatSeconds: max(1, int(s.cfg.HeartbeatInterval/time.Second)),
		OrgName:          rec.Project.OrgName,
		ProjectID:        rec.Project.ID,
		PlanID:           rec.PlanID,
		TimelineID:       rec.PlanID,
		JobID:            rec.JobID,
		RunID:            rec.RunID,
		Request:          req,
	}, nil
}

// Accept records that the agent started the job it was handed.
func (s *Service) Accept(ctx context.Context, a Agent, jobID string, acc agentproto.Accept) (agentproto.Lease, error) {
	ans, first, err := s.leases.accept(jobID, a.id(), acc.LockToken)
	if err != nil {
		return ans, err
	}
	if first {
		if l := s.leases.get(jobID); l != nil {
			l.run.send(&runEvent{kind: evAccepted, jobID: jobID})
		}
	}
	s.sessions().touchAgent(a.id())
	return ans, nil
}

// Heartbeat renews the job's lease and waits up to wait for a cancel request, which the
// answer carries. An answer with Gone set means the job ended on the server.
func (s *Service) Heartbeat(ctx context.Context, a Agent, jobID, lockToken string, wait time.Duration) (agentproto.Lease, error) {
	s.sessions().touchAgent(a.id())
	return s.leases.heartbeat(ctx, jobID, a.id(), lockToken, wait)
}

// JobEvents applies a batch of the job's events (timeline and log lines), durably, once.
func (s *Service) JobEvents(ctx context.Context, a Agent, jobID string, ev agentproto.Events) error {
	l, err := s.leases.check(jobID, a.id(), ev.LockToken)
	if err != nil {
		return err
	}
	return l.run.call(ctx, &runEvent{kind: evEvents, jobID: jobID, batch: &ev})
}

// CompleteJob ends the job with the executor's report (after applying its last events).
func (s *Service) CompleteJob(ctx context.Context, a Agent, jobID string, c agentproto.Completion) error {
	l, err := s.leases.check(jobID, a.id(), c.LockToken)
	if err != nil {
		return err
	}
	rep := c.Report
	ev := &runEvent{kind: evComplete, jobID: jobID, report: &rep}
	if c.Events.Seq > 0 {
		ev.batch = &c.Events
	}
	return l.run.call(ctx, ev)
}

func sessionGone(id string) error {
	return fault.New(fault.NotFound, CodeSessionNotFound,
		"The agent session %s has ended (the agent registered again, opened another session, or was idle too long); open a new session.", clip(id)).Wrap(ErrNotFound)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func base64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
