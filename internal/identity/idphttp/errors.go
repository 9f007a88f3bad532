package idphttp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

// entraError is the JSON error body of Entra's token and discovery endpoints, which MSAL
// parses (authority.go OAuthResponseBase).
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// AADSTS codes only the HTTP edge produces.
const (
	aadstsInternal      = 50000  // token issuance failed on Keystage's side
	aadstsPostOnly      = 900561 // wrong HTTP method for the endpoint
	aadstsResourceParam = 901002 // the v2 endpoint does not take 'resource'
	aadstsNotSupported  = 900971 // unsupported endpoint (interactive sign-in)
)

// requestIDs are the trace and correlation ids of one request: the trace id is fresh, the
// correlation id echoes the client's client-request-id when it is a GUID.
type requestIDs struct {
	trace, correlation string
}

func newRequestIDs(r *http.Request) requestIDs {
	ids := requestIDs{trace: uuid.NewString()}
	for _, h := range []string{"client-request-id", "x-ms-client-request-id"} {
		if id, ok := identity.NormalizeGUID(r.Header.Get(h)); ok {
			ids.correlation = id
			break
		}
	}
	if ids.correlation == "" {
		ids.correlation = ids.trace
	}
	return ids
}

// setHeaders sets the headers every identity response carries.
func (ids requestIDs) setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("x-ms-request-id", ids.trace)
	h.Set("client-request-id", ids.correlation)
}

// writeEntraError answers with err in Entra's shape. Unclassified errors become a 500
// with a generic message; their cause is only logged.
func (h *Handler) writeEntraError(w http.ResponseWriter, r *http.Request, ids requestIDs, err error) {
	h.writeEntraErrorStatus(w, r, ids, 0, err)
}

// writeEntraErrorStatus is writeEntraError with an explicit status (0: from the kind).
func (h *Handler) writeEntraErrorStatus(w http.ResponseWriter, r *http.Request, ids requestIDs, status int, err error) {
	fe, classified := fault.As(err)
	code := identity.AADSTS(fe)
	if !classified {
		code = aadstsInternal
		fe = fault.New(fault.Internal, "server_error", "There was an error issuing a token: Keystage failed internally; see its logs for trace ID %s.", ids.trace)
		h.log.ErrorContext(r.Context(), "identity request failed", "path", r.URL.Path, "trace_id", ids.trace, "err", err)
	} else if fe.Err != nil {
		h.log.InfoContext(r.Context(), "identity request rejected", "path", r.URL.Path, "trace_id", ids.trace, "aadsts", code, "cause", fe.Err)
	}
	now := h.now().UTC().Format("2006-01-02 15:04:05Z")
	desc := fe.Message
	if code != 0 {
		desc = "AADSTS" + strconv.Itoa(code) + ": " + desc
	}
	body := entraError{
		Error:            fe.Code,
		ErrorDescription: desc + "\r\nTrace ID: " + ids.trace + "\r\nCorrelation ID: " + ids.correlation + "\r\nTimestamp: " + now,
		ErrorCodes:       []int{},
		Timestamp:        now,
		TraceID:          ids.trace,
		CorrelationID:    ids.correlation,
	}
	if code != 0 {
		body.ErrorCodes = []int{code}
		body.ErrorURI = "https://login.microsoftonline.com/error?code=" + strconv.Itoa(code)
	}
	if status == 0 {
		status = fe.Kind.Status()
	}
	ids.setHeaders(w)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// requestError builds an edge-level Entra error.
func requestError(kind fault.Kind, oauthCode string, aadsts int, format string, args ...any) error {
	return fault.New(kind, oauthCode, format, args...).WithInner("AADSTS" + strconv.Itoa(aadsts))
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, ids requestIDs, v any) {
	ids.setHeaders(w)
	_ = json.NewEncoder(w).Encode(v)
}

// nowFunc defaults a clock.
func nowFunc(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}
