package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keystage/keystage/internal/requestid"
)

// metrics are the HTTP metrics every request updates.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keystage_http_requests_total",
			Help: "HTTP requests served, by API surface and status code.",
		}, []string{"api", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keystage_http_request_duration_seconds",
			Help:    "HTTP request latency, by API surface.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"api"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keystage_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight)
	return m
}

// statusWriter records the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (live logs, long polls) flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument wraps an API surface's handler with request ids, access logging, metrics and
// panic recovery. The access log never records query strings or bodies: they can carry
// credentials.
func (s *Server) instrument(api string, h http.Handler) http.Handler {
	requests := map[int]prometheus.Counter{}
	for _, code := range []int{200, 201, 202, 204, 400, 401, 403, 404, 409, 429, 500} {
		requests[code] = s.metrics.requests.WithLabelValues(api, strconv.Itoa(code))
	}
	duration := s.metrics.duration.WithLabelValues(api)
	// The Key Vault data plane logs its requests at debug level: each of its calls is already
	// recorded in its audit trail, and a log line (formatting plus a write system call, about
	// 6 µs on the loaded 2-core machine) is a tenth of a get's server-side cost at the data
	// plane's target rate. Server errors are still logged at info.
	accessLevel := slog.LevelInfo
	if api == "keyvault" {
		accessLevel = slog.LevelDebug
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestid.New()
		w.Header().Set("x-ms-request-id", id)
		if cid := r.Header.Get("x-ms-client-request-id"); cid != "" && len(cid) <= 100 {
			w.Header().Set("x-ms-client-request-id", cid)
		}
		r = r.WithContext(requestid.With(r.Context(), id))
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic serving request", "api", api, "request_id", id, "panic", p)
				if sw.status == 0 {
					http.Error(sw, "internal server error", http.StatusInternalServerError)
				}
			}
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			if c, ok := requests[code]; ok {
				c.Inc()
			} else {
				s.metrics.requests.WithLabelValues(api, strconv.Itoa(code)).Inc()
			}
			elapsed := time.Since(start)
			duration.Observe(elapsed.Seconds())
			level := accessLevel
			if code >= 500 {
				level = slog.LevelInfo
			}
			if s.log.Enabled(r.Context(), level) {
				s.log.LogAttrs(r.Context(), level, "request",
					slog.String("api", api), slog.String("method", r.Method), slog.String("host", r.Host),
					slog.String("path", r.URL.Path), slog.Int("status", code),
					slog.Duration("duration", elapsed), slog.String("request_id", id))
			}
		}()
		h.ServeHTTP(sw, r)
	})
}
