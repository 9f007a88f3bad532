// Package requestid carries the per-request id that every log line, error body and response
// header of one HTTP request shares.
package requestid

import (
	"context"

	"github.com/google/uuid"
)

type ctxKey struct{}

// New returns a fresh request id (a random GUID, as Azure services use).
func New() string { return uuid.NewString() }

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id in ctx, or "" when there is none.
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}
