package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/azurerm"
	"github.com/keystage/keystage/internal/devops/checkpoint"
	"github.com/keystage/keystage/internal/devops/devopshttp"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/orchestrator"
)

// connections runs service connections: each organization's OIDC issuer and token
// endpoint, the connections jobs use (the orchestrator's EndpointResolver), their
// verification and job-scoped tokens, and the pipeline-permission checkpoints (the
// orchestrator's Checker). See docs/service-connections.md.
type connections struct {
	arm    *azurerm.Service
	checks *checkpoint.Service
	oidc   *oidc.Service
	runs   func() *orchestrator.Service
	log    *slog.Logger
}

// openConnections builds them over the DevOps domain; runs returns the orchestrator, which
// is built after them (it needs the resolver and the checker).
func (s *Server) openConnections(svc *devops.Service, runs func() *orchestrator.Service) (*connections, error) {
	log := s.log.With("api", "connections")
	issuer, err := oidc.New(s.store, oidc.Config{ServerURL: s.url, Now: s.now}, log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	jobs := azurerm.JobTokensOf(runs)
	c := &connections{runs: runs, log: log}
	c.arm, err = azurerm.New(s.store, svc, s.svc.identity, issuer, jobs, azurerm.Config{
		ServerURL: s.url, VaultSuffix: s.cfg.VaultSuffix, VaultPort: s.Port(), HTTPClient: s.selfClient(), Now: s.now,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if c.checks, err = checkpoint.New(s.store, svc, checkpoint.Config{Now: s.now}, log); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	svc.OnPermissionsChange(c.checks.Notify) // waiting runs resume as soon as they are permitted
	if c.oidc, err = oidc.NewService(issuer, jobs, c.arm, log); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.svc.conns = c
	return c, nil
}

// register serves the OIDC token endpoint and issuers, connection verification, history
// and job tokens, and approvals on the DevOps surface.
func (c *connections) register(h *devopshttp.Handler) error {
	for _, a := range []devopshttp.Area{
		devopshttp.OIDCArea(h, c.oidc),
		devopshttp.ServiceConnectionArea(h, c.arm, azurerm.RunResultsOf(c.runs)),
		devopshttp.ApprovalsArea(h, c.checks),
	} {
		if err := h.Register(a); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// run watches pending pipeline-permission checkpoints until ctx ends.
func (c *connections) run(ctx context.Context) {
	if err := c.checks.Start(ctx, c.runs()); err != nil {
		c.log.Error("pipeline permission checkpoints are not watched", "err", err)
	}
}

// selfClient reaches this server over HTTPS from inside it (connection verification):
// it trusts Keystage's CA and dials the listener for every host name, vault names
// included.
func (s *Server) selfClient() *http.Client {
	addr := s.ln.Addr().String()
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool(), MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}
