package idphttp

import (
	"io"
	"net/http"
	"strconv"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/token"
)

// tokenResponseV2 is the v2 endpoint's answer to a client-credentials request: no
// refresh token, id token, scope or client_info is ever sent for app-only tokens.
type tokenResponseV2 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// tokenResponseV1 is the v1 endpoint's answer, whose numbers are strings (as ADAL reads).
type tokenResponseV1 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

// token serves POST /{tenant}/oauth2/v2.0/token (v1=false) and /{tenant}/oauth2/token.
func (h *Handler) token(v1 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ids := newRequestIDs(r)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			h.writeEntraErrorStatus(w, r, ids, http.StatusMethodNotAllowed, requestError(fault.BadRequest, identity.CodeInvalidRequest, aadstsPostOnly,
				"The endpoint only accepts POST requests. Received a %s request.", identity.SafeText(r.Method)))
			return
		}
		// The tenant comes first, as at Entra: a bad tenant is reported whatever the body.
		if _, ok := h.resolveTenant(w, r, ids); !ok {
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
		if err != nil {
			if isTooLarge(err) {
				h.writeEntraError(w, r, ids, errTooLarge)
				return
			}
			h.writeEntraError(w, r, ids, requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMalformedRequest,
				"Invalid request. The request body could not be read."))
			return
		}
		req, err := parseTokenRequest(r.PathValue("tenant"), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.URL.RawQuery, string(body), v1)
		if err == nil && len(r.Header.Values("Authorization")) > 1 {
			err = requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMalformedRequest,
				"Invalid request. The Authorization header is duplicated.")
		}
		var tok token.Token
		if err == nil {
			tok, err = h.svc.ClientCredentials(r.Context(), req)
		}
		if err != nil {
			h.log.InfoContext(r.Context(), "token request refused", "request", req, "aadsts", identity.AADSTS(err), "trace_id", ids.trace)
			h.writeEntraError(w, r, ids, err)
			return
		}
		h.log.InfoContext(r.Context(), "token issued", "request", req, "resource", tok.Claims.Audience, "token", tok, "trace_id", ids.trace)
		lifetime := tok.Claims.Expiry - tok.Claims.IssuedAt
		if !v1 {
			writeJSON(w, ids, tokenResponseV2{TokenType: "Bearer", ExpiresIn: lifetime, ExtExpiresIn: lifetime, AccessToken: tok.Raw})
			return
		}
		writeJSON(w, ids, tokenResponseV1{
			TokenType: "Bearer", ExpiresIn: strconv.FormatInt(lifetime, 10), ExtExpiresIn: strconv.FormatInt(lifetime, 10),
			ExpiresOn: strconv.FormatInt(tok.Claims.Expiry, 10), NotBefore: strconv.FormatInt(tok.Claims.NotBefore, 10),
			Resource: tok.Claims.Audience, AccessToken: tok.Raw,
		})
	}
}
