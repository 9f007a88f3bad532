// Package fault is Keystage's one public error type: a kind, a wire code and a message that
// is safe to show to the caller. Each transport maps it once, at its edge, to the error shape
// its clients expect (Key Vault, ARM, Entra, Azure DevOps JSON, or a CLI exit code).
//
// Messages must never contain secret values, tokens or request bodies; wrap the underlying
// cause in Err, which is logged but never sent.
package fault

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error independently of any wire format.
type Kind int

// The kinds of error. The zero Kind is Internal.
const (
	Internal Kind = iota
	BadRequest
	Unauthorized
	Forbidden
	NotFound
	Conflict
	TooLarge
	TooManyRequests
	Unavailable
	NotImplemented
)

// Status returns the HTTP status code for k.
func (k Kind) Status() int {
	switch k {
	case BadRequest:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case TooManyRequests:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	case NotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// Error is a classified error with a wire code and a safe message.
type Error struct {
	Kind Kind
	// Code is the surface's error code, e.g. "SecretNotFound", "AuthorizationFailed",
	// "invalid_client".
	Code string
	// Message is shown to the caller verbatim.
	Message string
	// Inner is an optional inner code (Key Vault innererror.code, an AADSTS number, ...).
	Inner string
	// Err is the underlying cause; logged, never sent.
	Err error
}

func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error of kind with code and a formatted message.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithInner returns a copy of e with the inner code set.
func (e *Error) WithInner(inner string) *Error {
	c := *e
	c.Inner = inner
	return &c
}

// Wrap returns a copy of e with cause as its underlying error.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// As returns the first *Error in err's chain. For an error that is not classified it
// returns an Internal error with a generic message (the cause is kept in Err).
func As(err error) (*Error, bool) {
	var fe *Error
	if errors.As(err, &fe) {
		return fe, true
	}
	return &Error{Kind: Internal, Code: "InternalError", Message: "The server encountered an internal error.", Err: err}, false
}

// Is reports whether err is an *Error of kind k.
func Is(err error, k Kind) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Kind == k
}
