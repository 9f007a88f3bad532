package identity

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/keystage/keystage/internal/storage"
)

// Entra's limits on federated identity credentials (identity.md §1.5).
const (
	MaxFederatedCredentials = 20
	maxFICField             = 600
	minFICName, maxFICName  = 3, 120
	// DefaultFederatedAudience is the audience Entra requires on exchanged assertions.
	DefaultFederatedAudience = "api://AzureADTokenExchange"
)

// FederatedCredential lets assertions from an external issuer authenticate an application
// or managed identity: an assertion matches when its iss and sub equal Issuer and Subject
// byte for byte and its aud contains Audiences[0].
type FederatedCredential struct {
	Name        string    `json:"name"`
	Issuer      string    `json:"issuer"`
	Subject     string    `json:"subject"`
	Audiences   []string  `json:"audiences"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
}

// validateFederatedCredential applies Entra's rules: a name of 3–120 characters of
// letters, digits, '-' and '_' starting with a letter or digit; an issuer the SSRF policy
// accepts; a subject of at most 600 characters without surrounding whitespace, control
// characters or the wildcard '*' (matching is exact, never a pattern); exactly one audience
// of at most 600 characters; a description of at most 600 characters.
func (s *Service) validateFederatedCredential(f FederatedCredential) error {
	if n := len(f.Name); n < minFICName || n > maxFICName {
		return badRequest("The federated identity credential name must be %d to %d characters long.", minFICName, maxFICName)
	}
	for i, r := range f.Name {
		alnum := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if !alnum && (i == 0 || (r != '-' && r != '_')) {
			return badRequest("The federated identity credential name '%s' must start with a letter or digit and contain only letters, digits, '-' and '_'.", truncate(f.Name))
		}
	}
	if err := s.fed.Policy().CheckIssuer(f.Issuer); err != nil {
		return badRequest("The federated identity credential issuer is not allowed: %v.", err)
	}
	if strings.Contains(f.Issuer, "*") {
		return badRequest("The issuer must not contain wildcards; issuers are matched exactly.")
	}
	if err := checkFICText("subject", f.Subject, true); err != nil {
		return err
	}
	if strings.Contains(f.Subject, "*") {
		return badRequest("The subject must not contain wildcards; subjects are matched exactly.")
	}
	if len(f.Audiences) != 1 {
		return badRequest("A federated identity credential must have exactly one audience, not %d.", len(f.Audiences))
	}
	if err := checkFICText("audience", f.Audiences[0], true); err != nil {
		return err
	}
	return checkFICText("description", f.Description, false)
}

func checkFICText(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return badRequest("The federated identity credential %s is required.", field)
	case len(v) > maxFICField:
		return badRequest("The federated identity credential %s is longer than %d characters.", field, maxFICField)
	case required && strings.TrimSpace(v) != v:
		return badRequest("The federated identity credential %s must not have leading or trailing whitespace.", field)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return badRequest("The federated identity credential %s must not contain control characters.", field)
	}
	return nil
}

// PutFederatedCredential creates the credential f.Name on the application or managed
// identity clientID, or replaces it (ARM's PUT semantics; names compare case-insensitively
// and keep their first spelling). It reports whether the credential was created.
func (s *Service) PutFederatedCredential(ctx context.Context, tenantID, clientID string, f FederatedCredential) (FederatedCredential, bool, error) {
	return s.writeFederatedCredential(ctx, tenantID, clientID, f, true)
}

// CreateFederatedCredential is PutFederatedCredential that refuses to replace (Graph's
// POST semantics).
func (s *Service) CreateFederatedCredential(ctx context.Context, tenantID, clientID string, f FederatedCredential) (FederatedCredential, error) {
	out, _, err := s.writeFederatedCredential(ctx, tenantID, clientID, f, false)
	return out, err
}

func (s *Service) writeFederatedCredential(ctx context.Context, tenantID, clientID string, f FederatedCredential, replace bool) (FederatedCredential, bool, error) {
	if err := s.validateFederatedCredential(f); err != nil {
		return FederatedCredential{}, false, err
	}
	c, err := s.lookupClient(ctx, tenantID, clientID)
	if err != nil {
		return FederatedCredential{}, false, err
	}
	tid, cid := c.tenantID(), c.clientID()
	f.Audiences = []string{f.Audiences[0]}
	created := false
	err = s.st.Update(ctx, func(tx storage.Store) error {
		existing, err := storage.ListJSON[FederatedCredential](ctx, tx, ficPrefix(tid, cid), "", 0)
		if err != nil {
			return err
		}
		var old *FederatedCredential
		for i, e := range existing {
			if strings.EqualFold(e.Name, f.Name) {
				old = &existing[i]
				continue
			}
			if e.Issuer == f.Issuer && e.Subject == f.Subject {
				return badRequest("Issuer and subject combination already exists for this identity (credential '%s').", e.Name)
			}
		}
		switch {
		case old != nil && !replace:
			return conflict("A federated identity credential named '%s' already exists.", old.Name)
		case old != nil:
			f.Name, f.Created = old.Name, old.Created
		case len(existing) >= MaxFederatedCredentials:
			return badRequest("An identity can have at most %d federated identity credentials.", MaxFederatedCredentials)
		default:
			f.Created, created = s.now().UTC(), true
		}
		return storage.PutJSON(ctx, tx, ficKey(tid, cid, f.Name), f)
	})
	if err != nil {
		return FederatedCredential{}, false, storageError("write federated credential", err)
	}
	s.log.InfoContext(ctx, "federated credential written", "tenant", tid, "client_id", cid, "name", f.Name, "issuer", f.Issuer, "created", created)
	return f, created, nil
}

// FederatedCredentials lists the credentials of clientID in name order.
func (s *Service) FederatedCredentials(ctx context.Context, tenantID, clientID string) ([]FederatedCredential, error) {
	c, err := s.lookupClient(ctx, tenantID, clientID)
	if err != nil {
		return nil, err
	}
	fs, err := storage.ListJSON[FederatedCredential](ctx, s.st, ficPrefix(c.tenantID(), c.clientID()), "", 0)
	if err != nil {
		return nil, storageError("list federated credentials", err)
	}
	return fs, nil
}

// FederatedCredential returns the credential name (any case) of clientID.
func (s *Service) FederatedCredential(ctx context.Context, tenantID, clientID, name string) (FederatedCredential, error) {
	c, err := s.lookupClient(ctx, tenantID, clientID)
	if err != nil {
		return FederatedCredential{}, err
	}
	var f FederatedCredential
	err = storage.GetJSON(ctx, s.st, ficKey(c.tenantID(), c.clientID(), name), &f)
	if errors.Is(err, storage.ErrNotFound) {
		return FederatedCredential{}, notFound("Federated identity credential '%s' not found.", truncate(name))
	}
	if err != nil {
		return FederatedCredential{}, storageError("get federated credential", err)
	}
	return f, nil
}

// DeleteFederatedCredential removes the credential name (any case) of clientID; the next
// exchange no longer matches it (credentials are read from storage on every exchange).
func (s *Service) DeleteFederatedCredential(ctx context.Context, tenantID, clientID, name string) error {
	c, err := s.lookupClient(ctx, tenantID, clientID)
	if err != nil {
		return err
	}
	key := ficKey(c.tenantID(), c.clientID(), name)
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if ok, err := exists(ctx, tx, key); err != nil {
			return err
		} else if !ok {
			return notFound("Federated identity credential '%s' not found.", truncate(name))
		}
		return tx.Delete(ctx, key)
	})
	if err != nil {
		return storageError("delete federated credential", err)
	}
	s.log.InfoContext(ctx, "federated credential deleted", "tenant", c.tenantID(), "client_id", c.clientID(), "name", name)
	return nil
}
