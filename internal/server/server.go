// Package server runs every Keystage API on one HTTPS listener: it opens storage behind the
// encryption barrier, bootstraps the local CA and the default directory on first start,
// wires the domain services to their HTTP surfaces, and shuts down gracefully.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/barrier"
	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/keyvault/kvhttp"
	"github.com/keystage/keystage/internal/pki"
	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/postgres"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

// Defaults for Config fields left empty.
const (
	DefaultAddr        = "127.0.0.1:8443"
	DefaultHostname    = "localhost"
	DefaultVaultSuffix = "vault.localhost"
)

// Config configures a Server. Only DataDir is required.
type Config struct {
	// Addr is the listen address; default DefaultAddr. Ignored when Listener is set.
	Addr string
	// Listener, when set, is used instead of listening on Addr (tests pass 127.0.0.1:0).
	Listener net.Listener
	// DataDir holds the SQLite database, the root key file, the CA certificate and the
	// administrator credential. It is created with mode 0700.
	DataDir string
	// Database is a PostgreSQL URL (postgres:// or postgresql://) or key=value DSN; empty
	// means SQLite in DataDir.
	Database string
	// RootKey, when set, is the 32-byte root key; otherwise it is read from (or, on a fresh
	// database, created in) DataDir/root.key.
	RootKey []byte
	// Hostname is the host name clients use to reach the server; default "localhost".
	Hostname string
	// VaultSuffix is the DNS suffix of vault host names; default "vault.localhost".
	VaultSuffix string
	// ExtraNames are additional DNS names or IP addresses for the server certificate.
	ExtraNames []string
	// KeyVaultThrottle limits requests per vault; the zero value means Azure's limits (4,000
	// transactions and 300 creates per 10 s), Disabled turns throttling off.
	KeyVaultThrottle kvhttp.Throttle
	// KeyVaultSweepInterval is how often soft-deleted secrets past their retention are
	// purged; 0 means every minute.
	KeyVaultSweepInterval time.Duration
	// TrustedIssuers are OIDC issuer URL prefixes whose keys the identity provider may fetch
	// although they are on loopback or private addresses (federated credentials naming a
	// local issuer). The server's own URL is always trusted.
	TrustedIssuers []string
	// IssuerRoots, when set, replaces the system roots for verifying external OIDC issuers'
	// TLS certificates (Keystage's CA is always added).
	IssuerRoots *x509.CertPool
	// VMImagePools maps Azure Pipelines vmImage names (case-insensitive, e.g.
	// "windows-latest") to agent pool names; images not listed run in the hosted pool
	// ("Azure Pipelines") of their organization.
	VMImagePools map[string]string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (cfg Config) withDefaults() Config {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultHostname
	}
	if cfg.VaultSuffix == "" {
		cfg.VaultSuffix = DefaultVaultSuffix
	}
	cfg.VaultSuffix = strings.ToLower(strings.Trim(cfg.VaultSuffix, "."))
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Server is a running Keystage server. Create it with New, run it with Serve, and stop it by
// canceling Serve's context.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	ln       net.Listener
	url      string
	store    *barrier.Barrier
	ca       *pki.Authority
	http     *http.Server
	registry *prometheus.Registry
	metrics  *metrics
	svc      *services
	ready    atomic.Bool
}

// New opens storage, bootstraps a fresh data directory, and prepares the HTTPS server. On
// error everything it opened is closed again.
func New(ctx context.Context, cfg Config) (s *Server, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	cfg = cfg.withDefaults()
	s = &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, registry: prometheus.NewRegistry()}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	if err := ensurePrivateDir(cfg.DataDir); err != nil {
		return nil, err
	}
	s.ln = cfg.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("server: listen: %w", err)
		}
	}
	closers = append(closers, s.ln.Close)
	s.url = publicURL(cfg.Hostname, s.ln.Addr())

	if s.store, err = openStore(ctx, cfg, true); err != nil {
		return nil, err
	}
	closers = append(closers, s.store.Close)
	if err := s.bootstrapTLS(ctx); err != nil {
		return nil, err
	}

	if s.svc, err = s.openServices(ctx); err != nil {
		return nil, err
	}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = newMetrics(s.registry)
	handler, err := s.routes(ctx)
	if err != nil {
		return nil, err
	}
	cert, err := s.ca.ServerCertificate(ctx, s.store, s.certNames(), s.now())
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.http = &http.Server{
		Handler:           handler,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// ARM returns the management plane, for in-process consumers and tests.
func (s *Server) ARM() *arm.Service { return s.svc.arm }

// URL returns the server's public base URL, e.g. https://localhost:8443.
func (s *Server) URL() string { return s.url }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// VaultSuffix returns the DNS suffix of vault host names.
func (s *Server) VaultSuffix() string { return s.cfg.VaultSuffix }

// CAFile returns the path of the CA certificate (PEM) clients should trust.
func (s *Server) CAFile() string { return filepath.Join(s.cfg.DataDir, datadir.CAFile) }

// Serve serves HTTPS until ctx is canceled, then shuts down gracefully (in-flight requests
// get up to 10 seconds) and closes storage.
func (s *Server) Serve(ctx context.Context) error {
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	waitBackground := s.svc.runBackground(bgCtx)
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(s.ln, "", "") }()
	s.ready.Store(true)
	s.log.Info("keystage serving", "url", s.url, "data_dir", s.cfg.DataDir, "database", databaseKind(s.cfg.Database))
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	s.ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(shutdownCtx)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(serveErr, err)
	}
	stopBackground() // after the last request: the audit trail's final flush sees every call
	waitBackground()
	if cerr := s.store.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	s.log.Info("keystage stopped")
	return err
}

func (s *Server) certNames() []string {
	names := []string{"localhost", "127.0.0.1", "::1", s.cfg.VaultSuffix, "*." + s.cfg.VaultSuffix}
	if h := s.cfg.Hostname; h != "localhost" {
		names = append(names, h)
	}
	return append(names, s.cfg.ExtraNames...)
}

func publicURL(host string, addr net.Addr) string {
	port := 443
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port = tcp.Port
	}
	if port == 443 {
		return "https://" + host
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func databaseKind(dsn string) string {
	if dsn == "" {
		return "sqlite"
	}
	return "postgres"
}

func openPhysical(ctx context.Context, cfg Config) (storage.Backend, error) {
	if cfg.Database == "" {
		db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, "keystage.db"), Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		return db, nil
	}
	db, err := postgres.Open(ctx, postgres.Config{DSN: cfg.Database})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return db, nil
}

// ensurePrivateDir creates dir with mode 0700, or tightens an existing one to 0700.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("server: data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("server: data directory: %w", err)
	}
	return nil
}
