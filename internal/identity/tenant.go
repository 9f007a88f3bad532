package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Tenant is a directory. Its ID is a lower-case GUID.
type Tenant struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Created     time.Time `json:"created"`
}

// maxDisplayName caps display names (Entra allows 256 characters).
const maxDisplayName = 256

func checkDisplayName(name string) error {
	if strings.TrimSpace(name) == "" {
		return badRequest("The display name is required.")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxDisplayName {
		return badRequest("The display name must be valid UTF-8 of at most %d characters.", maxDisplayName)
	}
	return nil
}

// CreateTenant creates a tenant with a new signing key.
func (s *Service) CreateTenant(ctx context.Context, displayName string) (Tenant, error) {
	if err := checkDisplayName(displayName); err != nil {
		return Tenant{}, err
	}
	t := Tenant{ID: newID(), DisplayName: displayName, Created: s.now().UTC()}
	key, err := s.keys.Generate(t.ID)
	if err != nil {
		return Tenant{}, fmt.Errorf("identity: create tenant: %w", err)
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if err := storage.PutJSON(ctx, tx, tenantKey(t.ID), t); err != nil {
			return err
		}
		return s.keys.Put(ctx, tx, t.ID, key, true)
	})
	if err != nil {
		return Tenant{}, storageError("create tenant", err)
	}
	s.log.InfoContext(ctx, "tenant created", "tenant", t.ID)
	return t, nil
}

// Tenant returns the tenant id, which may be any-case GUID.
func (s *Service) Tenant(ctx context.Context, id string) (Tenant, error) {
	tid, ok := NormalizeGUID(id)
	if !ok {
		return Tenant{}, notFound("Tenant '%s' not found.", truncate(id))
	}
	var t Tenant
	err := storage.GetJSON(ctx, s.st, tenantKey(tid), &t)
	if errors.Is(err, storage.ErrNotFound) {
		return Tenant{}, notFound("Tenant '%s' not found.", tid)
	}
	if err != nil {
		return Tenant{}, storageError("get tenant", err)
	}
	return t, nil
}

// Tenants lists all tenants in id order.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) {
	ts, err := storage.ListJSON[Tenant](ctx, s.st, tenantsPrefix, "", 0)
	if err != nil {
		return nil, storageError("list tenants", err)
	}
	return ts, nil
}

// generalTenants are the multi-tenant aliases Entra accepts in authority paths but refuses
// for app-only (client-credentials) requests.
var generalTenants = map[string]bool{"common": true, "organizations": true, "consumers": true}

// ResolveTenant maps the tenant segment of an authority path to a tenant, with Entra's
// errors: a general alias gives AADSTS50059, something that is not a GUID AADSTS900023, an
// unknown GUID AADSTS90002. Keystage tenants have no domain names, so only GUIDs resolve.
func (s *Service) ResolveTenant(ctx context.Context, segment string) (Tenant, error) {
	if generalTenants[strings.ToLower(segment)] {
		return Tenant{}, grantError(fault.BadRequest, CodeInvalidRequest, AADSTSNoTenant,
			"No tenant-identifying information found in either the request or implied by any provided credentials. App-only requests need a tenant ID, not '%s'.", strings.ToLower(segment))
	}
	tid, ok := NormalizeGUID(segment)
	if !ok {
		return Tenant{}, grantError(fault.BadRequest, CodeInvalidRequest, AADSTSInvalidTenantID,
			"Specified tenant identifier '%s' is neither a valid DNS name, nor a valid external domain.", truncate(segment))
	}
	t, err := s.Tenant(ctx, tid)
	if errors.Is(err, ErrNotFound) {
		return Tenant{}, grantError(fault.BadRequest, CodeInvalidRequest, AADSTSTenantNotFound,
			"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tid)
	}
	return t, err
}

// SafeText prepares caller-supplied text for an error message (see truncate).
func SafeText(s string) string { return truncate(s) }

// truncate shortens caller-supplied text echoed in messages and replaces control
// characters, so it can neither flood a response nor forge the "\r\nTrace ID:" lines of an
// error description.
func truncate(s string) string {
	const max = 100
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
