// Package listener is the agent process: it registers with a Keystage server's agent pool,
// long-polls for jobs, runs each with the same executor as `keystage run` (internal/agent),
// streams the job's masked log and timeline as it runs, uploads its artifacts, holds its
// lease with heartbeats and obeys cancellation, and reports the result.
//
// A Listener runs one job at a time, like an Azure Pipelines agent; run several (processes
// or Listeners with their own work folders) to run jobs in parallel. It talks to the server
// only through the agent protocol (internal/orchestrator/agentproto) over HTTPS, and
// rides out a server restart: every call is retried while the server is unreachable.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/task"
)

// Config configures a Listener. URL, Pool, Token and Tasks are required.
type Config struct {
	// URL is the organization URL, https://host:port/{organization}.
	URL string
	// Pool is the agent pool's name.
	Pool string
	// Token is a personal access token (or access token) allowed to manage the pool's
	// agents; it is used only to register.
	Token string
	// Name is the agent name; default: the host name.
	Name string
	// WorkDir is the agent's work folder (_work); default "_work" in the current directory.
	WorkDir string
	// Capabilities are user capabilities (--capability name=value), matched by demands
	// together with the system ones (environment variables and Agent.*).
	Capabilities map[string]string
	// Once makes Run return after one job.
	Once bool
	// Tasks is the task registry, task.Builtins() in cmd.
	Tasks []task.Task
	// HTTPClient talks to the server; default: a client trusting the system roots
	// (SSL_CERT_FILE included).
	HTTPClient *http.Client
	// Environ is the environment jobs start from and the system capabilities come from;
	// nil means os.Environ().
	Environ []string
	// Logger receives the listener's own diagnostics.
	Logger *slog.Logger
	// Executor tweaks the job executor's configuration (tests shorten its minute).
	Executor func(*agent.Config)
	// FlushInterval is how often the job's log and timeline are sent while it runs
	// (200 ms).
	FlushInterval time.Duration
}

// Listener is one agent process's connection to the server.
type Listener struct {
	cfg  Config
	c    *client
	log  *slog.Logger
	exe  *agent.Executor
	reg  agentproto.Registered
	sess agentproto.Session
	// artifacts is the executor's artifact store, bound to the running job.
	artifacts *httpArtifacts
}

// New checks cfg and returns a Listener; it does not contact the server.
func New(cfg Config) (*Listener, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") == "":
		return nil, fmt.Errorf("listener: --url must be an organization URL, https://host[:port]/ORGANIZATION (got %q)", cfg.URL)
	case cfg.Pool == "":
		return nil, errors.New("listener: --pool is required")
	case cfg.Token == "":
		return nil, errors.New("listener: --token is required (a personal access token that may manage the pool's agents)")
	case len(cfg.Tasks) == 0:
		return nil, errors.New("listener: Config.Tasks is required")
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = "_work"
	}
	if cfg.WorkDir, err = filepath.Abs(cfg.WorkDir); err != nil {
		return nil, fmt.Errorf("listener: work folder: %w", err)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if cfg.Environ == nil {
		cfg.Environ = os.Environ()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 200 * time.Millisecond
	}
	l := &Listener{cfg: cfg, log: cfg.Logger}
	l.c = &client{http: cfg.HTTPClient, org: strings.TrimRight(cfg.URL, "/"), pat: cfg.Token,
		agent: "keystage-agent/" + agent.AgentVersion + " (" + runtime.GOOS + " " + runtime.GOARCH + ")"}
	return l, nil
}

// Run registers the agent, then runs jobs until ctx ends (SIGINT/SIGTERM: a running job is
// canceled and reported first) or, with Once, after one job. It returns nil on a clean stop.
func (l *Listener) Run(ctx context.Context) error {
	if err := l.register(ctx); err != nil {
		return err
	}
	l.artifacts = &httpArtifacts{c: l.c}
	exeCfg := agent.Config{
		WorkFolder: l.cfg.WorkDir, Tasks: l.cfg.Tasks, Environ: l.cfg.Environ,
		AgentName: l.reg.Name, AgentID: l.reg.AgentID, Logger: l.log,
		Artifacts: l.artifacts,
	}
	if l.cfg.Executor != nil {
		l.cfg.Executor(&exeCfg)
	}
	exe, err := agent.New(exeCfg)
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	l.exe = exe
	if err := l.openSession(ctx); err != nil {
		return err
	}
	defer l.closeSession()
	l.log.Info("listening for jobs", "agent", l.reg.Name, "pool", l.reg.PoolName)
	for ctx.Err() == nil {
		msg, err := l.poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		if msg == nil {
			continue
		}
		l.runJob(ctx, msg)
		if l.cfg.Once {
			break
		}
	}
	return nil
}

// register finds the pool and registers the agent, replacing an agent of the same name.
func (l *Listener) register(ctx context.Context) error {
	var id int
	var found bool
	err := retry(ctx, 5*time.Second, func() (err error) {
		id, found, err = l.c.poolByName(ctx, l.cfg.Pool)
		return err
	})
	if err != nil {
		return fmt.Errorf("listener: find pool %s: %w", l.cfg.Pool, err)
	}
	if !found {
		return fmt.Errorf("listener: agent pool %s does not exist in the organization", l.cfg.Pool)
	}
	l.c.poolID = id
	reg := agentproto.Registration{
		Name: l.cfg.Name, Version: agent.AgentVersion, OSDescription: osDescription(),
		SystemCapabilities: systemCapabilities(l.cfg.Name, l.cfg.WorkDir, l.cfg.Environ),
		UserCapabilities:   l.cfg.Capabilities,
	}
	err = retry(ctx, 5*time.Second, func() error {
		_, err := l.c.do(ctx, http.MethodPost, l.c.poolPath("agentregistrations"), nil, reg, &l.reg)
		return err
	})
	if err != nil {
		return fmt.Errorf("listener: register agent %s in pool %s: %w", l.cfg.Name, l.cfg.Pool, err)
	}
	l.c.token = l.reg.Token
	l.log.Info("agent registered", "agent", l.reg.Name, "id", l.reg.AgentID, "pool", l.reg.PoolName)
	return nil
}

func (l *Listener) openSession(ctx context.Context) error {
	host, _ := os.Hostname()
	req := agentproto.SessionRequest{OwnerName: fmt.Sprintf("%s/%d", host, os.Getpid())}
	err := retry(ctx, 5*time.Second, func() error {
		_, err := l.c.do(ctx, http.MethodPost, l.c.poolPath("sessions"), nil, req, &l.sess)
		return err
	})
	if err != nil {
		return fmt.Errorf("listener: open a session: %w", err)
	}
	return nil
}

// closeSession ends the session so that the server marks the agent offline at once.
func (l *Listener) closeSession() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.c.do(ctx, http.MethodDelete, l.c.poolPath("sessions", l.sess.SessionID), nil, nil, nil); err != nil {
		l.log.Warn("close session", "err", err)
	}
}

// poll waits for one job; nil means none came in time. A session the server forgot (it
// restarted, or another process registered the same agent) is reopened.
func (l *Listener) poll(ctx context.Context) (*agentproto.JobMessage, error) {
	wait := l.sess.PollSeconds
	if wait <= 0 {
		wait = 50
	}
	var msg *agentproto.JobMessage
	err := retry(ctx, 5*time.Second, func() error {
		var m agentproto.JobMessage
		ok, err := l.c.do(ctx, http.MethodGet, l.c.poolPath("sessions", l.sess.SessionID, "job"),
			url.Values{"wait": {fmt.Sprint(wait)}}, nil, &m)
		if gone(err) {
			l.log.Info("session ended on the server; opening a new one")
			return l.openSession(ctx)
		}
		if ok {
			msg = &m
		}
		return err
	})
	return msg, err
}

func osDescription() string {
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				return strings.Trim(v, `"`)
			}
		}
	}
	return runtime.GOOS + " " + runtime.GOARCH
}
