// Package idphttp serves Keystage's identity provider over HTTP in the shapes Azure SDKs
// expect from Entra ID: OpenID discovery, JWKS, the client-credentials token endpoint and
// the App-Service-style managed identity endpoint.
package idphttp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

// Config configures a Handler. Zero fields take the defaults in parentheses.
type Config struct {
	// Hosts are further host[:port] values clients may use to reach the authority (say
	// "127.0.0.1:8443" besides "localhost:8443"). Discovery documents name the host the
	// client used when it is the authority's or one of these, because MSAL requires the
	// issuer's host to equal the authority host it was configured with. Tokens always carry
	// the canonical issuer.
	Hosts []string
	// MaxBodyBytes caps a token request body (64 KiB; an assertion is at most 16 KiB).
	MaxBodyBytes int64
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Handler serves the identity provider. The server sends it every request whose first
// path segment is a tenant — a GUID, but also common/organizations/consumers and other
// non-GUID values, which must get Entra's tenant errors rather than a 404 — or "msi":
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   (MSAL's discovery)
//	GET  /{tenant}/.well-known/openid-configuration        (v1; issuer = the tokens' iss)
//	GET  /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys
//	POST /{tenant}/oauth2/v2.0/token                       (scope=<resource>/.default)
//	POST /{tenant}/oauth2/token[/]                         (v1: resource=<resource>)
//	GET  /msi/token                                        (IDENTITY_ENDPOINT, api-version 2019-08-01)
//
// It is safe for concurrent use.
type Handler struct {
	svc   *identity.Service
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
	host  string          // canonical authority host[:port], lower-case
	hosts map[string]bool // accepted hosts, lower-case
}

// New returns a Handler for svc. The service's authority must be an origin without a path.
func New(svc *identity.Service, cfg Config, logger *slog.Logger) (*Handler, error) {
	u, err := url.Parse(svc.Authority())
	if err != nil || u.Path != "" {
		return nil, fmt.Errorf("idphttp: the authority %q must be an https origin without a path", svc.Authority())
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, cfg: cfg, log: logger, now: nowFunc(cfg.Now), host: strings.ToLower(u.Host), hosts: map[string]bool{}}
	h.hosts[h.host] = true
	for _, host := range cfg.Hosts {
		h.hosts[strings.ToLower(host)] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{tenant}/v2.0/.well-known/openid-configuration", h.get(h.discoveryV2))
	mux.HandleFunc("/{tenant}/.well-known/openid-configuration", h.get(h.discoveryV1))
	mux.HandleFunc("/{tenant}/discovery/v2.0/keys", h.get(h.keys))
	mux.HandleFunc("/{tenant}/discovery/keys", h.get(h.keys))
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", h.token(false))
	mux.HandleFunc("/{tenant}/oauth2/token", h.token(true))
	mux.HandleFunc("/{tenant}/oauth2/token/{$}", h.token(true)) // ADAL posts with a trailing slash
	mux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", h.unsupported("interactive sign-in (the authorization endpoint)"))
	mux.HandleFunc("/{tenant}/oauth2/authorize", h.unsupported("interactive sign-in (the authorization endpoint)"))
	mux.HandleFunc("/{tenant}/oauth2/v2.0/devicecode", h.unsupported("the device code flow"))
	mux.HandleFunc("/msi/token", h.managedIdentity)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeEntraError(w, r, newRequestIDs(r), fault.New(fault.NotFound, "not_found", "No identity endpoint is served at this path."))
	})
	h.mux = mux
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// get wraps a GET-only handler (HEAD too) with Entra-shaped 405s.
func (h *Handler) get(fn func(http.ResponseWriter, *http.Request, requestIDs)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ids := newRequestIDs(r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.writeEntraErrorStatus(w, r, ids, http.StatusMethodNotAllowed, requestError(fault.BadRequest, identity.CodeInvalidRequest, aadstsPostOnly,
				"The endpoint only accepts GET requests. Received a %s request.", identity.SafeText(r.Method)))
			return
		}
		fn(w, r, ids)
	}
}

func (h *Handler) unsupported(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.writeEntraError(w, r, newRequestIDs(r), requestError(fault.BadRequest, "unsupported_response_type", aadstsNotSupported,
			"Keystage issues app-only tokens; %s is not supported.", what))
	}
}

// baseURL is the origin discovery documents name: the host the client used when it is an
// accepted one, else the canonical authority.
func (h *Handler) baseURL(r *http.Request) string {
	if host := strings.ToLower(r.Host); h.hosts[host] {
		return "https://" + host
	}
	return "https://" + h.host
}

// resolveTenant resolves the {tenant} path value or writes the Entra error.
func (h *Handler) resolveTenant(w http.ResponseWriter, r *http.Request, ids requestIDs) (identity.Tenant, bool) {
	t, err := h.svc.ResolveTenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		h.writeEntraError(w, r, ids, err)
		return identity.Tenant{}, false
	}
	return t, true
}

func (h *Handler) discoveryV2(w http.ResponseWriter, r *http.Request, ids requestIDs) {
	t, ok := h.resolveTenant(w, r, ids)
	if !ok {
		return
	}
	base := h.baseURL(r) + "/" + t.ID
	writeJSON(w, ids, map[string]any{
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"grant_types_supported":                 []string{"client_credentials"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "appidacr", "idtyp", "ver", "uti", "xms_mirid"},
		"request_uri_parameter_supported":       false,
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   hostname(h.host),
	})
}

// discoveryV1 is the v1 document; its issuer is the iss Keystage's tokens carry, so a
// standard OIDC client (go-oidc) can verify them from it.
func (h *Handler) discoveryV1(w http.ResponseWriter, r *http.Request, ids requestIDs) {
	t, ok := h.resolveTenant(w, r, ids)
	if !ok {
		return
	}
	base := h.baseURL(r) + "/" + t.ID
	writeJSON(w, ids, map[string]any{
		"issuer":                                h.svc.IssuerURL(t.ID),
		"authorization_endpoint":                base + "/oauth2/authorize",
		"token_endpoint":                        base + "/oauth2/token",
		"jwks_uri":                              base + "/discovery/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"grant_types_supported":                 []string{"client_credentials"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
	})
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request, ids requestIDs) {
	t, ok := h.resolveTenant(w, r, ids)
	if !ok {
		return
	}
	set, err := h.svc.Keys().JWKS(r.Context(), t.ID)
	if err != nil {
		h.writeEntraError(w, r, ids, err)
		return
	}
	writeJSON(w, ids, set)
}

// hostname strips the port from host[:port].
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// errTooLarge is the answer to an oversized body.
var errTooLarge = requestError(fault.TooLarge, identity.CodeInvalidRequest, identity.AADSTSRequestTooLarge,
	"The request body is too large.")

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
