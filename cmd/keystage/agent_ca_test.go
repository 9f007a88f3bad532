package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/pki"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

// TestAgentTrustsTheServerCABesidesTheSystemBundle: an agent on the server's machine must
// trust the local CA without losing the CAs it trusted before (SSL_CERT_FILE replaces the
// system bundle for Go programs, and jobs inherit it).
func TestAgentTrustsTheServerCABesidesTheSystemBundle(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "ca.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ca, err := pki.LoadOrCreate(t.Context(), db, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "ca.pem"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	system := filepath.Join(dir, "system.pem")
	if err := os.WriteFile(system, []byte("# the system bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEYSTAGE_DATA_DIR": dataDir, "SSL_CERT_FILE": system}
	t.Setenv("SSL_CERT_FILE", system)
	work := filepath.Join(dir, "work")
	if err := trustServerCA("", work, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	got := os.Getenv("SSL_CERT_FILE")
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("SSL_CERT_FILE %q: %v", got, err)
	}
	if !bytes.Contains(b, []byte("# the system bundle")) || !bytes.Contains(b, ca.CertPEM()) {
		t.Errorf("bundle %s lacks the system bundle or the server's CA:\n%s", got, b)
	}
	if err := trustServerCA(filepath.Join(dir, "missing.pem"), work, func(string) string { return "" }); err == nil {
		t.Error("a missing --ca-file was accepted")
	}
}
