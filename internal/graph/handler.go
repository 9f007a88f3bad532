package graph

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keystage/keystage/internal/arm/armhttp"
	"github.com/keystage/keystage/internal/fault"
)

// request is one Graph request being served.
type request struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	caller Caller
}

// ServeHTTP serves /v1.0/applications, /v1.0/servicePrincipals and
// /v1.0/directoryObjects/getByIds.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	caller, err := h.auth.Authenticate(r)
	if err != nil {
		writeError(w, r, h.log, err)
		return
	}
	q := &request{h: h, w: w, r: r, caller: caller}
	if err := q.dispatch(); err != nil {
		writeError(w, r, h.log, err)
	}
}

// segments splits the path after /v1.0 into unescaped segments.
func segments(escaped string) ([]string, error) {
	p := strings.Trim(escaped, "/")
	head, rest, _ := strings.Cut(p, "/")
	if !strings.EqualFold(head, "v1.0") {
		return nil, notFound(p)
	}
	if rest == "" {
		return nil, nil
	}
	raw := strings.Split(rest, "/")
	out := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || len(u) > 512 {
			return nil, badRequest("The request URI has an empty or malformed path segment.")
		}
		out[i] = u
	}
	return out, nil
}

// alternateKey splits "collection(key='value')" into collection, key and value.
func alternateKey(seg string) (collection, key, value string, ok bool) {
	open := strings.IndexByte(seg, '(')
	if open < 0 || !strings.HasSuffix(seg, ")") {
		return seg, "", "", false
	}
	inner := seg[open+1 : len(seg)-1]
	k, v, found := strings.Cut(inner, "=")
	if !found || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return seg, "", "", false
	}
	return seg[:open], k, strings.ReplaceAll(v[1:len(v)-1], "''", "'"), true
}

func (q *request) dispatch() error {
	segs, err := segments(q.r.URL.EscapedPath())
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return notFound("/v1.0")
	}
	coll, key, val, alt := alternateKey(segs[0])
	m := q.r.Method
	switch {
	case strings.EqualFold(coll, "applications"):
		var id appRef
		switch {
		case alt && strings.EqualFold(key, "appId"):
			id = appRef{appID: val}
		case alt:
			return badRequest("Applications can be addressed by id or by appId, not by '%s'.", clip(key))
		case len(segs) > 1:
			id, segs = appRef{objectID: segs[1]}, segs[1:]
		default:
			return q.methods(m, map[string]func() error{http.MethodGet: q.listApplications, http.MethodPost: q.createApplication})
		}
		return q.application(id, segs[1:])
	case strings.EqualFold(coll, "servicePrincipals"):
		var id spRef
		switch {
		case alt && strings.EqualFold(key, "appId"):
			id = spRef{appID: val}
		case alt:
			return badRequest("Service principals can be addressed by id or by appId, not by '%s'.", clip(key))
		case len(segs) > 1:
			id, segs = spRef{objectID: segs[1]}, segs[1:]
		default:
			return q.methods(m, map[string]func() error{http.MethodGet: q.listServicePrincipals, http.MethodPost: q.createServicePrincipal})
		}
		if len(segs) > 1 {
			return notFound(strings.Join(segs, "/"))
		}
		return q.methods(m, map[string]func() error{
			http.MethodGet:    func() error { return q.getServicePrincipal(id) },
			http.MethodDelete: func() error { return q.deleteServicePrincipal(id) },
		})
	case strings.EqualFold(coll, "directoryObjects") && len(segs) == 2 && strings.EqualFold(segs[1], "getByIds"):
		return q.methods(m, map[string]func() error{http.MethodPost: q.getByIDs})
	}
	return fault.New(fault.BadRequest, "Request_BadRequest", "Keystage's Graph serves applications, servicePrincipals and directoryObjects/getByIds; '%s' is not supported.", clip(coll))
}

// application routes /applications/{id}[/…].
func (q *request) application(id appRef, rest []string) error {
	m := q.r.Method
	switch {
	case len(rest) == 0:
		return q.methods(m, map[string]func() error{
			http.MethodGet:    func() error { return q.getApplication(id) },
			http.MethodPatch:  func() error { return q.patchApplication(id) },
			http.MethodDelete: func() error { return q.deleteApplication(id) },
		})
	case len(rest) == 1 && strings.EqualFold(rest[0], "addPassword"):
		return q.methods(m, map[string]func() error{http.MethodPost: func() error { return q.addPassword(id) }})
	case len(rest) == 1 && strings.EqualFold(rest[0], "removePassword"):
		return q.methods(m, map[string]func() error{http.MethodPost: func() error { return q.removePassword(id) }})
	case len(rest) == 1 && strings.EqualFold(rest[0], "owners"):
		return q.methods(m, map[string]func() error{http.MethodGet: func() error { return q.listOwners(id) }})
	case len(rest) == 1 && strings.EqualFold(rest[0], "federatedIdentityCredentials"):
		return q.methods(m, map[string]func() error{
			http.MethodGet:  func() error { return q.listFICs(id) },
			http.MethodPost: func() error { return q.createFIC(id) },
		})
	case len(rest) == 2 && strings.EqualFold(rest[0], "federatedIdentityCredentials"):
		return q.methods(m, map[string]func() error{
			http.MethodGet:    func() error { return q.getFIC(id, rest[1]) },
			http.MethodPatch:  func() error { return q.patchFIC(id, rest[1]) },
			http.MethodDelete: func() error { return q.deleteFIC(id, rest[1]) },
		})
	}
	return notFound(strings.Join(rest, "/"))
}

func (q *request) methods(m string, handlers map[string]func() error) error {
	if f, ok := handlers[m]; ok {
		return f()
	}
	return fault.New(fault.BadRequest, "Request_BadRequest", "The method '%s' is not supported on this resource.", clip(m))
}

// baseURL is the URL prefix for @odata.nextLink.
func (q *request) baseURL() string {
	if q.h.cfg.BaseURL != "" {
		return q.h.cfg.BaseURL
	}
	return "https://" + q.r.Host
}

// query returns the first value of an OData query option, matched case-insensitively.
func (q *request) query(name string) string { return armhttp.Query(q.r, name) }
