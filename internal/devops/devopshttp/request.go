package devopshttp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
)

// Request is one request being served: its caller, organization and project (resolved and
// authorized by the dispatcher according to the route's Access) and its route values.
type Request struct {
	h *Handler
	W http.ResponseWriter
	R *http.Request
	// Caller is the authenticated caller (zero for AccessAnonymous routes).
	Caller devops.Caller
	// Org is the organization of the path (zero on server-level routes).
	Org devops.Organization
	// Project is the project named by the {project} route value, when the template has
	// one and the request gives it.
	Project    devops.Project
	HasProject bool

	values  map[string]string
	loc     *Location
	route   *Route
	version apiVersion

	// queueRefs ("{projectId}/{queueId}") and poolRefs hold the queues and pools rendered
	// so far, so that a list of definitions or queues reads each one once (nil: not found).
	queueRefs map[string]*agentQueueJSON
	poolRefs  map[int]*poolRefJSON
}

// resolve loads the organization and project and applies the route's Access.
func (rq *Request) resolve(orgName string) error {
	ctx := rq.R.Context()
	org, err := rq.h.svc.Organization(ctx, orgName)
	if err != nil {
		return err
	}
	rq.Org = org
	c := rq.Caller
	anonymous := rq.route.Access == AccessAnonymous
	if !anonymous && c.OrgID != "" && c.OrgID != org.ID {
		return rq.h.svc.Authorize(c, org, "", devops.Read) // denied: wrong organization
	}
	access := devops.Read
	if rq.route.Access == AccessManage {
		access = devops.Manage
	}
	checks := rq.route.Access == AccessRead || rq.route.Access == AccessManage
	if checks {
		if !c.HasScope(rq.route.Scope, access) {
			return fault.New(fault.Forbidden, devops.CodeAccessDenied,
				"The personal access token does not have the scope this request needs (vso.%s%s).", rq.route.Scope, scopeSuffix(access))
		}
		// Principals' rights are organization-wide: check them before revealing whether a
		// project exists. Job callers are checked against their project below.
		if c.Kind != devops.CallerJob {
			if err := rq.h.svc.Authorize(c, org, "", access); err != nil {
				return err
			}
		}
	}
	name, ok := rq.values["project"]
	if !ok && c.Kind == devops.CallerJob {
		// A job may read its own project through the core API, whose route value is
		// projectId.
		name, ok = rq.values["projectId"]
	}
	if ok {
		p, err := rq.h.svc.Project(ctx, org, name)
		if err != nil {
			return err
		}
		rq.Project, rq.HasProject = p, true
	}
	if checks && c.Kind == devops.CallerJob {
		return rq.h.svc.Authorize(c, org, rq.Project.ID, access)
	}
	return nil
}

func scopeSuffix(a devops.Access) string {
	if a == devops.Manage {
		return "_manage"
	}
	return ""
}

// Service returns the domain service.
func (rq *Request) Service() *devops.Service { return rq.h.svc }

// Authorize checks the caller for access in the request's organization and project (for
// AccessAuthenticated routes, which authorize themselves).
func (rq *Request) Authorize(a devops.Access) error {
	return rq.h.svc.Authorize(rq.Caller, rq.Org, rq.Project.ID, a)
}

// Value returns the route value name and whether the path gave it.
func (rq *Request) Value(name string) (string, bool) {
	v, ok := rq.values[name]
	return v, ok
}

// IntValue returns route value name as a positive integer; notFound is the error for a
// value that is not one (an id that cannot exist).
func (rq *Request) IntValue(name string, notFound func(string) error) (int, error) {
	v := rq.values[name]
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || strconv.Itoa(n) != v {
		return 0, notFound(v)
	}
	return n, nil
}

// Query returns the query parameter name ("" when absent).
func (rq *Request) Query(name string) string { return rq.R.URL.Query().Get(name) }

// QueryList returns a comma-separated query parameter as a list, without empty items.
func (rq *Request) QueryList(name string) []string {
	var out []string
	for _, v := range rq.R.URL.Query()[name] {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// QueryBool returns a boolean query parameter; absent is false.
func (rq *Request) QueryBool(name string) (bool, error) {
	v := rq.Query(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, devops.BadRequest("%s must be true or false.", name)
	}
	return b, nil
}

// Decode reads the JSON body into v.
func (rq *Request) Decode(v any) error { return decodeJSON(rq.R, v) }

// APIVersion returns the request's negotiated api-version ("7.1-preview.4"), or "" on
// routes without a location.
func (rq *Request) APIVersion() string {
	if rq.loc == nil {
		return ""
	}
	return rq.version.String()
}

// JSON answers v with status.
func (rq *Request) JSON(status int, v any) error {
	writeJSON(rq.W, status, v)
	return nil
}

// OK answers v with 200.
func (rq *Request) OK(v any) error { return rq.JSON(http.StatusOK, v) }

// NoContent answers 204.
func (rq *Request) NoContent() error {
	rq.W.WriteHeader(http.StatusNoContent)
	return nil
}

// OrgURL returns the organization's URL without a trailing slash.
func (rq *Request) OrgURL() string { return rq.h.svc.OrgURL(rq.Org) }

// URL returns OrgURL joined with path segments, each escaped.
func (rq *Request) URL(segments ...string) string {
	var b strings.Builder
	b.WriteString(rq.OrgURL())
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// Paging returns the $top/$skip/continuationToken window of a list.
func (rq *Request) Paging() (paging, error) { return parsePaging(rq.R, rq.h.cfg.PageSize) }

// identityRef renders an identity as Azure DevOps' IdentityRef.
func identityRef(r devops.IdentityRef) *identityJSON {
	if r.ID == "" {
		return nil
	}
	name := r.DisplayName
	if name == "" {
		name = r.ID
	}
	return &identityJSON{ID: r.ID, DisplayName: name, UniqueName: r.ID}
}

type identityJSON struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	UniqueName  string `json:"uniqueName"`
}
