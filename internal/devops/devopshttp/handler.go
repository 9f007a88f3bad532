// Package devopshttp serves Keystage's Azure DevOps domain with Azure DevOps' REST shapes
// (location discovery, api-versions, {"count","value"} collections, WrappedException
// errors, continuation tokens) closely enough that the azure-devops-go-api v7 clients work
// against it unmodified.
//
// # Layout (for engineers adding areas)
//
// The Handler owns a location table and a route registry; every area lives in its own
// file and adds its routes with Register, without touching the others' files:
//
//	handler.go           Handler, Config, Route, Area, Register, dispatch (this file)
//	request.go           Request: route values, query, body decoding, answers, links
//	locations.go         the location table (devops.md §2) and OPTIONS / ResourceAreas
//	match.go             route templates with optional segments, path splitting
//	apiversion.go        api-version from Accept and ?api-version=, range checks
//	auth.go              Basic/Bearer PATs, Keystage access tokens, the JobTokens hook
//	respond.go           JSON answers, WrappedException errors, body decoding, paging
//	organizations.go     /_apis/organizations (Keystage-specific, server level)
//	pats.go              /{org}/_apis/tokens/pats (Azure's PAT lifecycle shape)
//	projects.go          core: projects, processes; operations
//	pipelines.go         pipelines: create, list, get (definitions seen as pipelines)
//	definitions.go       build: definitions
//	serviceendpoints.go  serviceendpoint: endpoints (org and project routes), types
//	permissions.go       pipelinePermissions; build authorizedresources and definition resources
//	pools.go             distributedtask: pools, agents, queues
//
// To add an area, write a file with a function that returns an Area (its Locations, when
// they are not already in the table, and its Routes) and register it while wiring
// (internal/server/routes.go): h.Register(devopshttp.RunsArea(h, runs)). A route names
// the location it serves (by id) or, for Keystage-specific routes, its own template; it
// declares its Access, which the dispatcher enforces before the route runs. Locations
// listed in the table without a route for the requested method answer 501 naming the
// feature, so clients get a clear error until the route lands.
//
// Dispatch order: split and unescape the path; OPTIONS on _apis or _apis/{area} lists
// locations; find the best template (most literal segments, then fewest dropped
// optional segments); authenticate (Basic or Bearer: PAT, job token, access token); check
// the api-version against the location; resolve the organization (first path segment,
// case-insensitively) and {project} (name or id); authorize; run the route.
package devopshttp

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/keystage/keystage/internal/devops"
)

// Config configures a Handler.
type Config struct {
	// Tokens verifies Keystage access tokens (Basic :<jwt> or Bearer <jwt>); nil refuses
	// access tokens (PATs and job tokens still work).
	Tokens TokenVerifier
	// Audiences are the accepted audiences of access tokens; empty means
	// AzureDevOpsResource and the server URL with and without a trailing slash.
	Audiences []string
	// JobTokens verifies job access tokens; nil until the run orchestrator provides it.
	JobTokens JobTokens
	// PageSize is the largest page of a paged list (100).
	PageSize int
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Access is what a route requires of its caller. The zero Access is invalid, so that no
// route is registered without saying.
type Access int

// Levels of access a route declares.
const (
	_ Access = iota
	// AccessRead: read in the organization (project) — devops.Service.Authorize with
	// devops.Read; on server-level routes, a Keystage administrator.
	AccessRead
	// AccessManage: change in the organization (project) — devops.Read with devops.Manage;
	// on server-level routes, a Keystage administrator.
	AccessManage
	// AccessAuthenticated: any authenticated caller (of the organization, for org-level
	// routes); the route authorizes the caller itself.
	AccessAuthenticated
	// AccessAnonymous: no authentication (discovery documents, key sets).
	AccessAnonymous
)

// Route is one method on one template.
type Route struct {
	// Location is the id of the location the route serves. Keystage-specific routes leave
	// it empty and set Template instead.
	Location string
	// Template is the route template of a Keystage-specific route, relative to the
	// organization ("_apis/tokens/pats") or, with Server, to the server root.
	Template string
	Server   bool
	Method   string
	Access   Access
	// Scope is the personal access token scope area checked for AccessRead and
	// AccessManage ("project", "build", "serviceendpoint", "agentpools"): a PAT with
	// scopes needs vso.{Scope} to read and vso.{Scope}_manage (or _execute) to change.
	Scope  string
	Handle func(*Request) error
}

// Area is a group of routes and the locations they serve.
type Area struct {
	Name      string
	Locations []Location
	Routes    []Route
}

// Handler is the Azure-DevOps-shaped HTTP surface. It is safe for concurrent use; Register
// may be called while serving.
type Handler struct {
	svc       *devops.Service
	cfg       Config
	log       *slog.Logger
	audiences []string

	mu     sync.RWMutex
	locs   []*Location
	byID   map[string]*Location
	org    []*entry // templates relative to the organization
	server []*entry // templates relative to the server root
}

// entry is one template with its location (nil for Keystage-specific templates) and the
// routes registered on it, by method.
type entry struct {
	tmpl    template
	loc     *Location
	methods map[string]*Route
}

var _ http.Handler = (*Handler)(nil)

// New returns the handler for svc with Keystage's own areas registered.
func New(svc *devops.Service, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	h := &Handler{svc: svc, cfg: cfg, log: cfg.Logger, byID: map[string]*Location{}}
	h.audiences = cfg.Audiences
	if len(h.audiences) == 0 {
		h.audiences = []string{AzureDevOpsResource, svc.ServerURL(), svc.ServerURL() + "/"}
	}
	for _, a := range []Area{
		h.locationArea(), h.organizationsArea(), h.patsArea(), h.projectsArea(), h.pipelinesArea(),
		h.definitionsArea(), h.serviceEndpointsArea(), h.permissionsArea(), h.poolsArea(),
	} {
		if err := h.Register(a); err != nil {
			panic(err) // Keystage's own areas are static: a conflict is a programming error
		}
	}
	return h
}

// Service returns the domain service, for areas registered from other files.
func (h *Handler) Service() *devops.Service { return h.svc }

// SetJobTokens installs the verifier of job access tokens (Config.JobTokens) once the run
// orchestrator exists: it needs the domain service, which it gets from this handler.
func (h *Handler) SetJobTokens(j JobTokens) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cfg.JobTokens = j
}

func (h *Handler) jobTokens() JobTokens {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cfg.JobTokens
}

// Register adds an area's locations and routes. A location id or route (template and
// method) registered twice, a route without Access or Handle, or a route naming an
// unknown location is an error and nothing of the area is added.
func (h *Handler) Register(a Area) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byID == nil {
		h.byID = map[string]*Location{}
	}
	newLocs := map[string]*Location{}
	for _, l := range a.Locations {
		l := l
		if err := l.validate(); err != nil {
			return fmt.Errorf("devopshttp: area %s: %w", a.Name, err)
		}
		if h.byID[l.ID] != nil || newLocs[l.ID] != nil {
			return fmt.Errorf("devopshttp: area %s: location %s registered twice", a.Name, l.ID)
		}
		newLocs[l.ID] = &l
	}
	type placed struct {
		rt  Route
		key string
	}
	var routes []placed
	seen := map[string]bool{}
	for _, rt := range a.Routes {
		if rt.Access < AccessRead || rt.Access > AccessAnonymous || rt.Handle == nil || rt.Method == "" {
			return fmt.Errorf("devopshttp: area %s: route %s %s%s needs a method, an Access and a Handle", a.Name, rt.Method, rt.Location, rt.Template)
		}
		rt.Method = strings.ToUpper(rt.Method)
		if (rt.Access == AccessRead || rt.Access == AccessManage) && !rt.Server && rt.Scope == "" {
			return fmt.Errorf("devopshttp: area %s: route %s %s%s needs a Scope", a.Name, rt.Method, rt.Location, rt.Template)
		}
		var key string
		switch {
		case rt.Location != "" && rt.Template == "":
			if h.byID[rt.Location] == nil && newLocs[rt.Location] == nil {
				return fmt.Errorf("devopshttp: area %s: route %s names unknown location %s", a.Name, rt.Method, rt.Location)
			}
			key = "loc:" + rt.Location
		case rt.Location == "" && rt.Template != "":
			key = fmt.Sprintf("tmpl:%v:%s", rt.Server, strings.ToLower(strings.Trim(rt.Template, "/")))
		default:
			return fmt.Errorf("devopshttp: area %s: route %s needs exactly one of Location and Template", a.Name, rt.Method)
		}
		if seen[key+" "+rt.Method] || h.hasRoute(key, rt.Method) {
			return fmt.Errorf("devopshttp: area %s: route %s %s registered twice", a.Name, rt.Method, key)
		}
		seen[key+" "+rt.Method] = true
		routes = append(routes, placed{rt, key})
	}
	for _, l := range a.Locations {
		loc := newLocs[l.ID]
		h.locs = append(h.locs, loc)
		h.byID[loc.ID] = loc
		h.org = append(h.org, &entry{tmpl: parseTemplate(loc.RouteTemplate), loc: loc, methods: map[string]*Route{}})
	}
	for _, p := range routes {
		rt := p.rt
		e := h.entryFor(p.key, rt)
		e.methods[rt.Method] = &rt
	}
	return nil
}

func (h *Handler) hasRoute(key, method string) bool {
	for _, list := range [][]*entry{h.org, h.server} {
		for _, e := range list {
			if e.key() == key && e.methods[method] != nil {
				return true
			}
		}
	}
	return false
}

func (e *entry) key() string {
	if e.loc != nil {
		return "loc:" + e.loc.ID
	}
	return "tmpl:" + e.tmpl.raw
}

// entryFor returns (creating) the entry of key; h.mu is held.
func (h *Handler) entryFor(key string, rt Route) *entry {
	list := &h.org
	if rt.Server {
		list = &h.server
	}
	for _, e := range *list {
		if e.key() == key {
			return e
		}
	}
	raw := strings.Trim(rt.Template, "/")
	e := &entry{tmpl: parseTemplate(raw), methods: map[string]*Route{}}
	e.tmpl.raw = fmt.Sprintf("%v:%s", rt.Server, strings.ToLower(raw))
	*list = append(*list, e)
	return e
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		writeError(w, r, h.log, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return errNotFoundRoute(r.URL.Path)
	}
	server := strings.HasPrefix(segs[0], "_")
	rest := segs
	if !server {
		rest = segs[1:]
	}
	if !server && r.Method == http.MethodOptions && len(rest) >= 1 && len(rest) <= 2 && strings.EqualFold(rest[0], "_apis") {
		area := ""
		if len(rest) == 2 {
			area = rest[1]
		}
		return h.serveOptions(w, r, segs[0], area)
	}
	loc, rt, m, allowed, found := h.lookup(server, rest, r.Method)
	switch {
	case !found:
		return errNotFoundRoute(r.URL.Path)
	case rt == nil && loc != nil:
		return fault501(loc, r.Method)
	case rt == nil:
		return &methodError{method: r.Method, allowed: allowed}
	}
	rq := &Request{h: h, W: w, R: r, values: m.values, loc: loc, route: rt}
	if rt.Access != AccessAnonymous {
		if rq.Caller, err = h.authenticate(r); err != nil {
			return err
		}
	}
	if rq.version, err = checkVersion(loc, r); err != nil {
		return err
	}
	if server {
		if rt.Access == AccessRead || rt.Access == AccessManage {
			if err := h.svc.AuthorizeServer(rq.Caller); err != nil {
				return err
			}
		}
		return rt.Handle(rq)
	}
	if err := rq.resolve(segs[0]); err != nil {
		return err
	}
	return rt.Handle(rq)
}

// lookup finds the best entry for segs and its route for method, reading the registry
// under its lock (Register may run concurrently): the location (nil for Keystage-specific
// templates), the route (nil when none serves the method), the match, and the methods that
// are served.
func (h *Handler) lookup(server bool, segs []string, method string) (*Location, *Route, match, []string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	e, m := h.findLocked(server, segs)
	if e == nil {
		return nil, nil, match{}, nil, false
	}
	rt := e.methods[method]
	if rt != nil {
		return e.loc, rt, m, nil, true
	}
	return e.loc, nil, m, e.allowed(), true
}

// find returns the entry whose template best matches segs.
func (h *Handler) find(server bool, segs []string) (*entry, match) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.findLocked(server, segs)
}

func (h *Handler) findLocked(server bool, segs []string) (*entry, match) {
	list := h.org
	if server {
		list = h.server
	}
	var best *entry
	var bestMatch match
	for _, e := range list {
		m, ok := e.tmpl.match(segs)
		if ok && (best == nil || m.better(bestMatch)) {
			best, bestMatch = e, m
		}
	}
	return best, bestMatch
}

func (e *entry) allowed() []string {
	var out []string
	for m := range e.methods {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

func fault501(loc *Location, method string) error {
	l := *loc
	l.Feature = method + " on " + loc.Feature
	return errNotImplemented(&l)
}
