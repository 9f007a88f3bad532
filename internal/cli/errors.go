package cli

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/keystage/keystage/internal/client"
)

// az's exit codes.
const (
	exitError    = 1 // any failure
	exitUsage    = 2 // the command line is wrong
	exitNotFound = 3 // the resource a command names does not exist
)

// cliError is the one error type client commands return: cmd/keystage prints its message
// after "ERROR: " on stderr and exits with its code.
type cliError struct {
	code int
	msg  string
	err  error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// ExitCode is the process exit code: 1, 2 for usage errors, 3 for a missing resource.
func (e *cliError) ExitCode() int { return e.code }

func usageErrorf(format string, args ...any) error {
	return &cliError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

func errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &cliError{code: exitError, msg: err.Error(), err: err}
}

func notFoundf(format string, args ...any) error {
	return &cliError{code: exitNotFound, msg: fmt.Sprintf(format, args...)}
}

// asCLIError gives err its az exit code and message: a service error prints as az prints
// one, "(Code) Message" followed by Code, Message and Inner error lines, and exits 3 when
// the service answered 404.
func asCLIError(err error) error {
	if err == nil {
		return nil
	}
	var ce *cliError
	if errors.As(err, &ce) {
		return err
	}
	var re *client.ResponseError
	if errors.As(err, &re) {
		code := exitError
		if re.StatusCode == http.StatusNotFound {
			code = exitNotFound
		}
		msg := re.Message
		if re.Code != "" {
			msg = fmt.Sprintf("(%s) %s\nCode: %s\nMessage: %s", re.Code, re.Message, re.Code, re.Message)
		}
		if re.InnerCode != "" {
			msg += fmt.Sprintf("\nInner error: {\n    \"code\": %q\n}", re.InnerCode)
		}
		return &cliError{code: code, msg: msg, err: err}
	}
	return &cliError{code: exitError, msg: err.Error(), err: err}
}
