package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/barrier"
	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/server/servertest"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

func TestHealthReadyMetrics(t *testing.T) {
	servertest.Each(t, servertest.Options{}, func(t *testing.T, e *servertest.Env) {
		for path, want := range map[string]string{
			"/healthz": "ok",
			"/readyz":  "ok",
			"/metrics": "keystage_http_requests_total",
		} {
			resp, err := e.Client.Get(e.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Errorf("GET %s = %d %q..., want 200 containing %q", path, resp.StatusCode, firstLine(body), want)
			}
			if resp.Header.Get("x-ms-request-id") == "" && path != "/metrics" {
				t.Errorf("GET %s: no x-ms-request-id header", path)
			}
		}
	})
}

func TestVaultHostNamesUseTheServerCertificate(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	resp, err := e.Client.Get(e.VaultURL("myvault") + "healthz")
	if err != nil {
		t.Fatalf("TLS to a vault host name: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("vault host got status %d from a non-vault handler", resp.StatusCode)
	}
}

func TestDataDirectoryIsPrivate(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	fi, err := os.Stat(e.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %v, want 0700", perm)
	}
	for _, name := range []string{"root.key", "keystage.db"} {
		fi, err := os.Stat(filepath.Join(e.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s mode = %v, want no group/other access", name, perm)
		}
	}
}

func TestRestartIsIdempotentAndLostRootKeyFailsClosed(t *testing.T) {
	dir := t.TempDir()
	start := func() (*server.Server, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return server.New(context.Background(), server.Config{Listener: ln, DataDir: dir})
	}
	run := func(s *server.Server) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Serve(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(s.CAFile())
	run(s)
	s, err = start()
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	ca2, _ := os.ReadFile(s.CAFile())
	run(s)
	if string(ca1) != string(ca2) {
		t.Error("restart created a new CA")
	}
	if err := os.Remove(filepath.Join(dir, "root.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := start(); err == nil || !strings.Contains(err.Error(), "root key") {
		t.Fatalf("start without the root key = %v, want a refusal naming the root key", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !os.IsNotExist(err) {
		t.Error("a new root key file was created for an initialized database")
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

func TestRotateKeyKeepsDataReadable(t *testing.T) {
	dir := t.TempDir()
	cycle := func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s, err := server.New(context.Background(), server.Config{Listener: ln, DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Serve(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := server.RotateKey(context.Background(), server.Config{DataDir: filepath.Join(dir, "nowhere")}); err == nil {
		t.Error("RotateKey on an empty directory succeeded")
	}
	cycle()
	for want := uint32(2); want <= 3; want++ {
		term, err := server.RotateKey(context.Background(), server.Config{DataDir: dir})
		if err != nil || term != want {
			t.Fatalf("RotateKey = %d, %v; want %d", term, err, want)
		}
	}
	cycle() // the server reads what earlier terms sealed (the CA, the bootstrap records)
}

// TestRotateKeyOnFreshDatabase: rotating the key of a database no server has initialized
// fails and leaves no root key file behind (only serve creates one).
func TestRotateKeyOnFreshDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "keystage.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := server.RotateKey(context.Background(), server.Config{DataDir: dir}); !errors.Is(err, barrier.ErrNotInitialized) {
		t.Errorf("RotateKey on a fresh database = %v, want ErrNotInitialized", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !os.IsNotExist(err) {
		t.Errorf("RotateKey left a root key file for a database it did not initialize (stat: %v)", err)
	}
}

func TestTenantAliasesReachTheIdentityProvider(t *testing.T) {
	e := servertest.Start(t, servertest.Options{})
	for _, alias := range []string{"common", "organizations", "consumers"} {
		resp, err := e.Client.PostForm(e.URL+"/"+alias+"/oauth2/v2.0/token", map[string][]string{
			"grant_type": {"client_credentials"}, "client_id": {"00000000-0000-0000-0000-000000000001"},
			"client_secret": {"x"}, "scope": {"https://vault.azure.net/.default"},
		})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "AADSTS") {
			t.Errorf("POST /%s/oauth2/v2.0/token = %d %s; want 400 with an AADSTS error", alias, resp.StatusCode, body)
		}
	}
}
