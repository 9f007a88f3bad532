package server

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/keystage/keystage/internal/identity"
)

// router dispatches a request to an API surface: by host for Key Vault data planes
// ({vault}.{suffix}), then by the first path segment — reserved words for ARM, Graph and
// system endpoints, a tenant id for the identity provider, anything else for an Azure
// DevOps organization.
type router struct {
	vaultSuffix string // lower-case, without a leading dot
	vault       http.Handler
	segments    map[string]http.Handler // first path segment, lower-case
	tenant      http.Handler            // first segment is a tenant id (GUID)
	org         http.Handler            // first segment is an organization name
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if name, ok := rt.vaultName(r.Host); ok {
		serveOr(rt.vault, w, r, "vault "+name)
		return
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	seg = strings.ToLower(seg)
	if h, ok := rt.segments[seg]; ok {
		h.ServeHTTP(w, r)
		return
	}
	if _, ok := identity.NormalizeGUID(seg); ok {
		serveOr(rt.tenant, w, r, "tenant")
		return
	}
	if seg != "" {
		serveOr(rt.org, w, r, "organization")
		return
	}
	notFound(w, "no API is served at /")
}

// vaultName returns the vault label of host when host is "{name}.{suffix}[:port]".
func (rt *router) vaultName(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	name, ok := strings.CutSuffix(host, "."+rt.vaultSuffix)
	if !ok || name == "" || strings.Contains(name, ".") {
		return "", false
	}
	return name, true
}

func serveOr(h http.Handler, w http.ResponseWriter, r *http.Request, what string) {
	if h == nil {
		notFound(w, "no API serves this "+what+" yet")
		return
	}
	h.ServeHTTP(w, r)
}

// notFound answers in the {"error":{"code","message"}} shape Azure clients parse.
func notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "NotFound", "message": msg}})
}
