package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keystage/keystage/internal/server"
)

// TestMain lets testscript run the keystage binary's entry point, and azprobe, as
// commands of the scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"keystage": func() {
			ctx := context.Background()
			os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
		},
		"azprobe": func() { os.Exit(azprobe(os.Args[1:])) },
	})
}

// TestScripts runs the CLI end-to-end scripts in testdata/script. Each script gets its
// own server, started in-process over real HTTPS with a fresh data directory, and its own
// CLI config directory. Scripts sign in with `keystage login` (the local administrator
// credential) like a user on the server's machine.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   filepath.Join("testdata", "script"),
		Setup: startScriptServer,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"capture":  cmdCapture,
		},
	})
}

// startScriptServer starts a server for one script and points the CLI at it.
func startScriptServer(env *testscript.Env) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	dataDir := filepath.Join(env.WorkDir, ".server")
	ctx, cancel := context.WithCancel(context.Background())
	level := slog.LevelWarn
	if os.Getenv("KEYSTAGE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(ctx, server.Config{Listener: ln, DataDir: dataDir, Logger: log})
	if err != nil {
		cancel()
		return fmt.Errorf("start server: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	env.Defer(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			env.T().Log("server did not stop within 30s")
		}
	})
	if _, err := os.Stat(filepath.Join(dataDir, "admin.json")); err != nil {
		return fmt.Errorf("the server wrote no administrator credential for 'keystage login': %w", err)
	}
	env.Setenv("KEYSTAGE_DATA_DIR", dataDir)
	env.Setenv("KEYSTAGE_CONFIG_DIR", filepath.Join(env.WorkDir, ".keystage"))
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("SERVER_URL", srv.URL())
	env.Setenv("SERVER_PORT", strconv.Itoa(srv.Port()))
	env.Setenv("CA_FILE", srv.CAFile())
	return waitReady(srv)
}

func waitReady(srv *server.Server) error {
	pool, err := loadPool(srv.CAFile())
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hc.Get(srv.URL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdCapture is `capture NAME`: it sets the environment variable NAME to the previous
// command's standard output, trimmed (scripts use it as `$(...)`).
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: capture NAME")
	}
	out := strings.TrimSpace(ts.ReadFile("stdout"))
	if out == "" {
		ts.Fatalf("capture %s: the previous command printed nothing", args[0])
	}
	ts.Setenv(args[0], out)
}

// cmdExitCode is `exitcode N keystage ARGS...`: it runs the command and checks that it
// exits with status N (az's codes: 1 error, 2 usage, 3 missing resource).
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// azprobe is a stand-in Azure SDK application: it builds an unmodified
// DefaultAzureCredential from the environment (as `keystage env` prints it) and reads a
// secret with azsecrets. The one change from a real app is name resolution: the host
// names of the hosts file named by $PROBE_HOSTS_FILE (written by `keystage hosts --apply
// --hosts-file`) stand in for /etc/hosts, which a test must not edit.
//
//	azprobe VAULT_URL SECRET_NAME
func azprobe(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: azprobe VAULT_URL SECRET_NAME")
		return 2
	}
	hosts, err := readHostsFile(os.Getenv("PROBE_HOSTS_FILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "azprobe:", err)
		return 1
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azprobe: credential:", err)
		return 1
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip, ok := hosts[strings.ToLower(host)]; ok {
			addr = net.JoinHostPort(ip, port)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	opts := &azsecrets.ClientOptions{}
	opts.Transport = &http.Client{Transport: tr}
	client, err := azsecrets.NewClient(args[0], cred, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azprobe: client:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := client.GetSecret(ctx, args[1], "", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azprobe: get secret:", err)
		return 1
	}
	fmt.Println(*resp.Value)
	return 0
}

// readHostsFile reads "IP NAME..." lines; comments and blank lines are skipped.
func readHostsFile(path string) (map[string]string, error) {
	m := map[string]string{}
	if path == "" {
		return m, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 || net.ParseIP(fields[0]) == nil {
			continue
		}
		for _, name := range fields[1:] {
			m[strings.ToLower(name)] = fields[0]
		}
	}
	return m, sc.Err()
}

func loadPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", caFile)
	}
	return pool, nil
}
