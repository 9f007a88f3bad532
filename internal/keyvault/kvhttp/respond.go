package kvhttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/token"
)

// errMissingToken is the 401 for a request without a usable bearer token.
var errMissingToken = fault.New(fault.Unauthorized, "Unauthorized", "Request is missing a Bearer or PoP token.")

// authenticate returns the verified claims of the request's bearer token, accepted for the
// challenge resource or AzureResource and issued by the vault's tenant. Tokens are read from
// the one Authorization header only (never from the query string); the scheme name is
// case-insensitive (RFC 9110).
func (h *Handler) authenticate(r *http.Request, v *Vault) (*token.Claims, error) {
	values := r.Header["Authorization"]
	switch {
	case len(values) == 0:
		return nil, errMissingToken
	case len(values) > 1:
		return nil, fault.New(fault.Unauthorized, "Unauthorized", "Request has more than one Authorization header.")
	}
	scheme, raw, ok := strings.Cut(values[0], " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, errMissingToken
	}
	claims, err := h.verifier.Verify(r.Context(), raw, token.Expect{Audiences: h.audiences, TenantID: v.TenantID})
	if err != nil {
		return nil, h.tokenError(err)
	}
	return claims, nil
}

// tokenError maps a verification failure to Key Vault's 401 messages (AKV10022 and AKV10032
// are the real service's; the others say what failed without inventing service codes).
func (h *Handler) tokenError(err error) error {
	var te *token.Error
	if !errors.As(err, &te) {
		h.log.Error("kvhttp: token verification failed", "err", err)
		return errUnavailable().Wrap(err)
	}
	var msg string
	switch {
	case errors.Is(te, token.ErrAudience):
		msg = "AKV10022: Invalid audience. Expected " + h.resource + ", found: " + clip(te.Found) + "."
	case errors.Is(te, token.ErrIssuer):
		msg = "AKV10032: Invalid issuer. Expected one of " + strings.Join(te.Expected, ", ") + ", found " + clip(te.Found) + "."
	case errors.Is(te, token.ErrExpired):
		msg = "[TokenExpired] Error validating token: 'S2S12086'."
	case errors.Is(te, token.ErrNotYetValid):
		msg = "Error validating token: the token is not valid yet."
	case errors.Is(te, token.ErrSignature):
		msg = "Error validating token: the signature is invalid or was made with an unknown key."
	default:
		msg = "Error validating token: the token is malformed."
	}
	return &fault.Error{Kind: fault.Unauthorized, Code: "Unauthorized", Message: msg, Err: err}
}

// challenge answers 401 with the WWW-Authenticate header azsecrets parses: authorization is
// the vault tenant's authority (always with the tenant segment: a value without one makes
// azsecrets panic) and resource the challenge resource. Values hold no spaces or '=', which
// the client's parser cannot handle. Other failures (storage down) are not a 401.
func (h *Handler) challenge(w http.ResponseWriter, c *call, v *Vault, err error) {
	if fe, ok := fault.As(err); !ok || fe.Kind != fault.Unauthorized {
		h.fail(w, c, err)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer authorization="`+h.authority+"/"+v.TenantID+`", resource="`+h.resource+`"`)
	h.fail(w, c, err)
}

// Shared header values: assigned, never modified. Key Vault also sends Pragma, Expires and
// its service version; no client reads them, and a response with more than eight headers
// costs a map growth and a larger copy on the hot path, so Keystage leaves them out.
var (
	hdrJSON    = []string{"application/json; charset=utf-8"}
	hdrNoCache = []string{"no-cache"}
	hdrNosniff = []string{"nosniff"}
	hdrHSTS    = []string{"max-age=31536000;includeSubDomains"}
)

// bufPool holds response buffers: a get's body is built, written and the buffer reused.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// fail renders err as Key Vault's error body: {"error":{"code","message","innererror"}}.
// Unclassified errors become a 500 whose cause is logged, never sent.
func (h *Handler) fail(w http.ResponseWriter, c *call, err error) {
	fe, _ := fault.As(err)
	if isCanceled(err) {
		fe = errUnavailable().Wrap(err)
	}
	if fe.Kind == fault.Internal || fe.Kind == fault.Unavailable {
		h.log.Error("kvhttp: request failed", "vault", c.vault, "operation", auditName(c.route.op), "err", err)
	}
	body := wireError{Error: wireErrorBody{Code: fe.Code, Message: fe.Message}}
	if fe.Inner != "" {
		body.Error.InnerError = &wireInnerCode{Code: fe.Inner}
	}
	status := fe.Kind.Status()
	if fe.Code == codeMethodNotAllowed {
		status = http.StatusMethodNotAllowed
	}
	c.errCode = fe.Code
	if fe.Inner != "" {
		c.errCode += "/" + fe.Inner
	}
	h.writeJSON(w, c, status, body)
}

// writeJSON writes v as the response body with Key Vault's response headers. Bundles and
// lists are encoded by hand (encode.go); the rest by encoding/json.
func (h *Handler) writeJSON(w http.ResponseWriter, c *call, status int, v any) {
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			bufPool.Put(bp)
		}
	}()
	var b []byte
	switch v := v.(type) {
	case wireBundle:
		b = appendBundle((*bp)[:0], &v)
	case wireList:
		b = appendList((*bp)[:0], &v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil { // cannot happen for the wire types
			h.log.Error("kvhttp: encode response", "err", err)
			status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"The server encountered an internal error."}}`)
		}
	}
	*bp = b
	h.writeRaw(w, c, status, b)
}

func (h *Handler) writeRaw(w http.ResponseWriter, c *call, status int, body []byte) {
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["Cache-Control"] = hdrNoCache
	hd["X-Content-Type-Options"] = hdrNosniff
	hd["Strict-Transport-Security"] = hdrHSTS
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.status = status
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// noContent answers 204 with no body (purge).
func (h *Handler) noContent(w http.ResponseWriter, c *call) {
	hd := w.Header()
	hd["Cache-Control"] = hdrNoCache
	hd["X-Content-Type-Options"] = hdrNosniff
	hd["Strict-Transport-Security"] = hdrHSTS
	c.status = http.StatusNoContent
	w.WriteHeader(http.StatusNoContent)
}
