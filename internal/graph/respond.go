package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/requestid"
)

const maxBodyBytes = 1 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// graphCode maps a fault to Graph's error code: codes already in Graph's vocabulary pass
// through; others are named by their kind.
func graphCode(fe *fault.Error) string {
	for _, p := range []string{"Request_", "Authorization_", "Authentication_", "InvalidAuthenticationToken"} {
		if strings.HasPrefix(fe.Code, p) {
			return fe.Code
		}
	}
	switch fe.Kind {
	case fault.BadRequest:
		return "Request_BadRequest"
	case fault.Unauthorized:
		return "InvalidAuthenticationToken"
	case fault.Forbidden:
		return "Authorization_RequestDenied"
	case fault.NotFound:
		return "Request_ResourceNotFound"
	case fault.Conflict:
		return "Request_MultipleObjectsWithSameKeyValue"
	case fault.TooLarge:
		return "Request_EntityTooLarge"
	case fault.TooManyRequests:
		return "TooManyRequests"
	case fault.Unavailable:
		return "serviceNotAvailable"
	case fault.NotImplemented:
		return "Request_UnsupportedQuery"
	}
	return "UnknownError"
}

// writeError answers Graph's {"error":{"code","message","innerError":{…}}}.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	fe, ok := fault.As(err)
	if !ok || fe.Kind == fault.Internal {
		log.Error("graph request failed", "method", r.Method, "path", r.URL.Path, "request_id", requestid.From(r.Context()), "err", err)
	}
	status := fe.Kind.Status()
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://`+r.Host+`/", client_id="00000003-0000-0000-c000-000000000000"`)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{
		Code: graphCode(fe), Message: fe.Message,
		InnerError: innerError{
			Date:            time.Now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       requestid.From(r.Context()),
			ClientRequestID: r.Header.Get("client-request-id"),
		},
	}})
}

func badRequest(format string, args ...any) *fault.Error {
	return fault.New(fault.BadRequest, "Request_BadRequest", format, args...)
}

func notFound(id string) *fault.Error {
	return fault.New(fault.NotFound, "Request_ResourceNotFound",
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", clip(id))
}

func denied() *fault.Error {
	return fault.New(fault.Forbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

// decodeBody decodes a JSON request body into v, refusing unknown content types, bodies over
// 1 MiB and malformed JSON with Request_BadRequest.
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return fault.New(fault.BadRequest, "Request_BadRequest", "The content type '%s' is not supported; use application/json.", clip(ct))
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return badRequest("The request body could not be read.").Wrap(err)
	}
	if len(body) > maxBodyBytes {
		return fault.New(fault.TooLarge, "Request_EntityTooLarge", "The request body is larger than %d bytes.", maxBodyBytes)
	}
	return decodeJSON(body, v)
}

// decodeJSON parses a body; an empty body decodes as {}.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return badRequest("Invalid JSON at offset %d.", syn.Offset)
		case errors.As(err, &typ):
			return badRequest("Invalid value for property '%s'.", clip(typ.Field))
		}
		return badRequest("Invalid JSON in the request body.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("Unexpected data after the JSON value.")
	}
	return nil
}

func clip(s string) string { return arm.Clip(s) }
