package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/keystage/keystage/internal/storage"
)

// Names given to what Bootstrap creates.
const (
	DefaultTenantName = "Default Directory"
	AdminAppName      = "Keystage Administrator"
)

type bootstrapRecord struct {
	TenantID   string `json:"tenantId"`
	AdminAppID string `json:"adminAppId"`
}

// BootstrapOptions control Bootstrap.
type BootstrapOptions struct {
	// NewAdminSecret adds a fresh administrator secret even when the directory already
	// exists — for a server whose administrator credential file went missing.
	NewAdminSecret bool
}

// BootstrapResult is the default directory.
type BootstrapResult struct {
	Tenant Tenant
	// Admin is the administrator application; the server writes its credential file and
	// the management plane makes its service principal an Owner.
	Admin Application
	// AdminSecret is set when this call created an administrator secret (first start, or
	// NewAdminSecret): it is the only time its value is available.
	AdminSecret *NewClientSecret
	// Created reports whether this call created the directory.
	Created bool
}

var errAlreadyBootstrapped = errors.New("identity: already bootstrapped")

// Bootstrap creates, once, the default tenant with its signing key and the administrator
// application with a client secret, all in one transaction. Later calls (and concurrent
// calls from other processes sharing the database) return the existing directory without
// a secret unless opts.NewAdminSecret is set.
func (s *Service) Bootstrap(ctx context.Context, opts BootstrapOptions) (BootstrapResult, error) {
	res, err := s.existingBootstrap(ctx, opts)
	if err == nil || !errors.Is(err, storage.ErrNotFound) {
		return res, err
	}
	now := s.now().UTC()
	t := Tenant{ID: newID(), DisplayName: DefaultTenantName, Created: now}
	key, err := s.keys.Generate(t.ID)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("identity: bootstrap: %w", err)
	}
	admin := Application{
		TenantID: t.ID, AppID: newID(), ObjectID: newID(), ServicePrincipalID: newID(),
		DisplayName: AdminAppName, Created: now,
	}
	secret, err := s.newSecret(admin, SecretOptions{DisplayName: "bootstrap"})
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("identity: bootstrap: %w", err)
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if ok, err := exists(ctx, tx, bootstrapKey); err != nil {
			return err
		} else if ok {
			return errAlreadyBootstrapped
		}
		if err := storage.PutJSON(ctx, tx, tenantKey(t.ID), t); err != nil {
			return err
		}
		if err := s.keys.Put(ctx, tx, t.ID, key, true); err != nil {
			return err
		}
		if err := putApplication(ctx, tx, admin); err != nil {
			return err
		}
		if err := s.putSecret(ctx, tx, admin, secret); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, bootstrapKey, bootstrapRecord{TenantID: t.ID, AdminAppID: admin.AppID})
	})
	if errors.Is(err, errAlreadyBootstrapped) {
		return s.existingBootstrap(ctx, opts)
	}
	if err != nil {
		return BootstrapResult{}, storageError("bootstrap", err)
	}
	s.log.InfoContext(ctx, "identity bootstrapped", "tenant", t.ID, "admin_app_id", admin.AppID)
	return BootstrapResult{Tenant: t, Admin: admin, AdminSecret: &secret, Created: true}, nil
}

// existingBootstrap loads a completed bootstrap, or returns storage.ErrNotFound.
func (s *Service) existingBootstrap(ctx context.Context, opts BootstrapOptions) (BootstrapResult, error) {
	var rec bootstrapRecord
	if err := storage.GetJSON(ctx, s.st, bootstrapKey, &rec); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return BootstrapResult{}, err
		}
		return BootstrapResult{}, storageError("bootstrap", err)
	}
	t, err := s.Tenant(ctx, rec.TenantID)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("identity: bootstrap record names a missing tenant: %w", err)
	}
	admin, err := s.Application(ctx, rec.TenantID, rec.AdminAppID)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("identity: bootstrap record names a missing administrator: %w", err)
	}
	res := BootstrapResult{Tenant: t, Admin: admin}
	if opts.NewAdminSecret {
		secret, err := s.AddClientSecret(ctx, t.ID, admin.AppID, SecretOptions{DisplayName: "bootstrap"})
		if err != nil {
			return BootstrapResult{}, err
		}
		res.AdminSecret = &secret
	}
	return res, nil
}

// DefaultTenant returns the tenant Bootstrap created.
func (s *Service) DefaultTenant(ctx context.Context) (Tenant, error) {
	var rec bootstrapRecord
	err := storage.GetJSON(ctx, s.st, bootstrapKey, &rec)
	if errors.Is(err, storage.ErrNotFound) {
		return Tenant{}, notFound("Keystage has not been bootstrapped.")
	}
	if err != nil {
		return Tenant{}, storageError("default tenant", err)
	}
	return s.Tenant(ctx, rec.TenantID)
}
