package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestDevOpsScripts runs the scripts of testdata/devops: the devops and pipelines commands
// of the CLI against a real server in-process over real HTTPS. tutorial_*.txtar walk
// tutorial-flow.md from §1 to §6, once per identity alternative, with a real `keystage
// agent` process that runs the pipeline's jobs.
//
// The one thing that differs from a deployment is how the agent resolves vault host names
// ({vault}.vault.localhost): on a real machine `keystage hosts --apply` adds them to
// /etc/hosts, which a test must not edit. The scripts give the agent HTTPS_PROXY=$VAULT_PROXY,
// a CONNECT proxy that sends those names to the server's address; Go's proxy rules keep
// every request to localhost (the server itself) direct.
func TestDevOpsScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "devops"),
		Setup: func(env *testscript.Env) error {
			if err := startScriptServer(env); err != nil {
				return err
			}
			proxy, err := startVaultProxy(env.Getenv("SERVER_PORT"))
			if err != nil {
				return err
			}
			env.Defer(proxy.close)
			env.Setenv("VAULT_PROXY", "http://"+proxy.addr())
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"capture":  cmdCapture,
		},
	})
}

// vaultProxy is an HTTP CONNECT proxy that tunnels to *.vault.localhost:{port} (at
// 127.0.0.1) and refuses every other destination.
type vaultProxy struct {
	ln   net.Listener
	port string
	wg   sync.WaitGroup
}

func startVaultProxy(port string) (*vaultProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &vaultProxy{ln: ln, port: port}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *vaultProxy) addr() string { return p.ln.Addr().String() }

func (p *vaultProxy) close() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *vaultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.tunnel(c)
	}
}

func (p *vaultProxy) tunnel(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	host, port, err := net.SplitHostPort(req.Host)
	if req.Method != http.MethodConnect || err != nil || port != p.port || !strings.HasSuffix(strings.ToLower(host), ".vault.localhost") {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, br); up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}
