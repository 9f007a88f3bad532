package armhttp

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/token"
)

// Audiences of management-plane tokens: ARM's two resource URIs (az asks for the older
// one, the Go SDK for the newer), to which the server adds its own URL.
const (
	AudienceManagement     = "https://management.azure.com/"
	AudienceManagementCore = "https://management.core.windows.net/"
)

// TokenAuthenticator authenticates management requests with Keystage's token verifier.
type TokenAuthenticator struct {
	verifier  *token.Verifier
	audiences []string
}

var _ Authenticator = (*TokenAuthenticator)(nil)

// NewTokenAuthenticator accepts tokens v verifies for one of audiences, each with or
// without a trailing slash: the identity provider issues aud exactly as the client asked for
// its resource, and clients differ ("https://management.azure.com/.default" names
// "https://management.azure.com", the ARM SDK's scope names "https://management.azure.com/").
func NewTokenAuthenticator(v *token.Verifier, audiences []string) *TokenAuthenticator {
	return &TokenAuthenticator{verifier: v, audiences: AudienceVariants(audiences)}
}

// AudienceVariants returns auds with each audience also in its other trailing-slash form.
func AudienceVariants(auds []string) []string {
	out := make([]string, 0, 2*len(auds))
	add := func(a string) {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range auds {
		add(a)
		if t, ok := strings.CutSuffix(a, "/"); ok {
			add(t)
		} else if strings.Contains(a, "://") {
			add(a + "/")
		}
	}
	return out
}

// Authenticate verifies the request's bearer token and returns its caller.
func (a *TokenAuthenticator) Authenticate(r *http.Request) (arm.Caller, error) {
	raw, err := BearerToken(r)
	if err != nil {
		return arm.Caller{}, err
	}
	c, err := a.verifier.Verify(r.Context(), raw, token.Expect{Audiences: a.audiences})
	if err != nil {
		return arm.Caller{}, tokenError(err, a.audiences)
	}
	typ := arm.PrincipalServicePrincipal
	if c.IDType == "user" {
		typ = arm.PrincipalUser
	}
	return arm.Caller{TenantID: c.TenantID, ObjectID: c.ObjectID, AppID: c.AppID, Type: typ}, nil
}

// BearerToken returns the token of the request's single "Authorization: Bearer …" header,
// or ARM's 401 AuthenticationFailed. The scheme is matched case-insensitively; tokens in the
// query string are never read.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	switch {
	case len(h) == 0:
		return "", fault.New(fault.Unauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	case len(h) > 1:
		return "", fault.New(fault.Unauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is given more than once.")
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", fault.New(fault.Unauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.")
	}
	return tok, nil
}

// tokenError maps a verifier rejection to ARM's 401 codes; other failures stay internal.
func tokenError(err error, audiences []string) error {
	var te *token.Error
	if !errors.As(err, &te) {
		return err
	}
	switch {
	case errors.Is(err, token.ErrExpired):
		return fault.New(fault.Unauthorized, "ExpiredAuthenticationToken",
			"The access token expiry UTC time is earlier than current UTC time '%s'.", time.Now().UTC().Format(time.RFC3339)).Wrap(err)
	case errors.Is(err, token.ErrAudience):
		return fault.New(fault.Unauthorized, "InvalidAuthenticationTokenAudience",
			"The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences '%s'.",
			clip(te.Found), strings.Join(audiences, "','")).Wrap(err)
	case errors.Is(err, token.ErrIssuer):
		return fault.New(fault.Unauthorized, "InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer '%s'.", clip(te.Found)).Wrap(err)
	}
	return fault.New(fault.Unauthorized, "InvalidAuthenticationToken", "The access token is invalid.").Wrap(err)
}
