// Package servertest starts the real Keystage server in-process, over real HTTPS, for
// integration tests, and gives tests what real clients need to reach it: its URL, a CA pool,
// an HTTP client that resolves vault host names to it, and the administrator credential.
package servertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/storage/postgres/pgtest"
)

// Env is a running in-process server.
type Env struct {
	Server  *server.Server
	URL     string // https://localhost:{port}
	Port    int
	DataDir string
	// CAFile is the CA certificate (PEM) to use as SSL_CERT_FILE.
	CAFile string
	CAPool *x509.CertPool
	// Transport dials the server for "localhost" and every "*.{vault suffix}" host, and
	// trusts the server's CA. Client uses it.
	Transport *http.Transport
	Client    *http.Client
	// VaultSuffix is the DNS suffix of vault host names (vault.localhost).
	VaultSuffix string
	// Admin is the administrator credential the server wrote on first start.
	Admin datadir.AdminCredential
}

// Options configure Start.
type Options struct {
	// Database is a PostgreSQL DSN; empty means SQLite in the data directory.
	Database string
	// Config adjusts the server configuration before the server starts.
	Config func(*server.Config)
}

// Start starts a server with a fresh data directory and stops it when the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Listener: ln,
		DataDir:  t.TempDir(),
		Database: opts.Database,
		Logger:   testLogger(t),
	}
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("servertest: start server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("servertest: server stopped with error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("servertest: server did not stop within 30s")
		}
	})

	e := &Env{
		Server:      srv,
		URL:         srv.URL(),
		Port:        srv.Port(),
		DataDir:     cfg.DataDir,
		CAFile:      srv.CAFile(),
		VaultSuffix: srv.VaultSuffix(),
	}
	if e.Admin, err = datadir.ReadAdminCredential(e.DataDir); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	e.CAPool = x509.NewCertPool()
	if !e.CAPool.AppendCertsFromPEM(pem) {
		t.Fatal("servertest: CA file holds no certificate")
	}
	addr := ln.Addr().String()
	e.Transport = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: e.CAPool},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(hostport)
			if err != nil {
				return nil, err
			}
			if host != "localhost" && host != "127.0.0.1" && !strings.HasSuffix(host, "."+e.VaultSuffix) && host != e.VaultSuffix {
				return nil, errors.New("servertest: refusing to dial " + hostport + " (not this server)")
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	e.Client = &http.Client{Transport: e.Transport, Timeout: 60 * time.Second}
	t.Cleanup(e.Transport.CloseIdleConnections)
	waitReady(t, e)
	return e
}

// Each runs fn against a server on SQLite and against one on PostgreSQL (skipped when
// KEYSTAGE_TEST_POSTGRES is unset), each in a subtest.
func Each(t *testing.T, opts Options, fn func(t *testing.T, e *Env)) {
	t.Run("sqlite", func(t *testing.T) {
		o := opts
		o.Database = ""
		fn(t, Start(t, o))
	})
	t.Run("postgres", func(t *testing.T) {
		o := opts
		o.Database = pgtest.DSN(t)
		fn(t, Start(t, o))
	})
}

// VaultURL returns the URL of vault name: https://{name}.{suffix}:{port}/.
func (e *Env) VaultURL(name string) string {
	return "https://" + name + "." + e.VaultSuffix + ":" + strconv.Itoa(e.Port) + "/"
}

func waitReady(t testing.TB, e *Env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := e.Client.Get(e.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("servertest: server not ready: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testLogger logs to the test's output at warning level and above, or everything when
// KEYSTAGE_TEST_LOG is set.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("KEYSTAGE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
