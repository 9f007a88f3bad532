// Package keyvault owns the Key Vault secrets domain: secrets and their versions, attributes,
// soft delete, recovery and purge, backup blobs, validation and limits, and the audit trail
// of data-plane calls.
//
// Every value goes through the storage.Backend the Service is given, which in the server is
// the encryption barrier, so secret values and metadata are sealed at rest. Storage keys hold
// the vault id and the lower-cased secret name (secret names are case-insensitive):
//
//	kv/{vault id}/s/{name}             active secret: display name, latest version, its metadata
//	kv/{vault id}/d/{name}             soft-deleted secret: the same plus deletion dates
//	kv/{vault id}/v/{name}/{version}   one version: value and metadata
//	kvpurge/{unix seconds}/{vault id}/{name}   when the sweeper purges a deleted secret
//	kvaudit/{unix nanoseconds}-{seq}   a batch of audit events
//
// Errors are *fault.Error values carrying Key Vault's codes and messages, ready for the
// transport to render.
package keyvault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

// Vault is what the secrets domain needs to know about a vault. The transport resolves it
// (from the management plane) for every call; the Service keeps no vault state of its own.
type Vault struct {
	// ID is the vault's immutable identity, [0-9A-Za-z-]{1,64}. Secrets are stored under it,
	// so a vault deleted and created again under the same name starts empty.
	ID string
	// Name is the vault name as in its host name.
	Name string
	// TenantID is the directory the vault belongs to; backups are bound to it.
	TenantID string
	// RetentionDays is the soft-delete retention, 7–90 days; 0 means 90.
	RetentionDays int
	// PurgeProtection forbids purging deleted secrets before their retention ends.
	PurgeProtection bool
}

// Retention returns the vault's soft-delete retention in days (7–90).
func (v Vault) Retention() int {
	switch {
	case v.RetentionDays <= 0:
		return 90
	case v.RetentionDays < 7:
		return 7
	case v.RetentionDays > 90:
		return 90
	}
	return v.RetentionDays
}

// RecoveryLevel returns the DeletionRecoveryLevel Key Vault reports for the vault's secrets.
// "Customized" marks a retention below 90 days; "Purgeable" says a caller may purge, which
// purge protection forbids.
func (v Vault) RecoveryLevel() string {
	level := "Recoverable"
	if v.Retention() < 90 {
		level = "CustomizedRecoverable"
	}
	if !v.PurgeProtection {
		level += "+Purgeable"
	}
	return level
}

func (v Vault) check() error {
	if v.ID == "" || len(v.ID) > 64 {
		return fmt.Errorf("keyvault: vault id %q: want 1 to 64 characters", v.ID)
	}
	for i := 0; i < len(v.ID); i++ {
		if !isNameByte(v.ID[i]) {
			return fmt.Errorf("keyvault: vault id %q: want [0-9A-Za-z-]", v.ID)
		}
	}
	return nil
}

// KeyDeriver derives keys from the instance's secret key material. *barrier.Barrier
// implements it with its MAC key, which never rotates, so backups stay restorable.
type KeyDeriver interface {
	MAC(purpose string, msg []byte) []byte
}

// Config tunes a Service. The zero Config is usable.
type Config struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages (never values); nil discards them.
	Logger *slog.Logger
	// CacheEntries bounds the in-memory cache of latest versions; 0 means 100,000 and a
	// negative value disables the cache. The cache is invalidated by every write this Service
	// makes: several servers sharing one database must disable it (see cache.go).
	CacheEntries int
	// SweepInterval is how often Run purges deleted secrets whose retention has ended;
	// 0 means one minute.
	SweepInterval time.Duration
}

// Service is the secrets domain service. It is safe for concurrent use.
type Service struct {
	store      storage.Backend
	keys       KeyDeriver
	now        func() time.Time
	log        *slog.Logger
	cache      *cache
	sweepEvery time.Duration
}

// New returns a Service storing into store (the encryption barrier in the server) and
// deriving backup keys from keys.
func New(store storage.Backend, keys KeyDeriver, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = 100_000
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	return &Service{
		store:      store,
		keys:       keys,
		now:        cfg.Now,
		log:        cfg.Logger,
		cache:      newCache(cfg.CacheEntries),
		sweepEvery: cfg.SweepInterval,
	}
}

// Run purges deleted secrets whose retention has ended, once at start and then every
// SweepInterval, until ctx ends. Errors are logged and retried at the next sweep.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("keyvault: purge sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("keyvault: purged deleted secrets whose retention ended", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// update runs fn in a storage transaction, retrying a few times when the backend reports a
// conflict it could not resolve itself (a hot secret written by many clients at once).
func (s *Service) update(ctx context.Context, fn func(tx storage.Store) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.store.Update(ctx, fn); !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return err
}

// target validates the vault and secret name of a call and returns the name's storage form.
func target(v Vault, name string) (string, error) {
	if err := v.check(); err != nil {
		return "", err
	}
	if err := checkName(name); err != nil {
		return "", err
	}
	return lower(name), nil
}

// absent returns nil when key does not exist, and errExists or a storage error otherwise.
func absent(ctx context.Context, st storage.Store, key string, errExists error) error {
	_, err := st.Get(ctx, key)
	switch {
	case err == nil:
		return errExists
	case errors.Is(err, storage.ErrNotFound):
		return nil
	}
	return err
}

// unix returns the current time truncated to the second, as Key Vault reports times.
func (s *Service) unix() int64 { return s.now().Unix() }

// Storage key layout; see the package comment.
const (
	prefixKV    = "kv/"
	prefixPurge = "kvpurge/"
	prefixAudit = "kvaudit/"
)

func activeKey(vid, lname string) string  { return prefixKV + vid + "/s/" + lname }
func deletedKey(vid, lname string) string { return prefixKV + vid + "/d/" + lname }
func activePrefix(vid string) string      { return prefixKV + vid + "/s/" }
func deletedPrefix(vid string) string     { return prefixKV + vid + "/d/" }
func versionPrefix(vid, lname string) string {
	return prefixKV + vid + "/v/" + lname + "/"
}
func versionKey(vid, lname, version string) string { return versionPrefix(vid, lname) + version }

// purgeKey orders scheduled purges by time: fixed-width seconds sort as numbers.
func purgeKey(at int64, vid, lname string) string {
	return fmt.Sprintf("%s%020d/%s/%s", prefixPurge, max(at, 0), vid, lname)
}

// lower folds a validated secret name (ASCII only) to its storage form.
func lower(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}
