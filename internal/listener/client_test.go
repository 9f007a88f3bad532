package listener

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"syscall"
	"testing"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"server unreachable", &url.Error{Op: "Post", URL: "https://x", Err: syscall.ECONNREFUSED}, true},
		{"server error", &apiError{Status: http.StatusServiceUnavailable}, true},
		{"busy", &apiError{Status: http.StatusTooManyRequests}, true},
		{"transaction conflict", &apiError{Status: http.StatusConflict, TypeKey: "TransactionConflictException"}, true},
		{"other conflict", &apiError{Status: http.StatusConflict}, false},
		{"not found", &apiError{Status: http.StatusNotFound}, false},
		{"unauthorized", &apiError{Status: http.StatusUnauthorized}, false},
		{"local file", fmt.Errorf("upload: %w", &fs.PathError{Op: "open", Path: "/nope", Err: fs.ErrNotExist}), false},
		{"canceled", context.Canceled, false},
		{"deadline", context.DeadlineExceeded, false},
		{"no error", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
