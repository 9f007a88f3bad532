package server

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	rt := &router{
		vaultSuffix: s.cfg.VaultSuffix,
		segments: map[string]http.Handler{
			"healthz": sys,
			"readyz":  sys,
			"metrics": sys,
		},
	}
	return rt, nil
}
