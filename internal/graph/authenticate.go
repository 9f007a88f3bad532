package graph

import (
	"errors"
	"net/http"

	"github.com/keystage/keystage/internal/arm/armhttp"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/token"
)

// TokenAuthenticator authenticates Graph requests with Keystage's token verifier.
type TokenAuthenticator struct {
	verifier  *token.Verifier
	audiences []string
}

var _ Authenticator = (*TokenAuthenticator)(nil)

// NewTokenAuthenticator accepts tokens v verifies for one of audiences (Audiences, plus
// the server's own URL when it wants).
func NewTokenAuthenticator(v *token.Verifier, audiences []string) *TokenAuthenticator {
	return &TokenAuthenticator{verifier: v, audiences: armhttp.AudienceVariants(audiences)}
}

// Authenticate verifies the request's bearer token (one Authorization: Bearer header).
func (a *TokenAuthenticator) Authenticate(r *http.Request) (Caller, error) {
	raw, err := armhttp.BearerToken(r)
	if err != nil {
		return Caller{}, fault.New(fault.Unauthorized, "InvalidAuthenticationToken", "Access token is empty or the Authorization header is malformed.")
	}
	c, err := a.verifier.Verify(r.Context(), raw, token.Expect{Audiences: a.audiences})
	if err != nil {
		var te *token.Error
		if !errors.As(err, &te) {
			return Caller{}, err
		}
		return Caller{}, fault.New(fault.Unauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience, issuer, signature or lifetime.").Wrap(err)
	}
	return Caller{TenantID: c.TenantID, ObjectID: c.ObjectID, AppID: c.AppID}, nil
}
