package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keystage/keystage/internal/arm/armhttp"
	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/graph"
	"github.com/keystage/keystage/internal/identity/idphttp"
	"github.com/keystage/keystage/internal/keyvault/kvhttp"
)

// routes wires every API surface to its place in the router. This is the one place that
// knows which service answers where.
func (s *Server) routes(ctx context.Context) (http.Handler, error) {
	system := http.NewServeMux()
	system.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	system.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !s.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		if _, err := s.store.List(r.Context(), "pki/", "", 1); err != nil {
			s.log.Warn("readiness check: storage unavailable", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("storage unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	system.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))

	sys := s.instrument("system", system)
	idp, err := idphttp.New(s.svc.identity, idphttp.Config{Hosts: s.authorityHosts(), Now: s.now}, s.log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	mgmtAuth := armhttp.NewTokenAuthenticator(s.svc.identity.Verifier(), s.svc.mgmtAudiences)
	kv, err := kvhttp.New(s.svc.secrets, s.svc.audit, kvhttp.ARMDirectory{ARM: s.svc.arm, GroupsOf: s.svc.directory.GroupsOf},
		s.svc.identity.Verifier(), kvhttp.Config{
			Authority: s.url, Resource: s.svc.vaultResource, Throttle: s.cfg.KeyVaultThrottle, Logger: s.log, Now: s.now,
		})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	identityAPI := s.instrument("identity", idp)
	armAPI := s.instrument("arm", armhttp.New(s.svc.arm, mgmtAuth, armhttp.Config{Logger: s.log}))
	graphAPI := s.instrument("graph", graph.New(s.svc.identity, s.svc.arm, s.store,
		graph.NewTokenAuthenticator(s.svc.identity.Verifier(), append([]string{s.url + "/"}, graph.Audiences...)), graph.Config{Logger: s.log}))
	metadataAPI := s.instrument("arm", armhttp.NewMetadataHandler(s.url, s.cfg.VaultSuffix))
	auditAPI := s.instrument("keystage", &kvhttp.AuditHandler{
		Audit: s.svc.audit, ARM: s.svc.arm, Auth: mgmtAuth, GroupsOf: s.svc.directory.GroupsOf, Logger: s.log,
	})
	rt := &router{
		vaultSuffix: s.cfg.VaultSuffix,
		vault:       s.instrument("keyvault", kv),
		tenant:      identityAPI,
		segments: map[string]http.Handler{
			"healthz": sys,
			"readyz":  sys,
			"metrics": sys,
			"msi":     identityAPI,
			// Entra's tenant aliases: the identity provider answers them with AADSTS errors
			// for app-only flows, so they are never organization names.
			"common":        identityAPI,
			"organizations": identityAPI,
			"consumers":     identityAPI,
			"subscriptions": armAPI,
			"providers":     armAPI,
			"tenants":       armAPI,
			"metadata":      metadataAPI,
			"v1.0":          graphAPI,
			"keystage":      auditAPI, // kvhttp.AuditPath
		},
	}
	devopsAPI, err := s.openDevOps(s.svc.identity.Verifier(), devops.PrincipalRef{TenantID: s.svc.tenantID, ObjectID: s.svc.adminObjectID}, rt)
	if err != nil {
		return nil, err
	}
	rt.org = s.instrument("devops", devopsAPI)
	return rt, nil
}

// authorityHosts are the other host[:port] names clients may use for the identity
// provider: the loopback addresses on the listener's port.
func (s *Server) authorityHosts() []string {
	port := strconv.Itoa(s.Port())
	return []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("localhost", port)}
}
