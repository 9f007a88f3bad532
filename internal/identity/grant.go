package identity

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/storage"
)

// Wire values of the client-credentials grant.
const (
	GrantClientCredentials = "client_credentials"
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// ClientCredentialsRequest is a decoded token request. Exactly one of Scope (v2 endpoint)
// and Resource (v1 endpoint) is set; exactly one of ClientSecret and ClientAssertion.
type ClientCredentialsRequest struct {
	// Tenant is the tenant segment of the request path, as sent.
	Tenant              string
	ClientID            string
	ClientSecret        string
	ClientAssertionType string
	ClientAssertion     string
	Scope               string
	Resource            string
}

// LogValue keeps credentials out of logs.
func (r ClientCredentialsRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", truncate(r.Tenant)), slog.String("client_id", truncate(r.ClientID)),
		slog.Bool("secret", r.ClientSecret != ""), slog.Bool("assertion", r.ClientAssertion != ""))
}

// ClientCredentials authenticates an application (client secret or federated assertion)
// or a managed identity (federated assertion) and issues an access token for the requested
// resource, with Entra's AADSTS errors (as *fault.Error, Inner "AADSTS<n>").
func (s *Service) ClientCredentials(ctx context.Context, req ClientCredentialsRequest) (token.Token, error) {
	tenant, err := s.ResolveTenant(ctx, req.Tenant)
	if err != nil {
		return token.Token{}, err
	}
	resource := req.Resource
	if req.Scope != "" || resource == "" {
		if resource, err = ResourceFromScope(req.Scope); err != nil {
			return token.Token{}, err
		}
	}
	switch {
	case req.ClientSecret != "" && req.ClientAssertion != "":
		return token.Token{}, grantError(fault.BadRequest, CodeInvalidRequest, AADSTSMalformedRequest,
			"Invalid request. Send either client_secret or client_assertion, not both.")
	case req.ClientSecret == "" && req.ClientAssertion == "":
		return token.Token{}, grantError(fault.BadRequest, CodeInvalidClient, AADSTSMissingCredential,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case req.ClientAssertion != "" && req.ClientAssertionType != AssertionTypeJWTBearer:
		return token.Token{}, grantError(fault.BadRequest, CodeInvalidRequest, AADSTSMalformedRequest,
			"Invalid request. client_assertion_type must be '%s'.", AssertionTypeJWTBearer)
	case req.ClientAssertion == "" && req.ClientAssertionType != "":
		return token.Token{}, grantError(fault.BadRequest, CodeInvalidRequest, AADSTSMalformedRequest,
			"Invalid request. client_assertion_type was sent without client_assertion.")
	}
	c, err := s.lookupClient(ctx, tenant.ID, req.ClientID)
	if errors.Is(err, ErrNotFound) {
		return token.Token{}, grantError(fault.BadRequest, CodeUnauthorizedClient, AADSTSAppNotFound,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant, or if you sent your request to the wrong tenant.",
			truncate(req.ClientID), tenant.ID)
	}
	if err != nil {
		return token.Token{}, err
	}
	acr := token.ACRAssertion
	if req.ClientSecret != "" {
		if c.app == nil {
			return token.Token{}, grantError(fault.Unauthorized, CodeInvalidClient, AADSTSInvalidSecret,
				"Invalid client secret provided: managed identity '%s' has no client secrets; use a federated identity credential.", c.clientID())
		}
		if err := s.checkSecret(ctx, *c.app, req.ClientSecret); err != nil {
			return token.Token{}, err
		}
		acr = token.ACRSecret
	} else if err := s.checkAssertion(ctx, c, req.ClientAssertion); err != nil {
		return token.Token{}, err
	}
	if !s.resourceAccepted(resource) {
		return token.Token{}, grantError(fault.BadRequest, CodeInvalidResource, AADSTSResourceNotFound,
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
			truncate(resource), tenant.ID)
	}
	p := c.principal()
	lifetime := s.cfg.AppTokenLifetime
	if p.Kind == KindManagedIdentity {
		lifetime = s.cfg.ManagedIdentityTokenLifetime
	}
	return s.issuer.Issue(ctx, token.Grant{
		TenantID: p.TenantID, ObjectID: p.ObjectID, AppID: p.ClientID, AppIDACR: acr,
		Resource: resource, Lifetime: lifetime, ManagedIdentityResourceID: p.ResourceID,
	})
}

// oidcScopes are the OpenID scopes MSAL adds to every request; app-only tokens ignore them
// (and no refresh or id token is ever issued).
var oidcScopes = map[string]bool{"openid": true, "offline_access": true, "profile": true, "email": true}

// ResourceFromScope returns the resource of a client-credentials scope parameter:
// exactly one "<resource>/.default" besides MSAL's OpenID scopes.
func ResourceFromScope(scope string) (string, error) {
	var resources []string
	first := ""
	for _, sc := range strings.Split(scope, " ") {
		if sc == "" {
			continue
		}
		if first == "" {
			first = sc
		}
		if oidcScopes[strings.ToLower(sc)] {
			continue
		}
		r, ok := strings.CutSuffix(sc, "/.default")
		if !ok {
			return "", grantError(fault.BadRequest, CodeInvalidScope, AADSTSScopeNotDefault,
				"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", truncate(sc))
		}
		if r == "" {
			return "", grantError(fault.BadRequest, CodeInvalidScope, AADSTSInvalidScope,
				"The provided value for the input parameter 'scope' is not valid: '/.default' names no resource.")
		}
		if len(resources) == 0 || resources[0] != r {
			resources = append(resources, r)
		}
	}
	switch {
	case first == "":
		return "", grantError(fault.BadRequest, CodeInvalidRequest, AADSTSMissingParameter,
			"The request body must contain the following parameter: 'scope'.")
	case len(resources) == 0:
		return "", grantError(fault.BadRequest, CodeInvalidScope, AADSTSScopeNotDefault,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", truncate(first))
	case len(resources) > 1:
		return "", grantError(fault.BadRequest, CodeInvalidScope, AADSTSInvalidScope,
			"The provided value for the input parameter 'scope' is not valid: a client-credentials request can name one resource only.")
	}
	return resources[0], nil
}

// resourceAccepted reports whether r is a configured resource, allowing one trailing
// slash more or less (aud stays exactly r).
func (s *Service) resourceAccepted(r string) bool {
	if s.resources[r] || s.resources[r+"/"] {
		return true
	}
	trimmed, ok := strings.CutSuffix(r, "/")
	return ok && trimmed != "" && s.resources[trimmed]
}

// checkAssertion authenticates a client with a federated assertion (identity.md §1.4).
// Credentials are read from storage on every call, so a deleted or edited credential stops
// matching at once.
func (s *Service) checkAssertion(ctx context.Context, c client, raw string) error {
	a, err := federation.Parse(raw)
	if err != nil {
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSInvalidAssertion,
			"JWT token is invalid or malformed: %s.", strings.TrimPrefix(err.Error(), "federation: "))
	}
	if a.Issuer == c.clientID() && a.Subject == c.clientID() {
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSAssertionSignature,
			"Client assertion contains an invalid signature: certificate credentials are not supported by Keystage; use a client secret or a federated identity credential.")
	}
	fics, err := storage.ListJSON[FederatedCredential](ctx, s.st, ficPrefix(c.tenantID(), c.clientID()), "", 0)
	if err != nil {
		return storageError("list federated credentials", err)
	}
	if len(fics) == 0 {
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSNoFederatedCredential,
			"The client '%s' has no configured federated identity credentials.", c.clientID())
	}
	var byIssuer []FederatedCredential
	for _, f := range fics {
		if f.Issuer == a.Issuer {
			byIssuer = append(byIssuer, f)
		}
	}
	if len(byIssuer) == 0 {
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSFederatedIssuerMismatch,
			"No matching federated identity record found for presented assertion issuer '%s'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.", truncate(a.Issuer))
	}
	var match *FederatedCredential
	caseOnly := false
	for i, f := range byIssuer {
		if f.Subject == a.Subject {
			match = &byIssuer[i]
			break
		}
		caseOnly = caseOnly || strings.EqualFold(f.Subject, a.Subject)
	}
	if match == nil {
		code := AADSTSFederatedSubjectMismatch
		if caseOnly {
			code = AADSTSFederatedSubjectCase
		}
		return grantError(fault.Unauthorized, CodeInvalidClient, code,
			"No matching federated identity record found for presented assertion subject '%s'. Subjects are matched case-sensitively. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.", truncate(a.Subject))
	}
	err = s.fed.Verify(ctx, a, federation.Expectation{Issuer: match.Issuer, Subject: match.Subject, Audience: match.Audiences[0]})
	if err == nil {
		return nil
	}
	detail := strings.TrimPrefix(err.Error(), "federation: ")
	switch {
	case errors.Is(err, federation.ErrAudience):
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSFederatedAudienceMismatch,
			"No matching federated identity record found for presented assertion audience '%s'.", truncate(strings.Join(a.Audience, ",")))
	case errors.Is(err, federation.ErrTime):
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSAssertionTime,
			"Client assertion is not within its valid time range: %s.", detail)
	case errors.Is(err, federation.ErrSignature):
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSAssertionSignature,
			"Client assertion contains an invalid signature: %s.", detail)
	case errors.Is(err, federation.ErrMalformed):
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSInvalidAssertion,
			"JWT token is invalid or malformed: %s.", detail)
	case errors.Is(err, federation.ErrFetch), errors.Is(err, federation.ErrIssuerNotAllowed):
		// The detail (addresses, TLS errors) is logged through Err, not sent.
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSExternalOIDCFailed,
			"Request to External OIDC endpoint failed for issuer '%s'.", truncate(a.Issuer)).Wrap(err)
	case errors.Is(err, federation.ErrClaims):
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSNoMatchingFederatedCred,
			"No matching federated identity record found for presented assertion.")
	}
	return err
}

// Well-known resources Azure clients request tokens for.
const (
	ResourceARM      = "https://management.azure.com/"
	ResourceKeyVault = "https://vault.azure.net"
	ResourceGraph    = "https://graph.microsoft.com"
)
