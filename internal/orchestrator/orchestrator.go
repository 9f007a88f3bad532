// Package orchestrator runs pipelines on the server: it queues runs of pipeline definitions,
// drives each run's state machine (internal/run) and persists it with its timeline, logs and
// artifacts, and hands jobs to agents through per-pool queues with leases, heartbeats,
// cancellation and job access tokens.
//
// # Lifecycle
//
// New builds a Service; Start loads every run that had not completed when the server
// stopped and resumes it (queued jobs go back to their queues, running jobs keep their
// agents, which reconnect); Close stops it. Every method is safe for concurrent use.
//
// # Dispatching
//
// Each run that has not completed has one goroutine (its loop) that owns its run.State and
// timeline. The loop sleeps until something happens to the run — it was queued, a job was
// handed out, a job sent events or finished, a lease expired, the run was canceled, a
// checkpoint was resolved, or the State's next deadline (a job timeout) passed — applies the
// events, calls State.Next, persists the result in one storage transaction, and only then
// enqueues new jobs and answers the callers. Nothing polls storage.
//
// Jobs wait in a queue per agent pool. An agent's long-poll takes the oldest job whose
// demands its capabilities satisfy, or waits and is handed the next such job the moment it
// is enqueued. A handed-out job is leased to the agent: the agent must accept it and then
// heartbeat; a lease that is not renewed within Config.LeaseDuration fails the job (or, if it
// was never accepted, puts it back in the queue).
package orchestrator

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

// MAC computes keyed hashes; the barrier implements it.
type MAC interface {
	MAC(purpose string, msg []byte) []byte
}

// Defaults for Config fields left zero.
const (
	DefaultLeaseDuration     = 30 * time.Second
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultPollTimeout       = 50 * time.Second
	DefaultGitTimeout        = 2 * time.Minute
)

// Config configures a Service. Store, MAC, Pools and ServerURL are required.
type Config struct {
	// Store keeps runs, logs and artifacts; it must seal values at rest (the barrier).
	Store storage.Backend
	// MAC derives the job token key and hashes agent credentials.
	MAC MAC
	// Pools resolves pools, queues and agents (the DevOps domain).
	Pools Pools
	// ServerURL is the public base URL (https://host:port); an organization's collection URI
	// is ServerURL/{org}/.
	ServerURL string
	// ProjectPrefix returns the storage prefix of a project's runs; deleting the project
	// removes it. Default "orch/p/{orgID}/{projectID}/".
	ProjectPrefix func(orgID, projectID string) string
	// OrgPrefix returns the storage prefix of an organization's agent credentials. Default
	// "orch/o/{orgID}/".
	OrgPrefix func(orgID string) string
	// Endpoints resolves the service connections a job may use; nil gives jobs none.
	Endpoints EndpointResolver
	// Checks decides whether a run must wait on checkpoints before it starts; nil never
	// holds a run.
	Checks Checker
	// LeaseDuration is how long a job's lease lasts without a heartbeat (and how long a
	// handed-out job may wait to be accepted); HeartbeatInterval is how often agents renew
	// it. An agent that dies mid-job fails the job at most LeaseDuration after its last
	// heartbeat.
	LeaseDuration     time.Duration
	HeartbeatInterval time.Duration
	// PollTimeout bounds one long-poll of an agent for a job.
	PollTimeout time.Duration
	// Git is the git executable used to fetch YAML from Git repositories ("git").
	Git string
	// GitTimeout bounds one fetch.
	GitTimeout time.Duration
	Logger     *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Service is the run orchestrator. Create it with New and start it with Start.
type Service struct {
	cfg       Config
	st        storage.Backend
	log       *slog.Logger
	now       func() time.Time
	serverURL string
	tokenKey  []byte

	queues *queues
	leases *leases
	ids    *requestIDs

	mu         sync.Mutex
	runs       map[int64]*activeRun
	agentCreds *agentCreds
	sessTable  *sessionTable
	closed     bool
	baseCtx    context.Context
	stop       context.CancelFunc
	wg         sync.WaitGroup
}

// New returns a Service; it starts nothing until Start.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.MAC == nil || cfg.Pools == nil {
		return nil, errors.New("orchestrator: Config needs Store, MAC and Pools")
	}
	u, err := url.Parse(cfg.ServerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("orchestrator: server URL %q must be an https URL", cfg.ServerURL)
	}
	if cfg.ProjectPrefix == nil {
		cfg.ProjectPrefix = func(orgID, projectID string) string { return "orch/p/" + orgID + "/" + projectID + "/" }
	}
	if cfg.OrgPrefix == nil {
		cfg.OrgPrefix = func(orgID string) string { return "orch/o/" + orgID + "/" }
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HeartbeatInterval >= cfg.LeaseDuration {
		return nil, fmt.Errorf("orchestrator: heartbeat interval %v must be shorter than the lease %v", cfg.HeartbeatInterval, cfg.LeaseDuration)
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = DefaultPollTimeout
	}
	if cfg.Git == "" {
		cfg.Git = "git"
	}
	if cfg.GitTimeout <= 0 {
		cfg.GitTimeout = DefaultGitTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{
		cfg:       cfg,
		st:        cfg.Store,
		log:       cfg.Logger,
		now:       cfg.Now,
		serverURL: strings.TrimRight(cfg.ServerURL, "/"),
		tokenKey:  cfg.MAC.MAC("orchestrator/job-token/v1", nil),
		runs:      map[int64]*activeRun{},
	}
	s.queues = newQueues()
	s.leases = newLeases(s)
	s.ids = &requestIDs{s: s}
	s.baseCtx, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// Start resumes every run that had not completed: it must be called once, before the
// transports serve requests. ctx bounds only the loading.
func (s *Service) Start(ctx context.Context) error {
	jobEntries, err := storage.ListJSON[jobRecord](ctx, s.st, jobsPrefix, "", 0)
	if err != nil {
		return storageError("load jobs", err)
	}
	jobs := map[int64][]jobRecord{}
	for _, jr := range jobEntries {
		jobs[jr.RunID] = append(jobs[jr.RunID], jr)
	}
	entries, err := s.st.List(ctx, activePrefix, "", 0)
	if err != nil {
		return storageError("load active runs", err)
	}
	for _, e := range entries {
		id, _ := strconv.ParseInt(strings.TrimPrefix(e.Key, activePrefix), 10, 64)
		if err := s.resume(ctx, e.Key, e.Value, jobs[id]); err != nil {
			// One broken run must not keep the server down: it is logged and left alone.
			s.log.Error("cannot resume run", "key", e.Key, "err", err)
		}
	}
	if len(entries) > 0 {
		s.log.Info("resumed runs", "count", len(entries), "jobs", len(jobEntries))
	}
	return nil
}

// Close stops every run loop and lease timer; runs stay persisted and resume on the next
// Start. Agents' polls end with an error.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.leases.close()
	s.queues.close()
	s.wg.Wait()
	return nil
}

// CollectionURI returns an organization's URL with a trailing slash (System.CollectionUri).
func (s *Service) CollectionURI(orgName string) string {
	return s.serverURL + "/" + url.PathEscape(orgName) + "/"
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64url(b)
}
