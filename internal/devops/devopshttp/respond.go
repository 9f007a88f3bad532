package devopshttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/requestid"
)

// wrappedException is Azure DevOps' error body, which the Go client parses into
// azuredevops.WrappedError (every 4xx and 5xx carries one, with a Content-Length).
type wrappedException struct {
	ID               string         `json:"$id"`
	InnerException   *struct{}      `json:"innerException"`
	Message          string         `json:"message"`
	TypeName         string         `json:"typeName"`
	TypeKey          string         `json:"typeKey"`
	ErrorCode        int            `json:"errorCode"`
	EventID          int            `json:"eventId"`
	CustomProperties map[string]any `json:"customProperties,omitempty"`
}

// typeNames gives the assembly-qualified .NET type names Azure DevOps reports for the
// type keys clients are known to test; other keys get a Keystage name.
var typeNames = map[string]string{
	devops.CodeProjectNameNotFound: "Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException, Microsoft.TeamFoundation.Core.WebApi",
	devops.CodeProjectNotFound:     "Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistException, Microsoft.TeamFoundation.Core.WebApi",
	devops.CodeProjectExists:       "Microsoft.TeamFoundation.Core.WebApi.ProjectAlreadyExistsException, Microsoft.TeamFoundation.Core.WebApi",
	devops.CodeDefinitionNotFound:  "Microsoft.TeamFoundation.Build.WebApi.DefinitionNotExistsException, Microsoft.TeamFoundation.Build2.WebApi",
	devops.CodeDefinitionExists:    "Microsoft.TeamFoundation.Build.WebApi.DefinitionExistsException, Microsoft.TeamFoundation.Build2.WebApi",
	devops.CodeUnauthorized:        "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
	devops.CodeAccessDenied:        "Microsoft.TeamFoundation.Framework.Server.AccessCheckException, Microsoft.TeamFoundation.Framework.Server",
	devops.CodeArgument:            "System.ArgumentException, mscorlib",
	devops.CodeNotImplemented:      "System.NotImplementedException, mscorlib",
	devops.CodePoolNotFound:        "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentPoolNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi",
	devops.CodeQueueNotFound:       "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentQueueNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi",
	devops.CodeAgentNotFound:       "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi",
}

func typeName(key string) string {
	if n, ok := typeNames[key]; ok {
		return n
	}
	return "Keystage.DevOps." + key + ", Keystage"
}

// writeError answers err as a WrappedException. Unclassified errors are logged with the
// request id and answered with a generic 500: their text may hold internals.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var me *methodError
	if errors.As(err, &me) {
		w.Header().Set("Allow", strings.Join(me.allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, wrappedException{
			ID: "1", Message: me.Error(), TypeName: typeName("VssMethodNotAllowedException"), TypeKey: "VssMethodNotAllowedException", EventID: 3000,
		})
		return
	}
	fe, classified := fault.As(err)
	status := fe.Kind.Status()
	if !classified || fe.Kind == fault.Internal {
		log.ErrorContext(r.Context(), "devops request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", requestid.From(r.Context()), "err", err)
	}
	code := fe.Code
	if code == "" || !classified {
		code = "VssServiceException"
	}
	if status == http.StatusUnauthorized {
		w.Header().Add("WWW-Authenticate", "Bearer")
		w.Header().Add("WWW-Authenticate", `Basic realm="Keystage"`)
	}
	writeJSON(w, status, wrappedException{
		ID: "1", Message: fe.Message, TypeName: typeName(code), TypeKey: code, EventID: 3000,
	})
}

// writeJSON writes v with a Content-Length (the Go client treats a body without one on an
// error as a JSON syntax error).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"$id":"1","innerException":null,"message":"The server could not encode its response.","typeName":"Keystage.DevOps.VssServiceException, Keystage","typeKey":"VssServiceException","errorCode":0,"eventId":3000}`)
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// collection is the {"count","value"} wrapper every list answer uses.
type collection[T any] struct {
	Count int `json:"count"`
	Value []T `json:"value"`
}

func newCollection[T any](items []T) collection[T] {
	if items == nil {
		items = []T{}
	}
	return collection[T]{Count: len(items), Value: items}
}

// maxBodyBytes bounds a request body.
const maxBodyBytes = 4 << 20

// decodeJSON reads the JSON body of r into v. An empty body, malformed JSON, trailing
// data, a value of the wrong type or an oversized body is a 400 naming the problem; the
// body itself is never echoed (it may carry secrets).
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return devops.BadRequest("The request body could not be read.")
	}
	return decodeBytes(body, v)
}

func decodeBytes(body []byte, v any) error {
	if len(body) > maxBodyBytes {
		return devops.BadRequest("The request body is larger than %d bytes.", maxBodyBytes)
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(body)) == 0 {
		return devops.BadRequest("The request body is empty; a JSON body is required.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return devops.BadRequest("The request body has data after its JSON value.")
	}
	return nil
}

func bodyError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the body"
		}
		return devops.BadRequest("The request body is invalid: %s must be %s, not %s.", clip(field), jsonKind(te.Type.String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return devops.BadRequest("The request body is not valid JSON (at byte %d).", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return devops.BadRequest("The request body is truncated JSON.")
	}
	var ve bodyValueError
	if errors.As(err, &ve) {
		return devops.BadRequest("The request body is invalid: %s", string(ve))
	}
	return devops.BadRequest("The request body is not valid JSON.")
}

// bodyValueError is returned by custom JSON decoders of request types; its text is safe to
// show.
type bodyValueError string

func (e bodyValueError) Error() string { return string(e) }

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return "of another type"
}

// paging is a list request's window: $top, $skip and an integer continuation token (the
// offset of the next item), the form core.GetProjects needs.
type paging struct {
	top, skip int
}

func parsePaging(r *http.Request, defaultTop int) (paging, error) {
	q := r.URL.Query()
	p := paging{top: defaultTop}
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return paging{}, devops.BadRequest("$top must be a non-negative integer.")
		}
		if n > 0 && n < p.top {
			p.top = n
		}
	}
	for _, name := range []string{"$skip", "continuationToken"} {
		if s := q.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return paging{}, devops.BadRequest("%s must be a non-negative integer.", name)
			}
			p.skip += n
		}
	}
	return p, nil
}

// page returns the window of items and sets X-MS-ContinuationToken when more follow.
func page[T any](w http.ResponseWriter, items []T, p paging) []T {
	if p.skip >= len(items) {
		return []T{}
	}
	end := len(items)
	if p.top > 0 && p.skip+p.top < end {
		end = p.skip + p.top
		w.Header().Set("X-MS-ContinuationToken", strconv.Itoa(end))
	}
	return items[p.skip:end]
}

// errNotFoundRoute answers a path no location or route serves.
func errNotFoundRoute(path string) error {
	return fault.New(fault.NotFound, "VssResourceNotFoundException", "The requested resource does not exist: %s", clip(path))
}

// errNotImplemented answers a location Keystage lists but does not serve yet.
func errNotImplemented(loc *Location) error {
	return fault.New(fault.NotImplemented, devops.CodeNotImplemented,
		"Keystage does not implement %s yet (%s/%s, location %s).", loc.Feature, loc.Area, loc.ResourceName, loc.ID)
}

// methodError is a 405, a status fault.Kind has no kind for.
type methodError struct {
	method  string
	allowed []string
}

func (e *methodError) Error() string {
	return fmt.Sprintf("The requested resource does not support http method '%s'; it supports %s.", clip(e.method), strings.Join(e.allowed, ", "))
}
