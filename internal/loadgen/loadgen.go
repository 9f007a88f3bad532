// Package loadgen drives a Key Vault secrets endpoint over HTTPS with a fixed number of
// keep-alive connections and measures throughput and latency, for `keystage bench secrets`.
package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Operations Run can measure.
const (
	OpGet = "get" // GET /secrets/{name}/ (get latest)
	OpSet = "set" // PUT /secrets/{name}
)

// DefaultAPIVersion is the Key Vault api-version sent when Config.APIVersion is empty, and
// with the challenge request.
const DefaultAPIVersion = "2026-04-01"

// Config configures Run.
type Config struct {
	// VaultURL is https://{vault}.{suffix}[:{port}].
	VaultURL string
	// Connect, when set, is the host:port to dial instead of the vault host (like curl's
	// --connect-to). Empty: dial the vault host, or 127.0.0.1 when it ends in ".localhost"
	// and does not resolve.
	Connect string
	// RootCAs verifies the server; nil means the system roots.
	RootCAs *x509.CertPool
	// Token returns the bearer token to send; it is called once per level.
	Token func(ctx context.Context) (string, error)
	// Op is OpGet or OpSet.
	Op string
	// Connections lists the levels to measure, e.g. 1, 16, 64.
	Connections []int
	// Duration is how long each level is measured, after Warmup.
	Duration, Warmup time.Duration
	// Secret is the secret name read by get and the prefix of the names set writes (one
	// name per connection, so that sets do not contend on one secret).
	Secret string
	// ValueSize is the size of the values set writes (and of the value get reads, which Run
	// creates first).
	ValueSize int
	// APIVersion is sent with every request (DefaultAPIVersion when empty).
	APIVersion string
}

// Result is one level's measurement.
type Result struct {
	Op          string        `json:"op"`
	Connections int           `json:"connections"`
	Requests    int64         `json:"requests"`
	Errors      int64         `json:"errors"`
	Duration    time.Duration `json:"durationNs"`
	PerSecond   float64       `json:"requestsPerSecond"`
	P50         time.Duration `json:"p50Ns"`
	P99         time.Duration `json:"p99Ns"`
	Max         time.Duration `json:"maxNs"`
	// Statuses counts the answers that were not the expected 200, by status (0: transport
	// error).
	Statuses map[int]int64 `json:"statuses,omitempty"`
	// FirstError describes one failure, for the report.
	FirstError string `json:"firstError,omitempty"`
}

func (c *Config) check() error {
	u, err := url.Parse(c.VaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("loadgen: vault URL %q must be https://{vault}.{suffix}[:{port}]", c.VaultURL)
	}
	c.VaultURL = strings.TrimRight(c.VaultURL, "/")
	if c.Op != OpGet && c.Op != OpSet {
		return fmt.Errorf("loadgen: operation %q: want get or set", c.Op)
	}
	if len(c.Connections) == 0 {
		return errors.New("loadgen: no connection counts")
	}
	for _, n := range c.Connections {
		if n < 1 || n > 4096 {
			return fmt.Errorf("loadgen: %d connections: want 1 to 4096", n)
		}
	}
	if c.Duration <= 0 {
		return errors.New("loadgen: duration must be positive")
	}
	if c.Token == nil {
		return errors.New("loadgen: no token source")
	}
	if c.Secret == "" {
		c.Secret = "bench"
	}
	if c.ValueSize <= 0 {
		c.ValueSize = 200
	}
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	return nil
}

// Run measures each level in turn and returns their results. For get it first sets the
// secret it reads.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	dial, err := dialer(cfg)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadgen: token: %w", err)
	}
	value, err := json.Marshal(map[string]string{"value": strings.Repeat("v", cfg.ValueSize), "contentType": "text/plain"})
	if err != nil {
		return nil, err
	}
	if cfg.Op == OpGet {
		w := newWorker(cfg, dial, tok, value, cfg.Secret)
		if status, err := w.do(ctx, http.MethodPut); err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("loadgen: create %s: status %d: %v", cfg.Secret, status, err)
		}
		w.close()
	}
	var out []Result
	for _, n := range cfg.Connections {
		if tok, err = cfg.Token(ctx); err != nil {
			return out, fmt.Errorf("loadgen: token: %w", err)
		}
		r, err := runLevel(ctx, cfg, dial, tok, value, n)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// runLevel runs n workers, each on its own keep-alive connection, for Warmup+Duration and
// measures the Duration part.
func runLevel(ctx context.Context, cfg Config, dial dialFunc, tok string, value []byte, n int) (Result, error) {
	workers := make([]*worker, n)
	for i := range workers {
		name := cfg.Secret
		if cfg.Op == OpSet {
			name = cfg.Secret + "-set-" + strconv.Itoa(i)
		}
		workers[i] = newWorker(cfg, dial, tok, value, name)
	}
	defer func() {
		for _, w := range workers {
			w.close()
		}
	}()
	method := http.MethodGet
	if cfg.Op == OpSet {
		method = http.MethodPut
	}
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	// A request still unanswered 30 s after the end fails the level instead of hanging it.
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(ctx, method, measureFrom, end) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return summarize(cfg.Op, workers, cfg.Duration), nil
}

func summarize(op string, workers []*worker, d time.Duration) Result {
	r := Result{Op: op, Connections: len(workers), Duration: d, Statuses: map[int]int64{}}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.latencies...)
		r.Errors += w.errors
		for s, c := range w.statuses {
			r.Statuses[s] += c
		}
		if r.FirstError == "" {
			r.FirstError = w.firstError
		}
	}
	r.Requests = int64(len(all))
	r.PerSecond = float64(r.Requests) / d.Seconds()
	if len(all) > 0 {
		slices.Sort(all)
		r.P50 = percentile(all, 0.50)
		r.P99 = percentile(all, 0.99)
		r.Max = all[len(all)-1]
	}
	if len(r.Statuses) == 0 {
		r.Statuses = nil
	}
	return r
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dialer returns how workers reach the server.
func dialer(cfg Config) (dialFunc, error) {
	var d net.Dialer
	target := cfg.Connect
	if target == "" {
		u, _ := url.Parse(cfg.VaultURL)
		host := u.Hostname()
		if strings.HasSuffix(host, ".localhost") {
			if _, err := net.DefaultResolver.LookupHost(context.Background(), host); err != nil {
				port := u.Port()
				if port == "" {
					port = "443"
				}
				target = net.JoinHostPort("127.0.0.1", port)
			}
		}
	}
	if target == "" {
		return d.DialContext, nil
	}
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("loadgen: connect address %q: want host:port", target)
	}
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, target)
	}, nil
}

// worker is one connection's request loop.
type worker struct {
	conn       conn
	get, set   []byte // the whole requests, prepared once
	latencies  []time.Duration
	errors     int64
	statuses   map[int]int64
	firstError string
}

func newWorker(cfg Config, dial dialFunc, tok string, body []byte, name string) *worker {
	u, _ := url.Parse(cfg.VaultURL) // checked by Config.check
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	path := "/secrets/" + url.PathEscape(name)
	query := "?api-version=" + url.QueryEscape(cfg.APIVersion)
	auth := "Bearer " + tok
	return &worker{
		conn: conn{dial: dial, addr: addr,
			tlsCfg: &tls.Config{RootCAs: cfg.RootCAs, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}},
		// Get latest with the trailing slash Go clients send.
		get:      requestBytes(http.MethodGet, path+"/"+query, u.Host, auth, nil),
		set:      requestBytes(http.MethodPut, path+query, u.Host, auth, body),
		statuses: map[int]int64{},
	}
}

func (w *worker) close() { w.conn.close() }

// loop sends requests until end, recording those that start at or after measureFrom.
func (w *worker) loop(ctx context.Context, method string, measureFrom, end time.Time) {
	w.latencies = make([]time.Duration, 0, 1<<14)
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		status, err := w.do(ctx, method)
		if t0.Before(measureFrom) {
			continue
		}
		if err != nil || status != http.StatusOK {
			w.errors++
			w.statuses[status]++
			if w.firstError == "" {
				w.firstError = fmt.Sprintf("status %d: %v", status, err)
			}
			continue
		}
		w.latencies = append(w.latencies, time.Since(t0))
	}
}

// do sends one request on the worker's keep-alive connection and reads the answer.
func (w *worker) do(ctx context.Context, method string) (int, error) {
	req := w.get
	if method == http.MethodPut {
		req = w.set
	}
	return w.conn.roundTrip(ctx, req)
}
