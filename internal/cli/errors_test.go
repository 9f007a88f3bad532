package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keystage/keystage/internal/client"
)

func TestAsCLIError(t *testing.T) {
	tests := []struct {
		name     string
		in       error
		wantCode int
		wantMsg  string
	}{
		{"service 404", &client.ResponseError{StatusCode: 404, Code: "ResourceGroupNotFound", Message: "Resource group 'x' could not be found."}, exitNotFound,
			"(ResourceGroupNotFound) Resource group 'x' could not be found.\nCode: ResourceGroupNotFound\nMessage: Resource group 'x' could not be found."},
		{"service 409 with inner error", fmt.Errorf("wrapped: %w", &client.ResponseError{StatusCode: 409, Code: "Conflict", Message: "deleted", InnerCode: "ObjectIsDeletedButRecoverable"}), exitError,
			"(Conflict) deleted\nCode: Conflict\nMessage: deleted\nInner error: {\n    \"code\": \"ObjectIsDeletedButRecoverable\"\n}"},
		{"service error without code", &client.ResponseError{StatusCode: 500, Message: "GET x: 500"}, exitError, "GET x: 500"},
		{"usage error kept", usageErrorf("bad"), exitUsage, "bad"},
		{"plain error", errors.New("boom"), exitError, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := asCLIError(tt.in)
			var ce *cliError
			if !errors.As(err, &ce) {
				t.Fatalf("got %T, want *cliError", err)
			}
			if ce.ExitCode() != tt.wantCode || ce.Error() != tt.wantMsg {
				t.Errorf("got (%d, %q), want (%d, %q)", ce.ExitCode(), ce.Error(), tt.wantCode, tt.wantMsg)
			}
		})
	}
	if asCLIError(nil) != nil {
		t.Error("asCLIError(nil) != nil")
	}
}
