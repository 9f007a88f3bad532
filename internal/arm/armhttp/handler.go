// Package armhttp serves Keystage's management plane with Azure Resource Manager's REST
// shapes: paths, api-versions, JSON bodies, error bodies, paging and long-running
// operations, so that the Azure SDK management clients and az work against it unmodified.
package armhttp

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
)

// Authenticator verifies the bearer token of a management request (audience
// https://management.azure.com/ or Keystage's own URL) and returns its caller. Failures are
// fault errors of kind Unauthorized with ARM's codes (AuthenticationFailed,
// InvalidAuthenticationToken, ExpiredAuthenticationToken, ...).
type Authenticator interface {
	Authenticate(r *http.Request) (arm.Caller, error)
}

// Config holds the handler's knobs.
type Config struct {
	// BaseURL is the public URL clients reach the server at, for nextLink and Location
	// headers; empty means https://{Host of the request}.
	BaseURL string
	// PageSize is the number of items per page of a list; 0 means 100.
	PageSize int
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Handler is the ARM-shaped HTTP surface. It serves the paths under /subscriptions,
// /tenants and /providers.
type Handler struct {
	svc   *arm.Service
	auth  Authenticator
	cfg   Config
	log   *slog.Logger
	table []*route
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler for svc.
func New(svc *arm.Service, auth Authenticator, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	h := &Handler{svc: svc, auth: auth, cfg: cfg, log: cfg.Logger}
	h.table = h.routes()
	return h
}

// request is one management request being served.
type request struct {
	h       *Handler
	w       http.ResponseWriter
	r       *http.Request
	caller  arm.Caller
	args    []string // path segments captured by the route
	version string   // api-version
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	caller, err := h.auth.Authenticate(r)
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	rt, args, err := h.route(segs)
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	handle, ok := rt.methods[r.Method]
	if !ok {
		w.Header().Set("Allow", rt.allow())
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{
			Code: "MethodNotAllowed", Message: "The requested method '" + clip(r.Method) + "' is not allowed on this resource.",
		}})
		return
	}
	version, err := checkAPIVersion(rt.family, queryValues(r, "api-version"))
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	q := &request{h: h, w: w, r: r, caller: caller, args: args, version: version}
	if err := handle(q); err != nil {
		writeError(w, r, h.log, err)
	}
}

// splitPath splits an escaped URL path into unescaped segments. A trailing slash is
// ignored; empty segments and segments that unescape to text holding '/' are refused.
func splitPath(escaped string) ([]string, error) {
	p := strings.TrimPrefix(escaped, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, nil
	}
	if len(p) > 8192 {
		return nil, fault.New(fault.BadRequest, "InvalidRequestUri", "The request URI is longer than 8192 characters.")
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || strings.ContainsAny(u, "/\x00") {
			return nil, fault.New(fault.BadRequest, "InvalidRequestUri", "The request URI has an empty or malformed path segment.")
		}
		segs[i] = u
	}
	return segs, nil
}

// baseURL is the URL prefix for links the response carries.
func (q *request) baseURL() string {
	if q.h.cfg.BaseURL != "" {
		return q.h.cfg.BaseURL
	}
	return "https://" + q.r.Host
}

// query returns the first value of query parameter name.
func (q *request) query(name string) string { return Query(q.r, name) }

// Query returns the first value of the query parameter name of r, matching names
// case-insensitively as ARM and Graph do ($skipToken and $skiptoken are one parameter).
func Query(r *http.Request, name string) string {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// queryValues returns every value of query parameter name, matched case-insensitively.
func queryValues(r *http.Request, name string) []string {
	var out []string
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) {
			out = append(out, v...)
		}
	}
	return out
}
