// Package devops owns Keystage's Azure DevOps domain: organizations, projects, personal
// access tokens, pipeline definitions, agent pools and queues, service connections and
// pipeline permissions, stored behind the encryption barrier.
//
// # Authorization model
//
// The Keystage administrator (Config.Administrators) manages everything, including
// organizations. An organization's owners manage everything inside it. Job callers (tokens
// the run orchestrator issues to jobs) may only read inside their own project. Every other
// authenticated caller is denied. Transports call Authorize before acting; the service's
// data methods themselves trust their caller (the orchestrator uses them internally).
//
// # Project-scoped data and deletion
//
// Everything that belongs to a project lives under ProjectPrefix(orgID, projectID):
// definitions, queues, permissions, and whatever other packages hang under a project (runs,
// logs, artifacts index …) must be stored there too, under their own sub-prefix
// ("{ProjectPrefix}runs/…"). DeleteProject removes that whole prefix. Data that cannot
// live there (files on disk, in-memory state) is cleaned by hooks registered with
// OnProjectDelete, which run before the prefix is removed. Organization-scoped data of
// other packages goes under OrgPrefix(orgID) + "{area}/" and is removed with the
// organization.
package devops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

// MAC computes keyed hashes; the barrier implements it. Personal access tokens are stored
// only as such MACs.
type MAC interface {
	MAC(purpose string, msg []byte) []byte
}

// Defaults for Config fields left empty.
const (
	DefaultHostedPoolName = "Azure Pipelines"
	DefaultPoolName       = "Default"
	DefaultPATLifetime    = 30 * 24 * time.Hour
	MaxPATLifetime        = 366 * 24 * time.Hour
)

// Config configures a Service. ServerURL is required.
type Config struct {
	// ServerURL is Keystage's public https base URL (https://host:port); links and
	// workload identity issuers are built from it.
	ServerURL string
	// Administrators are the principals that manage everything: the Keystage
	// administrator's service principal.
	Administrators []PrincipalRef
	// ReservedName reports whether a lower-case name is a first path segment the server
	// reserves for other APIs (healthz, subscriptions, …); such names cannot become
	// organizations. Nil reserves nothing beyond the built-in rules.
	ReservedName func(lower string) bool
	// HostedPoolName is the pool every organization gets for Microsoft-hosted images
	// (DefaultHostedPoolName); vmImage names not in VMImagePools map to it.
	HostedPoolName string
	// DefaultPoolName is the self-hosted pool every organization gets (DefaultPoolName).
	DefaultPoolName string
	// VMImagePools maps vmImage names (matched case-insensitively, e.g. "ubuntu-latest")
	// to pool names.
	VMImagePools map[string]string
	// DefaultPATLifetime is the lifetime of a personal access token created without an
	// expiry (DefaultPATLifetime); no token lives longer than MaxPATLifetime.
	DefaultPATLifetime time.Duration
	// ManagedIdentityUse authorizes caller to put the user-assigned managed identity whose
	// client id is clientID (in tenantID) behind a ManagedServiceIdentity service connection:
	// every run the connection is permitted for gets that identity's tokens, so the caller
	// must be allowed to assign the identity (Azure's rule:
	// Microsoft.ManagedIdentity/userAssignedIdentities/assign/action on it). It returns nil
	// or a *fault.Error to answer with. Nil refuses every ManagedServiceIdentity connection.
	ManagedIdentityUse func(ctx context.Context, caller IdentityRef, tenantID, clientID string) error
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Service is the Azure DevOps domain service. It is safe for concurrent use.
type Service struct {
	st        storage.Backend
	mac       MAC
	cfg       Config
	serverURL string
	now       func() time.Time
	log       *slog.Logger
	admins    map[PrincipalRef]bool
	vmImages  map[string]string

	hooksMu   sync.Mutex
	hooks     []ProjectDeleteHook
	permHooks []func()
}

// New returns a Service over st, which must seal values at rest (the barrier), hashing
// personal access tokens with mac.
func New(st storage.Backend, mac MAC, cfg Config, logger *slog.Logger) (*Service, error) {
	if st == nil || mac == nil {
		return nil, errors.New("devops: New needs storage and a MAC")
	}
	u, err := url.Parse(cfg.ServerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("devops: server URL %q must be an https URL", cfg.ServerURL)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HostedPoolName == "" {
		cfg.HostedPoolName = DefaultHostedPoolName
	}
	if cfg.DefaultPoolName == "" {
		cfg.DefaultPoolName = DefaultPoolName
	}
	if strings.EqualFold(cfg.HostedPoolName, cfg.DefaultPoolName) {
		return nil, fmt.Errorf("devops: hosted and default pools must differ (both %q)", cfg.HostedPoolName)
	}
	if cfg.DefaultPATLifetime <= 0 {
		cfg.DefaultPATLifetime = DefaultPATLifetime
	}
	if cfg.DefaultPATLifetime > MaxPATLifetime {
		cfg.DefaultPATLifetime = MaxPATLifetime
	}
	s := &Service{
		st: st, mac: mac, cfg: cfg, now: cfg.Now, log: logger,
		serverURL: strings.TrimRight(cfg.ServerURL, "/"),
		admins:    map[PrincipalRef]bool{},
		vmImages:  map[string]string{},
	}
	for _, a := range cfg.Administrators {
		ref, err := a.normalized()
		if err != nil {
			return nil, fmt.Errorf("devops: administrator: %w", err)
		}
		s.admins[ref] = true
	}
	for image, pool := range cfg.VMImagePools {
		if err := checkPoolName(pool); err != nil {
			return nil, fmt.Errorf("devops: vmImage %q: %w", image, err)
		}
		s.vmImages[strings.ToLower(image)] = pool
	}
	return s, nil
}

// ServerURL returns the public base URL without a trailing slash.
func (s *Service) ServerURL() string { return s.serverURL }

// OrgURL returns the organization's URL, "{ServerURL}/{name}", the base URL clients use.
func (s *Service) OrgURL(org Organization) string {
	return s.serverURL + "/" + url.PathEscape(org.Name)
}

// CollectionURI returns the organization's URL with a trailing slash, the value of the
// System.CollectionUri variable.
func (s *Service) CollectionURI(org Organization) string { return s.OrgURL(org) + "/" }

// ProjectDeleteHook cleans data of another package that does not live under the project's
// storage prefix. It runs before the prefix is removed; an error aborts the deletion, which
// a retry resumes (hooks must therefore be idempotent).
type ProjectDeleteHook func(ctx context.Context, org Organization, p Project) error

// OnProjectDelete registers a hook run by every project (and organization) deletion. Call
// it while wiring, before the server serves requests.
func (s *Service) OnProjectDelete(h ProjectDeleteHook) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.hooks = append(s.hooks, h)
}

// OnPermissionsChange registers fn, called after every committed change of pipeline
// permissions (so that runs waiting for a permission can resume at once). fn must not block.
// Call it while wiring, before the server serves requests.
func (s *Service) OnPermissionsChange(fn func()) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.permHooks = append(s.permHooks, fn)
}

func (s *Service) permissionsChanged() {
	s.hooksMu.Lock()
	hooks := append([]func(){}, s.permHooks...)
	s.hooksMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

func (s *Service) projectHooks() []ProjectDeleteHook {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	return append([]ProjectDeleteHook(nil), s.hooks...)
}
