package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/storage/sqlite"
)

func TestServerCertificateVerifiesForAllNames(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	ca, err := LoadOrCreate(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"localhost", "*.vault.localhost", "vault.localhost", "127.0.0.1", "::1"}
	cert, err := ca.ServerCertificate(ctx, db, names, now)
	if err != nil {
		t.Fatal(err)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	block, _ := pem.Decode(ca.CertPEM())
	if block == nil {
		t.Fatal("CertPEM is not PEM")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.CertPEM()) {
		t.Fatal("CA PEM not accepted by a pool")
	}
	for _, host := range []string{"localhost", "myvault.vault.localhost", "127.0.0.1", "::1"} {
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + net.JoinHostPort(host, "1") + "/")
		if err != nil {
			t.Errorf("TLS to %s: %v", host, err)
			continue
		}
		resp.Body.Close()
	}

	// Idempotent: the same CA and server certificate come back.
	ca2, err := LoadOrCreate(ctx, db, now)
	if err != nil || !ca2.cert.Equal(ca.cert) {
		t.Fatalf("second LoadOrCreate gave a different CA (%v)", err)
	}
	again, err := ca2.ServerCertificate(ctx, db, names, now)
	if err != nil || !again.Leaf.Equal(cert.Leaf) {
		t.Errorf("server certificate was reissued without cause (%v)", err)
	}
	// A new name or near expiry reissues.
	more, err := ca2.ServerCertificate(ctx, db, append(names, "keystage.example"), now)
	if err != nil || more.Leaf.Equal(cert.Leaf) {
		t.Errorf("new name did not reissue (%v)", err)
	}
	later, err := ca2.ServerCertificate(ctx, db, names, now.Add(serverValidity-time.Hour))
	if err != nil || later.Leaf.Equal(more.Leaf) {
		t.Errorf("near-expiry certificate was not reissued (%v)", err)
	}
}
