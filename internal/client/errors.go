package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// ResponseError is a non-success answer from a Keystage API. Code and Message come from
// the Azure error body ({"error":{"code","message"}} for ARM, Graph and Key Vault;
// {"error","error_description"} for the token endpoint).
type ResponseError struct {
	StatusCode int
	Code       string
	Message    string
	// InnerCode is Key Vault's innererror.code (e.g. ForbiddenByRbac, SecretDisabled).
	InnerCode string
	Method    string
	URL       string // without its query
	// Body is the raw response body; the server never puts secrets in error bodies.
	Body []byte
}

func (e *ResponseError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("(%s) %s", e.Code, e.Message)
	}
	return e.Message
}

// newResponseError builds the error of a failed call from its response.
func newResponseError(method, url string, r *response) *ResponseError {
	e := &ResponseError{StatusCode: r.status, Method: method, URL: redactURL(url), Body: r.body}
	var body struct {
		Error json.RawMessage `json:"error"`
		// OAuth error shape.
		Description string `json:"error_description"`
		// Some ARM errors are not wrapped.
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(r.body, &body) == nil {
		var inner struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Code string `json:"code"`
			} `json:"innererror"`
		}
		var oauthCode string
		switch {
		case json.Unmarshal(body.Error, &inner) == nil && (inner.Code != "" || inner.Message != ""):
			e.Code, e.Message, e.InnerCode = inner.Code, inner.Message, inner.InnerError.Code
		case json.Unmarshal(body.Error, &oauthCode) == nil && oauthCode != "":
			e.Code, e.Message = oauthCode, firstLine(body.Description)
		case body.Code != "" || body.Message != "":
			e.Code, e.Message = body.Code, body.Message
		}
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("%s %s: %d %s", method, e.URL, r.status, http.StatusText(r.status))
	}
	return e
}

// firstLine keeps the AADSTS message and drops Entra's trace and correlation lines.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\r\n")
	s, _, _ = strings.Cut(s, "\n")
	return s
}
