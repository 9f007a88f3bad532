package devopshttp

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/identity/token"
)

// AzureDevOpsResource is the application id of Azure DevOps: the audience of Entra tokens
// for it, and one of the audiences Keystage accepts here.
const AzureDevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798"

// TokenVerifier verifies Keystage access tokens; *token.Verifier implements it.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string, want token.Expect) (*token.Claims, error)
}

// JobTokens verifies job access tokens (System.AccessToken), which the run orchestrator
// issues to each job. VerifyJobToken returns ok=false, quickly and without error, for a
// token that is not a job token at all (other verifiers then try it); with ok=true an error
// rejects the token (expired, job finished). Rejections must be fault errors of kind
// Unauthorized; other errors are internal failures.
type JobTokens interface {
	VerifyJobToken(ctx context.Context, raw string) (c devops.Caller, ok bool, err error)
}

// maxCredentialBytes bounds the Authorization header the handler parses.
const maxCredentialBytes = 16 << 10

// credential extracts the token of an Authorization header: "Bearer <token>", or
// "Basic base64(user:password)" whose password (or, with an empty password, user) is the
// token, as az devops and the Go client send PATs and access tokens.
func credential(header string) (string, error) {
	if header == "" {
		return "", devops.ErrUnauthorized("No credentials were supplied: send a personal access token or an access token as Basic or Bearer authorization.")
	}
	if len(header) > maxCredentialBytes {
		return "", devops.ErrUnauthorized("The Authorization header is too large.")
	}
	scheme, rest, _ := strings.Cut(header, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" {
			return "", devops.ErrUnauthorized("The Bearer authorization has no token.")
		}
		return rest, nil
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", devops.ErrUnauthorized("The Basic authorization is not valid base64.")
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		if pass == "" {
			pass = user
		}
		if pass == "" {
			return "", devops.ErrUnauthorized("The Basic authorization has no password.")
		}
		return pass, nil
	}
	return "", devops.ErrUnauthorized("Only Basic and Bearer authorization are supported.")
}

// authenticate returns the caller of r, or a 401 fault.
func (h *Handler) authenticate(r *http.Request) (devops.Caller, error) {
	tok, err := credential(r.Header.Get("Authorization"))
	if err != nil {
		return devops.Caller{}, err
	}
	ctx := r.Context()
	if devops.LooksLikePAT(tok) {
		return h.svc.AuthenticatePAT(ctx, tok)
	}
	if jt := h.jobTokens(); jt != nil {
		c, ok, err := jt.VerifyJobToken(ctx, tok)
		if ok {
			if err != nil {
				return devops.Caller{}, err
			}
			if c.Kind != devops.CallerJob {
				return devops.Caller{}, errors.New("devopshttp: job token verifier returned a caller that is not a job")
			}
			return c, nil
		}
	}
	if strings.Count(tok, ".") != 2 {
		return devops.Caller{}, devops.ErrUnauthorized("The token is neither a personal access token nor an access token.")
	}
	if h.cfg.Tokens == nil {
		return devops.Caller{}, devops.ErrUnauthorized("This server does not accept access tokens here; use a personal access token.")
	}
	claims, err := h.cfg.Tokens.Verify(ctx, tok, token.Expect{Audiences: h.audiences})
	if err != nil {
		var te *token.Error
		if errors.As(err, &te) {
			return devops.Caller{}, devops.ErrUnauthorized(tokenReason(te))
		}
		return devops.Caller{}, err
	}
	p := devops.PrincipalRef{TenantID: claims.TenantID, ObjectID: claims.ObjectID}
	return devops.Caller{
		Kind: devops.CallerToken, Principal: p, DisplayName: claims.AppID,
		Administrator: h.svc.IsAdministrator(p),
	}, nil
}

// tokenReason says why an access token was refused, with the offending claim values
// (which are not secret) but never the token.
func tokenReason(te *token.Error) string {
	switch {
	case errors.Is(te, token.ErrExpired):
		return "The access token has expired."
	case errors.Is(te, token.ErrNotYetValid):
		return "The access token is not valid yet."
	case errors.Is(te, token.ErrAudience):
		return "The access token's audience " + clip(te.Found) + " is not accepted here; request a token for " + AzureDevOpsResource + "."
	case errors.Is(te, token.ErrIssuer):
		return "The access token was not issued by this server."
	}
	return "The access token is not valid."
}
