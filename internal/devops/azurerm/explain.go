package azurerm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/credential"
	"github.com/keystage/keystage/internal/devops/oidc"
)

// AADSTS codes Verify explains (identity.md §1.6).
const (
	aadstsTenantNotFound   = 90002
	aadstsAppNotFound      = 700016
	aadstsInvalidSecret    = 7000215
	aadstsExpiredSecret    = 7000222
	aadstsAssertionTime    = 700024
	aadstsNoMatchingFIC    = 70021
	aadstsIssuerMismatch   = 700211
	aadstsAudienceMismatch = 700212
	aadstsSubjectMismatch  = 700213
	aadstsSubjectCase      = 7002138
	aadstsNoFIC            = 70025
	aadstsExternalOIDC     = 50166
	aadstsAssertionInvalid = 700027
)

// explainTokenError turns a failed token exchange into a VerifyResult whose message says,
// in plain words, what is wrong and how to fix it, followed by the identity provider's own
// message.
func (s *Service) explainTokenError(ctx context.Context, t verifyTarget, err error) VerifyResult {
	var ee *credential.EntraError
	if !errors.As(err, &ee) {
		return failed("BadRequest", "Getting a token for the connection failed: "+err.Error())
	}
	status := statusName(ee.StatusCode)
	detail := ee.Description
	if detail == "" {
		detail = ee.Error()
	}
	var msg string
	switch ee.AADSTS {
	case aadstsSubjectMismatch, aadstsSubjectCase:
		expected := s.ficSubjects(ctx, t)
		msg = fmt.Sprintf("The federated credential's subject does not match: expected %s, presented %q. Subjects are compared exactly, case included; update the federated credential's subject to %q.",
			expected, t.subject, t.subject)
	case aadstsNoFIC:
		msg = fmt.Sprintf("The identity has no federated credentials: add one with issuer %q and subject %q (audience %s).", t.issuer, t.subject, oidc.Audience)
	case aadstsIssuerMismatch:
		msg = fmt.Sprintf("No federated credential of the identity trusts this organization's issuer: add one with issuer %q and subject %q (audience %s).", t.issuer, t.subject, oidc.Audience)
	case aadstsNoMatchingFIC:
		msg = fmt.Sprintf("No federated credential of the identity matches the connection: it needs issuer %q, subject %q and audience %s.", t.issuer, t.subject, oidc.Audience)
	case aadstsAudienceMismatch:
		msg = fmt.Sprintf("The federated credential's audience must be %s.", oidc.Audience)
	case aadstsAppNotFound:
		msg = fmt.Sprintf("No application or managed identity with client id %s exists in tenant %s: check the connection's service principal id (client id) and tenant id.", t.clientID, t.tenantID)
	case aadstsTenantNotFound:
		msg = fmt.Sprintf("Tenant %s does not exist: check the connection's tenant id.", t.tenantID)
	case aadstsInvalidSecret:
		msg = fmt.Sprintf("The service principal key is wrong: create a new client secret for application %s and update the connection's key.", t.clientID)
	case aadstsExpiredSecret:
		msg = fmt.Sprintf("The service principal key has expired: create a new client secret for application %s and update the connection's key.", t.clientID)
	case aadstsAssertionTime:
		msg = "The connection's OIDC token was not within its valid time range: check that the server's clock is right."
	case aadstsExternalOIDC, aadstsAssertionInvalid:
		msg = fmt.Sprintf("The identity provider could not verify the connection's OIDC token with the keys of issuer %q: check that the issuer URL is reachable from the server.", t.issuer)
	default:
		var me *credential.ManagedIdentityError
		if errors.As(err, &me) {
			msg = fmt.Sprintf("Managed identity %s cannot get tokens: check that the connection names an existing user-assigned managed identity of tenant %s.", t.clientID, t.tenantID)
		} else {
			msg = "The identity provider refused the token request."
		}
	}
	return failed(status, msg+" ("+detail+")")
}

// ficSubjects describes the subjects the identity's federated credentials for the issuer
// expect, e.g. `"sc://org/p/old"`; it falls back to a generic phrase when they cannot be
// listed.
func (s *Service) ficSubjects(ctx context.Context, t verifyTarget) string {
	fics, err := s.id.FederatedCredentials(ctx, t.tenantID, t.clientID)
	if err != nil {
		return "the subject of the identity's federated credential"
	}
	var subs []string
	for _, f := range fics {
		if f.Issuer == t.issuer {
			subs = append(subs, fmt.Sprintf("%q", f.Subject))
		}
	}
	if len(subs) == 0 {
		return "the subject of the identity's federated credential"
	}
	return strings.Join(subs, " or ")
}
