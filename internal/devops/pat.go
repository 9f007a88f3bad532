package devops

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// PATLength is the length of a personal access token: 52 characters of lower-case base32,
// the length Azure DevOps' classic tokens have and the one Azure Pipelines' Node libraries
// recognise as a PAT (they send other tokens as Bearer).
const PATLength = 52

const patPurpose = "devops/pat"

// ScopeFullAccess is the scope of a token that may do anything its owner may.
const ScopeFullAccess = "app_token"

// PAT is a personal access token's record. The token itself is never stored: only its MAC.
type PAT struct {
	// ID is the authorization id (authorizationId) that names the token.
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Owner       PrincipalRef `json:"owner"`
	OwnerName   string       `json:"ownerName,omitempty"`
	// OrgID restricts the token to one organization; empty means every organization.
	OrgID string `json:"orgId,omitempty"`
	// Scopes restrict what the token may do; nil means full access.
	Scopes    []string  `json:"scopes,omitempty"`
	ValidFrom time.Time `json:"validFrom"`
	ValidTo   time.Time `json:"validTo"`
}

// Scope returns the scopes as Azure DevOps writes them: space-separated, or app_token.
func (p PAT) Scope() string {
	if p.Scopes == nil {
		return ScopeFullAccess
	}
	return strings.Join(p.Scopes, " ")
}

// NewPATToken is a created token: the only time its value exists outside the caller.
type NewPATToken struct {
	PAT
	Token string
}

// LogValue keeps the token out of logs.
func (t NewPATToken) LogValue() slog.Value { return slog.StringValue("pat " + t.ID) }

// String keeps the token out of formatted output.
func (t NewPATToken) String() string { return "pat " + t.ID }

// NewPAT is what CreatePAT needs.
type NewPAT struct {
	DisplayName string
	// Scope is space-separated Azure DevOps scopes ("vso.build_execute vso.project");
	// empty or "app_token" means full access.
	Scope string
	// ValidTo is the expiry; zero means the configured default lifetime.
	ValidTo time.Time
	// OrgID restricts the token to one organization; empty means every organization.
	OrgID string
}

// CreatePAT creates a personal access token for owner and returns it with its value,
// which is shown once and stored only as a MAC.
func (s *Service) CreatePAT(ctx context.Context, owner IdentityRef, n NewPAT) (NewPATToken, error) {
	ref, err := PrincipalRef{TenantID: owner.TenantID, ObjectID: owner.ID}.normalized()
	if err != nil {
		return NewPATToken{}, err
	}
	if n.DisplayName == "" || len(n.DisplayName) > 256 {
		return NewPATToken{}, BadRequest("A personal access token needs a displayName of 1 to 256 characters.")
	}
	scopes, err := parseScopes(n.Scope)
	if err != nil {
		return NewPATToken{}, err
	}
	now := s.now().UTC()
	validTo := n.ValidTo.UTC()
	switch {
	case validTo.IsZero():
		validTo = now.Add(s.cfg.DefaultPATLifetime)
	case !validTo.After(now):
		return NewPATToken{}, BadRequest("validTo must be in the future.")
	case validTo.After(now.Add(MaxPATLifetime)):
		return NewPATToken{}, BadRequest("validTo must be at most one year from now.")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return NewPATToken{}, err
	}
	tok := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	pat := PAT{
		ID: newID(), DisplayName: n.DisplayName, Owner: ref, OwnerName: owner.DisplayName,
		OrgID: n.OrgID, Scopes: scopes, ValidFrom: now, ValidTo: validTo,
	}
	mac := hex.EncodeToString(s.mac.MAC(patPurpose, []byte(tok)))
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if pat.OrgID != "" {
			if _, err := s.organization(ctx, tx, pat.OrgID); err != nil {
				return err
			}
		}
		if err := storage.PutJSON(ctx, tx, patsPrefix+mac, pat); err != nil {
			return err
		}
		return tx.Put(ctx, patOwnerKey(ref, pat.ID), []byte(mac))
	})
	if err != nil {
		return NewPATToken{}, storageError("create personal access token", err)
	}
	return NewPATToken{PAT: pat, Token: tok}, nil
}

func patOwnerKey(p PrincipalRef, id string) string {
	return patOwnerPrefix + p.TenantID + "/" + p.ObjectID + "/" + id
}

// PATs lists owner's tokens (expired ones included), by id.
func (s *Service) PATs(ctx context.Context, owner PrincipalRef) ([]PAT, error) {
	ref, err := owner.normalized()
	if err != nil {
		return nil, err
	}
	entries, err := s.st.List(ctx, patOwnerPrefix+ref.TenantID+"/"+ref.ObjectID+"/", "", 0)
	if err != nil {
		return nil, storageError("list personal access tokens", err)
	}
	out := make([]PAT, 0, len(entries))
	for _, e := range entries {
		var p PAT
		if err := storage.GetJSON(ctx, s.st, patsPrefix+string(e.Value), &p); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			return nil, storageError("list personal access tokens", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// RevokePAT deletes owner's token id.
func (s *Service) RevokePAT(ctx context.Context, owner PrincipalRef, id string) error {
	ref, err := owner.normalized()
	if err != nil {
		return err
	}
	pid, ok := normalizeGUID(id)
	if !ok {
		return patNotFound(id)
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		mac, err := getString(ctx, tx, patOwnerKey(ref, pid))
		if errors.Is(err, storage.ErrNotFound) {
			return patNotFound(id)
		}
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, patsPrefix+mac); err != nil {
			return err
		}
		return tx.Delete(ctx, patOwnerKey(ref, pid))
	})
	if err != nil {
		return storageError("revoke personal access token", err)
	}
	return nil
}

func patNotFound(id string) error {
	return notFound(CodeTokenNotFound, "The personal access token %s could not be found.", clip(id))
}

// LooksLikePAT reports whether s has the shape of a Keystage personal access token.
func LooksLikePAT(s string) bool {
	if len(s) != PATLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// AuthenticatePAT returns the caller a personal access token stands for. Unknown, revoked
// and expired tokens give a 401 UnauthorizedRequestException that never echoes the token.
func (s *Service) AuthenticatePAT(ctx context.Context, token string) (Caller, error) {
	if !LooksLikePAT(token) {
		return Caller{}, ErrUnauthorized("The personal access token is not valid.")
	}
	mac := hex.EncodeToString(s.mac.MAC(patPurpose, []byte(token)))
	var p PAT
	err := storage.GetJSON(ctx, s.st, patsPrefix+mac, &p)
	if errors.Is(err, storage.ErrNotFound) {
		return Caller{}, ErrUnauthorized("The personal access token is not valid or was revoked.")
	}
	if err != nil {
		return Caller{}, storageError("authenticate personal access token", err)
	}
	if !s.now().Before(p.ValidTo) {
		return Caller{}, ErrUnauthorized("The personal access token expired on " + p.ValidTo.Format(time.RFC3339) + ".")
	}
	return Caller{
		Kind: CallerPAT, Principal: p.Owner, DisplayName: p.OwnerName, Administrator: s.admins[p.Owner],
		Scopes: p.Scopes, OrgID: p.OrgID, PATID: p.ID,
	}, nil
}

// ErrUnauthorized returns the 401 every failed authentication of the DevOps surface
// answers with; detail says why without echoing any credential.
func ErrUnauthorized(detail string) *fault.Error {
	return fault.New(fault.Unauthorized, CodeUnauthorized, "TF400813: The user is not authorized to access this resource. %s", detail)
}

// parseScopes validates a space-separated scope list; nil means full access.
func parseScopes(scope string) ([]string, error) {
	fields := strings.Fields(scope)
	if len(fields) == 0 || slices.Contains(fields, ScopeFullAccess) {
		return nil, nil
	}
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if !validScope(f) {
			return nil, BadRequest("The scope %q is invalid: use Azure DevOps scope names such as vso.build_execute, or app_token.", clip(f))
		}
		f = strings.ToLower(f)
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

func validScope(s string) bool {
	rest, ok := strings.CutPrefix(strings.ToLower(s), "vso.")
	if !ok || rest == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !('a' <= c && c <= 'z' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// HasScope reports whether the caller's token allows area at access a. Scopes follow
// Azure DevOps: "vso.{area}" reads, "vso.{area}_manage" (or "vso.{area}_execute" for
// build) changes, and a manage or execute scope also reads. Callers without scopes pass.
func (c Caller) HasScope(area string, a Access) bool {
	if c.Scopes == nil {
		return true
	}
	for _, s := range c.Scopes {
		rest, ok := strings.CutPrefix(s, "vso."+area)
		if !ok {
			continue
		}
		switch rest {
		case "":
			if a == Read {
				return true
			}
		case "_manage", "_execute", "_write", "_readwrite":
			return true
		case "_read":
			if a == Read {
				return true
			}
		}
	}
	return false
}
