package identity

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// ErrNotFound is wrapped by every not-found error of the service (a *fault.Error of kind
// fault.NotFound), so callers can test errors.Is(err, identity.ErrNotFound).
var ErrNotFound = errors.New("identity: not found")

// OAuth error codes of the token endpoint (fault.Error.Code of grant errors).
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidClient        = "invalid_client"
	CodeUnauthorizedClient   = "unauthorized_client"
	CodeInvalidScope         = "invalid_scope"
	CodeInvalidResource      = "invalid_resource"
	CodeUnsupportedGrantType = "unsupported_grant_type"
)

// AADSTS codes Keystage answers with (identity.md §1.6, plus the request-shape codes Entra
// uses). fault.Error.Inner carries them as "AADSTS<n>".
const (
	AADSTSTenantNotFound            = 90002   // tenant does not exist
	AADSTSNoTenant                  = 50059   // common/organizations/consumers in a client-credentials request
	AADSTSInvalidTenantID           = 900023  // tenant segment is neither a GUID nor a domain
	AADSTSMissingParameter          = 900144  // a required body parameter is missing
	AADSTSDuplicateParameter        = 9000411 // a parameter appears twice
	AADSTSMalformedRequest          = 9002313 // malformed or contradictory request
	AADSTSRequestTooLarge           = 90015   // request body too large
	AADSTSUnsupportedGrant          = 70003   // grant_type other than client_credentials
	AADSTSAppNotFound               = 700016  // client_id is no app or managed identity of the tenant
	AADSTSMissingCredential         = 7000218 // neither client_secret nor client_assertion
	AADSTSInvalidSecret             = 7000215 // wrong client secret
	AADSTSExpiredSecret             = 7000222 // client secret expired
	AADSTSInvalidAssertion          = 50027   // assertion is not a well-formed RS256 JWT
	AADSTSAssertionSignature        = 700027  // assertion signature or key invalid
	AADSTSAssertionTime             = 700024  // assertion outside its valid time range
	AADSTSNoFederatedCredential     = 70025   // client has no federated identity credentials
	AADSTSNoMatchingFederatedCred   = 70021   // no FIC matches (generic)
	AADSTSFederatedIssuerMismatch   = 700211  // no FIC for the assertion issuer
	AADSTSFederatedAudienceMismatch = 700212  // no FIC for the assertion audience
	AADSTSFederatedSubjectMismatch  = 700213  // no FIC for the assertion subject
	AADSTSFederatedSubjectCase      = 7002138 // subject matches a FIC only ignoring case
	AADSTSExternalOIDCFailed        = 50166   // fetching the issuer's metadata or keys failed
	AADSTSScopeNotDefault           = 1002012 // client-credential scope must be <resource>/.default
	AADSTSInvalidScope              = 70011   // scope malformed or names several resources
	AADSTSResourceNotFound          = 500011  // resource principal not found
)

// grantError returns the classified error of a token request.
func grantError(kind fault.Kind, oauthCode string, aadsts int, format string, args ...any) *fault.Error {
	return fault.New(kind, oauthCode, format, args...).WithInner("AADSTS" + strconv.Itoa(aadsts))
}

// AADSTS returns the AADSTS number carried by err, or 0.
func AADSTS(err error) int {
	var fe *fault.Error
	if !errors.As(err, &fe) || len(fe.Inner) <= len("AADSTS") || fe.Inner[:6] != "AADSTS" {
		return 0
	}
	n, _ := strconv.Atoi(fe.Inner[6:])
	return n
}

func notFound(format string, args ...any) error {
	return fault.New(fault.NotFound, "NotFound", format, args...).Wrap(ErrNotFound)
}

func badRequest(format string, args ...any) error {
	return fault.New(fault.BadRequest, "BadRequest", format, args...)
}

func conflict(format string, args ...any) error {
	return fault.New(fault.Conflict, "Conflict", format, args...)
}

// storageError classifies a storage failure: a serialization conflict is a 409 the caller
// may retry; anything else stays internal.
func storageError(op string, err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, storage.ErrConflict) {
		return fault.New(fault.Conflict, "Conflict", "A concurrent change to the same identity conflicted; retry the request.").Wrap(err)
	}
	return fmt.Errorf("identity: %s: %w", op, err)
}
