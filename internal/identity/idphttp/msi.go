package idphttp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

// managedIdentityAPIVersion is the App Service protocol azidentity/MSAL speak when
// IDENTITY_ENDPOINT and IDENTITY_HEADER are set.
const managedIdentityAPIVersion = "2019-08-01"

// msiResponse is the App Service managed identity response (identity.md §2.6).
type msiResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

// msiError is the IMDS-style error body; MSAL reports it verbatim.
type msiError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// managedIdentity serves GET /msi/token?api-version=2019-08-01&resource=…[&client_id|
// object_id|mi_res_id] with the X-IDENTITY-HEADER header. Like IMDS, it refuses requests
// that carry X-Forwarded-For or Forwarded (a proxy relaying a victim's request, the SSRF
// path to a token endpoint).
func (h *Handler) managedIdentity(w http.ResponseWriter, r *http.Request) {
	ids := newRequestIDs(r)
	fail := func(status int, code, desc string) {
		ids.setHeaders(w)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(msiError{Error: code, ErrorDescription: desc})
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		fail(http.StatusMethodNotAllowed, "invalid_request", "The managed identity endpoint only accepts GET requests.")
		return
	}
	if len(r.Header.Values("X-Forwarded-For")) > 0 || len(r.Header.Values("Forwarded")) > 0 {
		fail(http.StatusBadRequest, "invalid_request", "Requests carrying X-Forwarded-For or Forwarded headers are refused.")
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		fail(http.StatusBadRequest, "invalid_request", "The query string is malformed.")
		return
	}
	for k, v := range q {
		if len(v) > 1 {
			fail(http.StatusBadRequest, "invalid_request", "The parameter '"+identity.SafeText(k)+"' is duplicated.")
			return
		}
	}
	switch v := q.Get("api-version"); v {
	case managedIdentityAPIVersion:
	case "":
		fail(http.StatusBadRequest, "invalid_request", "The api-version parameter is required (use "+managedIdentityAPIVersion+").")
		return
	default:
		fail(http.StatusBadRequest, "invalid_request", "api-version '"+identity.SafeText(v)+"' is not supported; use "+managedIdentityAPIVersion+".")
		return
	}
	headers := r.Header.Values("X-IDENTITY-HEADER")
	if len(headers) != 1 {
		fail(http.StatusUnauthorized, "invalid_request", "The X-IDENTITY-HEADER header is missing or invalid.")
		return
	}
	req := identity.ManagedIdentityTokenRequest{
		Header: headers[0], Resource: q.Get("resource"),
		ClientID: q.Get("client_id"), ObjectID: q.Get("object_id"), ResourceID: q.Get("mi_res_id"),
	}
	tok, err := h.svc.ManagedIdentityToken(r.Context(), req)
	if err != nil {
		fe, classified := fault.As(err)
		if !classified {
			h.log.ErrorContext(r.Context(), "managed identity token failed", "request", req, "trace_id", ids.trace, "err", err)
			fail(http.StatusInternalServerError, "server_error", "Keystage failed internally; see its logs for trace ID "+ids.trace+".")
			return
		}
		h.log.InfoContext(r.Context(), "managed identity token refused", "request", req, "status", fe.Kind.Status(), "trace_id", ids.trace)
		fail(fe.Kind.Status(), fe.Code, fe.Message)
		return
	}
	h.log.InfoContext(r.Context(), "managed identity token issued", "request", req, "token", tok, "trace_id", ids.trace)
	writeJSON(w, ids, msiResponse{
		AccessToken: tok.Raw,
		ExpiresOn:   strconv.FormatInt(tok.Claims.Expiry, 10),
		Resource:    tok.Claims.Audience,
		TokenType:   "Bearer",
		ClientID:    tok.Claims.AppID,
	})
}
