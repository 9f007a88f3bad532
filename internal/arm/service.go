// Package arm is Keystage's management plane, shaped like Azure Resource Manager:
// subscriptions, resource groups, Key Vaults, user-assigned managed identities, role
// definitions and role assignments, every call authorized by RBAC.
package arm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/storage"
)

// PrincipalType is ARM's principalType of a role assignment and systemData's identity type;
// authz defines the values.
type PrincipalType = authz.PrincipalType

// The principal types Keystage knows.
const (
	PrincipalUser             = authz.PrincipalUser
	PrincipalServicePrincipal = authz.PrincipalServicePrincipal
	PrincipalGroup            = authz.PrincipalGroup
	PrincipalForeignGroup     = authz.PrincipalForeignGroup
	PrincipalDevice           = authz.PrincipalDevice
)

// Caller is the authenticated principal a management call is made on behalf of, taken from
// a verified access token.
type Caller struct {
	TenantID string
	// ObjectID is the principal's object id (the token's oid claim).
	ObjectID string
	// AppID is the client application id (appid/azp); "" for users.
	AppID string
	Type  PrincipalType
}

// Config holds the management plane's knobs.
type Config struct {
	// VaultSuffix is the DNS suffix of vault host names ("vault.localhost"); vaultUri is
	// https://{name}.{VaultSuffix}[:{VaultPort}]/.
	VaultSuffix string
	// VaultPort is the HTTPS port of vault URLs; 0 and 443 leave the port out.
	VaultPort int
	// MaxRoleAssignments bounds the role assignments of one subscription (and of the scopes
	// above subscriptions); 0 means DefaultMaxRoleAssignments.
	MaxRoleAssignments int
	// VaultData, when set, is told to delete a vault's data when the vault is purged.
	VaultData VaultData
	// Logger receives audit and diagnostic logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Service is the management plane. It is safe for concurrent use. Reads of vaults, role
// assignments and role definitions are answered from an in-memory cache that the service
// keeps current for its own writes (see cache.go for what several replicas would need).
type Service struct {
	store storage.Backend
	dir   Directory
	cfg   Config
	log   *slog.Logger
	now   func() time.Time

	// writeMu serializes writes that change cached records, so that the cache applies
	// committed changes in commit order.
	writeMu sync.Mutex
	cache   *cache
}

// New returns a Service over store (the barrier-wrapped backend) that delegates managed
// identities to dir. It loads the cache from store.
func New(ctx context.Context, store storage.Backend, dir Directory, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("arm: no storage")
	}
	if dir == nil {
		return nil, errors.New("arm: no directory")
	}
	cfg.VaultSuffix = strings.ToLower(strings.Trim(cfg.VaultSuffix, "."))
	if cfg.VaultSuffix == "" {
		return nil, errors.New("arm: no vault DNS suffix")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRoleAssignments <= 0 {
		cfg.MaxRoleAssignments = DefaultMaxRoleAssignments
	}
	s := &Service{store: store, dir: dir, cfg: cfg, log: cfg.Logger, now: cfg.Now}
	c, err := loadCache(ctx, store, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s.cache = c
	return s, nil
}

// vaultURI returns the data-plane URL of the vault named name.
func (s *Service) vaultURI(name string) string {
	host := strings.ToLower(name) + "." + s.cfg.VaultSuffix
	if p := s.cfg.VaultPort; p != 0 && p != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(p))
	}
	return "https://" + host + "/"
}

// update runs fn in a storage transaction and, when it commits, applies the cache changes fn
// recorded. Only one such update runs at a time.
func (s *Service) update(ctx context.Context, fn func(tx storage.Store, ch *changes) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var ch *changes
	err := s.store.Update(ctx, func(tx storage.Store) error {
		ch = &changes{} // fn may run more than once; keep only the last attempt's changes
		return fn(tx, ch)
	})
	if err != nil {
		return err
	}
	s.cache.apply(ch)
	return nil
}

// storageError wraps an unexpected storage failure for the caller's log.
func storageError(op string, err error) error {
	return fmt.Errorf("arm: %s: %w", op, err)
}

// SystemData records who created and last modified a resource, as ARM's systemData does.
type SystemData struct {
	CreatedBy          string    `json:"createdBy,omitempty"`
	CreatedByType      string    `json:"createdByType,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	LastModifiedBy     string    `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string    `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     time.Time `json:"lastModifiedAt"`
}

// identityType maps a caller to systemData's createdByType: "User" or "Application".
func (c Caller) identityType() string {
	if c.Type == PrincipalUser {
		return "User"
	}
	return "Application"
}

// touch returns sd updated for a write by c at now; a zero sd becomes a creation.
func (sd SystemData) touch(c Caller, now time.Time) SystemData {
	by := c.ObjectID
	if c.AppID != "" && c.Type != PrincipalUser {
		by = c.AppID
	}
	if sd.CreatedAt.IsZero() {
		sd.CreatedBy, sd.CreatedByType, sd.CreatedAt = by, c.identityType(), now
	}
	sd.LastModifiedBy, sd.LastModifiedByType, sd.LastModifiedAt = by, c.identityType(), now
	return sd
}
