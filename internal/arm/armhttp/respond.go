package armhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/requestid"
)

// maxBodyBytes bounds a request body; ARM's own limit is 4 MiB.
const maxBodyBytes = 4 << 20

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError maps err to ARM's {"error":{"code","message"}} with the fault's status. Errors
// that are not classified are logged with their cause and answered with a generic 500.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	fe, ok := fault.As(err)
	if !ok || fe.Kind == fault.Internal {
		log.Error("management request failed", "method", r.Method, "path", r.URL.Path, "request_id", requestid.From(r.Context()), "err", err)
	} else if fe.Err != nil {
		log.Debug("management request refused", "code", fe.Code, "request_id", requestid.From(r.Context()), "err", fe.Err)
	}
	status := fe.Kind.Status()
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+authorizationURI(r)+`", error="invalid_token", error_description="`+strings.ReplaceAll(fe.Message, `"`, `'`)+`"`)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: fe.Code, Message: fe.Message}})
}

// authorizationURI is the authority clients should get tokens from: Keystage's own URL.
func authorizationURI(r *http.Request) string {
	return "https://" + r.Host + "/"
}

// decodeBody decodes a JSON request body into v. It refuses a non-JSON content type, a body
// over maxBodyBytes, malformed JSON, trailing data and values of the wrong JSON type, each
// with ARM's InvalidRequestContent (or UnsupportedMediaType) error; unknown properties are
// ignored, as ARM ignores them.
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "text/json") {
			return fault.New(fault.BadRequest, "UnsupportedMediaType", "The content media type '%s' is not supported. Only 'application/json' is supported.", clip(ct))
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return fault.New(fault.BadRequest, "InvalidRequestContent", "The request content could not be read.").Wrap(err)
	}
	if len(body) > maxBodyBytes {
		return fault.New(fault.TooLarge, "RequestContentTooLarge", "The request content is larger than %d bytes.", maxBodyBytes)
	}
	return decodeJSON(body, v)
}

// decodeJSON is decodeBody's parser, separate for fuzzing.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.New(fault.BadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fault.New(fault.BadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %s.", describeJSONError(err))
	}
	if dec.More() {
		return fault.New(fault.BadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: unexpected data after the JSON value.")
	}
	if t, err := dec.Token(); err != io.EOF {
		return fault.New(fault.BadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: unexpected data after the JSON value (%v).", t)
	}
	return nil
}

// describeJSONError phrases a decoding error without echoing the body.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("'%s' must be a JSON %s, not %s", clip(field), jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends too early"
	}
	return "the JSON could not be read"
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int32", "int64", "float64":
		return "number"
	case "slice":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return "value"
}
