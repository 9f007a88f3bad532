package identity

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/token"
)

// ManagedIdentityTokenRequest is a request to the App-Service-style managed identity
// endpoint: the X-IDENTITY-HEADER value, the resource, and at most one selector.
type ManagedIdentityTokenRequest struct {
	Header     string
	Resource   string
	ClientID   string
	ObjectID   string
	ResourceID string
}

// LogValue keeps the header out of logs.
func (r ManagedIdentityTokenRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("resource", truncate(r.Resource)), slog.String("client_id", truncate(r.ClientID)),
		slog.String("object_id", truncate(r.ObjectID)), slog.String("mi_res_id", truncate(r.ResourceID)))
}

// ManagedIdentityToken issues a token for one of the managed identities the header is bound
// to. Without a selector the header must be bound to exactly one identity (the analogue of
// a system-assigned identity). A wrong header is fault.Unauthorized; an identity not bound
// to the header, an unknown resource or an ambiguous request is fault.BadRequest.
func (s *Service) ManagedIdentityToken(ctx context.Context, req ManagedIdentityTokenRequest) (token.Token, error) {
	cred, err := s.authenticateHeader(ctx, req.Header)
	if err != nil {
		return token.Token{}, err
	}
	n := 0
	for _, v := range []string{req.ClientID, req.ObjectID, req.ResourceID} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return token.Token{}, fault.New(fault.BadRequest, "invalid_request", "Specify at most one of client_id, object_id and mi_res_id.")
	}
	mi, err := s.selectIdentity(ctx, cred, req)
	if err != nil {
		return token.Token{}, err
	}
	if req.Resource == "" {
		return token.Token{}, fault.New(fault.BadRequest, "invalid_request", "The resource parameter is required.")
	}
	if !s.resourceAccepted(req.Resource) {
		return token.Token{}, grantError(fault.BadRequest, CodeInvalidResource, AADSTSResourceNotFound,
			"The resource principal named %s was not found in the tenant named %s.", truncate(req.Resource), mi.TenantID)
	}
	return s.issuer.Issue(ctx, token.Grant{
		TenantID: mi.TenantID, ObjectID: mi.PrincipalID, AppID: mi.ClientID, AppIDACR: token.ACRAssertion,
		Resource: req.Resource, Lifetime: s.cfg.ManagedIdentityTokenLifetime, ManagedIdentityResourceID: mi.ResourceID,
	})
}

// errIdentityNotBound answers selectors naming an identity the header may not use (or
// that does not exist: the two are indistinguishable to the caller).
var errIdentityNotBound = fault.New(fault.BadRequest, "invalid_request", "Identity not found: the requested identity isn't assigned to this resource.")

func (s *Service) selectIdentity(ctx context.Context, cred IdentityEndpointCredential, req ManagedIdentityTokenRequest) (ManagedIdentity, error) {
	load := func(ref IdentityRef) (ManagedIdentity, error) {
		mi, err := getManagedIdentity(ctx, s.st, ref.TenantID, ref.ClientID)
		if errors.Is(err, ErrNotFound) {
			return ManagedIdentity{}, errIdentityNotBound
		}
		return mi, err
	}
	switch {
	case req.ClientID != "":
		id, ok := NormalizeGUID(req.ClientID)
		for _, ref := range cred.Identities {
			if ok && ref.ClientID == id {
				return load(ref)
			}
		}
		return ManagedIdentity{}, errIdentityNotBound
	case req.ObjectID != "" || req.ResourceID != "":
		oid, _ := NormalizeGUID(req.ObjectID)
		for _, ref := range cred.Identities {
			mi, err := load(ref)
			if errors.Is(err, errIdentityNotBound) {
				continue
			}
			if err != nil {
				return ManagedIdentity{}, err
			}
			if (req.ObjectID != "" && mi.PrincipalID == oid) || (req.ResourceID != "" && strings.EqualFold(mi.ResourceID, req.ResourceID)) {
				return mi, nil
			}
		}
		return ManagedIdentity{}, errIdentityNotBound
	case len(cred.Identities) == 1:
		return load(cred.Identities[0])
	}
	return ManagedIdentity{}, fault.New(fault.BadRequest, "invalid_request",
		"This identity header is bound to %d managed identities; specify client_id, object_id or mi_res_id.", len(cred.Identities))
}
