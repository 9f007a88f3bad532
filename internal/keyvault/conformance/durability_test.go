package conformance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keystage/keystage/internal/keyvault/kvhttp"
	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/server/servertest"
)

// Environment of the server child process of TestKill9.
const (
	childDataDir = "KEYSTAGE_TEST_CHILD_DATA_DIR"
	childAddr    = "KEYSTAGE_TEST_CHILD_ADDR"
)

// TestServerChild is the server TestKill9 runs and kills; it does nothing elsewhere.
func TestServerChild(t *testing.T) {
	dir := os.Getenv(childDataDir)
	if dir == "" {
		t.Skip("the server child process of TestKill9")
	}
	srv, err := server.New(context.Background(), server.Config{DataDir: dir, Addr: os.Getenv(childAddr), KeyVaultThrottle: kvhttp.Throttle{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// ack is one acknowledged set.
type ack struct{ name, version, value string }

// writeUntil sets secrets from workers goroutines until stop closes, and returns every set
// the server acknowledged. Failed sets (the server is down) are retried.
func writeUntil(t *testing.T, c *azsecrets.Client, workers int, stop <-chan struct{}) []ack {
	var (
		mu   sync.Mutex
		acks []ack
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprint("durable-", w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				value := fmt.Sprintf("w%d-%d", w, i)
				cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				s, err := c.SetSecret(cctx, name, azsecrets.SetSecretParameters{Value: &value}, nil)
				cancel()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				mu.Lock()
				acks = append(acks, ack{name, s.ID.Version(), value})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return acks
}

// verifyAcks reads back every acknowledged version.
func verifyAcks(t *testing.T, c *azsecrets.Client, acks []ack) {
	t.Helper()
	lost := 0
	for _, a := range acks {
		got, err := c.GetSecret(ctx(t), a.name, a.version, nil)
		if err != nil || *got.Value != a.value {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged %s/%s = %q is lost: %v", a.name, a.version, a.value, err)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged sets lost", lost, len(acks))
	}
	t.Logf("%d acknowledged sets, all durable", len(acks))
}

// TestKill9 kills the server (SQLite) with SIGKILL while sets are in flight, starts it
// again on the same data directory, and reads back every set it had acknowledged.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServerChild$")
		cmd.Env = append(os.Environ(), childDataDir+"="+dir, childAddr+"="+addr)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	child := start()
	e := childEnv(t, dir, addr)
	h := newHarness(t, e)
	h.vault("durable", vaultSpec{})
	c := h.secrets("durable", h.cred, nil)

	stop := make(chan struct{})
	var acks []ack
	done := make(chan struct{})
	go func() { acks = writeUntil(t, c, 16, stop); close(done) }()
	time.Sleep(1500 * time.Millisecond)
	if err := child.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	close(stop)
	<-done
	if len(acks) == 0 {
		t.Fatal("no set was acknowledged before the kill")
	}
	start()
	waitChildReady(t, e)
	verifyAcks(t, c, acks)
}

// childEnv describes a server run by another process, once it is ready.
func childEnv(t *testing.T, dir, addr string) *servertest.Env {
	t.Helper()
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	e := &servertest.Env{
		URL: "https://localhost:" + portStr, Port: port, DataDir: dir, CAFile: filepath.Join(dir, "ca.pem"),
		VaultSuffix: server.DefaultVaultSuffix,
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		pem, err := os.ReadFile(e.CAFile)
		if err == nil {
			e.CAPool = x509.NewCertPool()
			if e.CAPool.AppendCertsFromPEM(pem) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child server wrote no CA file: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.Transport = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: e.CAPool},
		MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	e.Client = &http.Client{Transport: e.Transport, Timeout: 30 * time.Second}
	t.Cleanup(e.Transport.CloseIdleConnections)
	waitChildReady(t, e)
	return e
}

func waitChildReady(t *testing.T, e *servertest.Env) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := e.Client.Get(e.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if _, err := os.Stat(filepath.Join(e.DataDir, "admin.json")); err == nil {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child server is not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPostgresRestart restarts a private PostgreSQL cluster as a crash would (immediate
// shutdown) while sets are in flight, and reads back every set the server acknowledged;
// the server recovers without being restarted. It needs root, a "postgres" user and
// initdb; it is skipped without them unless KEYSTAGE_CI is set.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	pg, err := startPrivateCluster(t)
	if err != nil {
		if os.Getenv("KEYSTAGE_CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	e := servertest.Start(t, servertest.Options{Database: pg.dsn, Config: func(c *server.Config) {
		c.KeyVaultThrottle = kvhttp.Throttle{Disabled: true}
	}})
	h := newHarness(t, e)
	h.vault("durable", vaultSpec{})
	c := h.secrets("durable", h.cred, nil)
	stop := make(chan struct{})
	var acks []ack
	done := make(chan struct{})
	go func() { acks = writeUntil(t, c, 16, stop); close(done) }()
	time.Sleep(time.Second)
	pg.ctl(t, "restart", "-m", "immediate", "-w")
	time.Sleep(time.Second) // the writers go on after the restart: the server recovers
	close(stop)
	<-done
	before := len(acks)
	if before == 0 {
		t.Fatal("no set was acknowledged")
	}
	if _, err := c.SetSecret(ctx(t), "after-restart", azsecrets.SetSecretParameters{Value: ptr("v")}, nil); err != nil {
		t.Fatalf("the server did not recover from the database restart: %v", err)
	}
	verifyAcks(t, c, acks)
}

type privateCluster struct {
	dir, dsn string
	port     int
}

// startPrivateCluster initializes and starts a throwaway PostgreSQL cluster owned by the
// postgres user, stopped when the test ends.
func startPrivateCluster(t *testing.T) (*privateCluster, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("not root: cannot run a private PostgreSQL cluster as the postgres user")
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("no postgres user: %w", err)
	}
	for _, tool := range []string{"initdb", "pg_ctl", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: %w", tool, err)
		}
	}
	base, err := os.MkdirTemp("", "keystage-pg-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	pg := &privateCluster{dir: dir, port: port, dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	if out, err := exec.Command("runuser", "-u", "postgres", "--", "initdb", "-D", dir, "-A", "trust", "-U", "postgres").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	pg.ctl(t, "start", "-w", "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=on", port, dir))
	t.Cleanup(func() { pg.ctl(t, "stop", "-m", "immediate", "-w") })
	return pg, nil
}

func (pg *privateCluster) ctl(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", "pg_ctl", "-D", pg.dir, "-l", filepath.Join(pg.dir, "log")}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("pg_ctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
