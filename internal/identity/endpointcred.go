package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

const (
	endpointMACPurpose = "identity/endpoint-credential/v1"
	endpointIDBytes    = 12
	endpointSecretLen  = 32
	// MaxEndpointIdentities caps the identities one header may act as.
	MaxEndpointIdentities = 50
	// maxHeaderLen bounds the X-IDENTITY-HEADER values worth parsing.
	maxHeaderLen = 256
)

// IdentityRef names a managed identity.
type IdentityRef struct {
	TenantID string `json:"tenantId"`
	ClientID string `json:"clientId"`
}

// IdentityEndpointCredential authorizes callers of the App-Service-style managed identity
// endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER) to get tokens for Identities.
type IdentityEndpointCredential struct {
	ID         string        `json:"id"`
	Identities []IdentityRef `json:"identities"`
	Created    time.Time     `json:"created"`
}

// NewIdentityEndpointCredential is a credential as created: Header is the IDENTITY_HEADER
// value, shown this once and stored only as a MAC.
type NewIdentityEndpointCredential struct {
	IdentityEndpointCredential
	Header string
}

// LogValue keeps the header out of logs.
func (n NewIdentityEndpointCredential) LogValue() slog.Value {
	return slog.StringValue("identity header " + n.ID)
}

// String keeps the header out of formatted output.
func (n NewIdentityEndpointCredential) String() string { return "identity header " + n.ID }

type storedEndpointCredential struct {
	IdentityEndpointCredential
	MAC []byte `json:"mac"`
}

// CreateIdentityEndpointCredential creates a header value bound to the given managed
// identities (each must exist). The value is "{id}.{secret}" with 256 random bits of secret.
func (s *Service) CreateIdentityEndpointCredential(ctx context.Context, identities []IdentityRef) (NewIdentityEndpointCredential, error) {
	if len(identities) == 0 || len(identities) > MaxEndpointIdentities {
		return NewIdentityEndpointCredential{}, badRequest("An identity header must be bound to 1 to %d managed identities.", MaxEndpointIdentities)
	}
	refs := make([]IdentityRef, 0, len(identities))
	seen := map[IdentityRef]bool{}
	for _, r := range identities {
		mi, err := s.ManagedIdentity(ctx, r.TenantID, r.ClientID)
		if err != nil {
			return NewIdentityEndpointCredential{}, err
		}
		ref := IdentityRef{TenantID: mi.TenantID, ClientID: mi.ClientID}
		if !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	var idb [endpointIDBytes]byte
	secret := make([]byte, endpointSecretLen)
	if _, err := rand.Read(idb[:]); err != nil {
		return NewIdentityEndpointCredential{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return NewIdentityEndpointCredential{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(idb[:])
	header := id + "." + base64.RawURLEncoding.EncodeToString(secret)
	cred := IdentityEndpointCredential{ID: id, Identities: refs, Created: s.now().UTC()}
	rec := storedEndpointCredential{IdentityEndpointCredential: cred, MAC: s.endpointMAC(header)}
	if err := storage.PutJSON(ctx, s.st, endpointCredsPrefix+id, rec); err != nil {
		return NewIdentityEndpointCredential{}, storageError("create identity header", err)
	}
	s.log.InfoContext(ctx, "identity endpoint credential created", "id", id, "identities", len(refs))
	return NewIdentityEndpointCredential{IdentityEndpointCredential: cred, Header: header}, nil
}

func (s *Service) endpointMAC(header string) []byte {
	return s.mac.MAC(endpointMACPurpose, []byte(header))
}

// IdentityEndpointCredentials lists the credentials (never their header values).
func (s *Service) IdentityEndpointCredentials(ctx context.Context) ([]IdentityEndpointCredential, error) {
	recs, err := storage.ListJSON[storedEndpointCredential](ctx, s.st, endpointCredsPrefix, "", 0)
	if err != nil {
		return nil, storageError("list identity headers", err)
	}
	out := make([]IdentityEndpointCredential, len(recs))
	for i, r := range recs {
		out[i] = r.IdentityEndpointCredential
	}
	return out, nil
}

// DeleteIdentityEndpointCredential revokes the credential id.
func (s *Service) DeleteIdentityEndpointCredential(ctx context.Context, id string) error {
	if !validEndpointID(id) {
		return notFound("Identity header '%s' not found.", truncate(id))
	}
	err := s.st.Update(ctx, func(tx storage.Store) error {
		if ok, err := exists(ctx, tx, endpointCredsPrefix+id); err != nil {
			return err
		} else if !ok {
			return notFound("Identity header '%s' not found.", id)
		}
		return tx.Delete(ctx, endpointCredsPrefix+id)
	})
	if err != nil {
		return storageError("delete identity header", err)
	}
	s.log.InfoContext(ctx, "identity endpoint credential deleted", "id", id)
	return nil
}

func validEndpointID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(endpointIDBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil
}

// errBadIdentityHeader is the one answer to a missing, malformed, unknown or wrong header,
// so callers learn nothing about which it was.
var errBadIdentityHeader = fault.New(fault.Unauthorized, "invalid_request", "The X-IDENTITY-HEADER header is missing or invalid.")

// authenticateHeader returns the credential a header value belongs to, comparing MACs in
// constant time.
func (s *Service) authenticateHeader(ctx context.Context, header string) (IdentityEndpointCredential, error) {
	if header == "" || len(header) > maxHeaderLen {
		return IdentityEndpointCredential{}, errBadIdentityHeader
	}
	id, _, ok := strings.Cut(header, ".")
	if !ok || !validEndpointID(id) {
		return IdentityEndpointCredential{}, errBadIdentityHeader
	}
	var rec storedEndpointCredential
	err := storage.GetJSON(ctx, s.st, endpointCredsPrefix+id, &rec)
	if errors.Is(err, storage.ErrNotFound) {
		return IdentityEndpointCredential{}, errBadIdentityHeader
	}
	if err != nil {
		return IdentityEndpointCredential{}, storageError("check identity header", err)
	}
	if !hmac.Equal(rec.MAC, s.endpointMAC(header)) {
		return IdentityEndpointCredential{}, errBadIdentityHeader
	}
	return rec.IdentityEndpointCredential, nil
}
