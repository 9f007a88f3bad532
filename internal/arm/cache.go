package arm

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/storage"
)

// The cache answers the data plane's per-request questions (which vault is this, which role
// assignments apply) and the management plane's authorization checks without I/O. It holds
// immutable snapshots behind atomic pointers: readers never lock, and each committed write
// publishes new snapshots (copy on write; writes are rare next to reads).
//
// Consistency: Service.update applies a transaction's changes after it commits, under a
// mutex, so this process sees its own writes at once and in commit order. Several replicas
// over one PostgreSQL database would each miss the others' writes: a multi-replica
// deployment needs a change feed — for example a generation counter bumped in every write
// transaction plus PostgreSQL LISTEN/NOTIFY (or polling the counter every second or so) — on
// which each replica calls Service.Reload, and until then a bounded staleness that must be
// documented for revocations.
type cache struct {
	log    *slog.Logger
	vaults atomic.Pointer[map[string]*cachedVault] // lower-case name -> vault
	rbac   atomic.Pointer[rbacSnapshot]
	subs   atomic.Pointer[map[string]Subscription] // lower-case id -> subscription
}

// cachedVault is one vault as the cache keeps it.
type cachedVault struct {
	vault Vault
	info  VaultInfo
}

// rbacSnapshot is every role assignment and custom role, indexed for checks.
type rbacSnapshot struct {
	assignments map[string]*RoleAssignment    // lower-case name (GUID) -> record
	compiled    map[string]authz.Assignment   // lower-case name -> compiled assignment (valid ones)
	byPrincipal map[string][]authz.Assignment // lower-case principal id -> compiled assignments
	custom      map[string]*CustomRole        // lower-case GUID -> custom role
	roles       *authz.RoleSet                // built-in and custom roles
}

// changes records what a transaction wrote to cached records; cache.apply publishes them
// after the commit.
type changes struct {
	vaults      map[string]*Vault // nil value: deleted
	assignments map[string]*RoleAssignment
	roles       map[string]*CustomRole
	subs        map[string]*Subscription
}

func (ch *changes) putVault(v *Vault) {
	if ch.vaults == nil {
		ch.vaults = map[string]*Vault{}
	}
	c := *v
	ch.vaults[strings.ToLower(v.Name)] = &c
}

func (ch *changes) deleteVault(name string) {
	if ch.vaults == nil {
		ch.vaults = map[string]*Vault{}
	}
	ch.vaults[strings.ToLower(name)] = nil
}

func (ch *changes) putAssignment(ra *RoleAssignment) {
	if ch.assignments == nil {
		ch.assignments = map[string]*RoleAssignment{}
	}
	c := *ra
	ch.assignments[strings.ToLower(ra.Name)] = &c
}

func (ch *changes) deleteAssignment(name string) {
	if ch.assignments == nil {
		ch.assignments = map[string]*RoleAssignment{}
	}
	ch.assignments[strings.ToLower(name)] = nil
}

func (ch *changes) putRole(r *CustomRole) {
	if ch.roles == nil {
		ch.roles = map[string]*CustomRole{}
	}
	c := *r
	ch.roles[strings.ToLower(r.Definition.ID)] = &c
}

func (ch *changes) deleteRole(id string) {
	if ch.roles == nil {
		ch.roles = map[string]*CustomRole{}
	}
	ch.roles[strings.ToLower(id)] = nil
}

func (ch *changes) putSubscription(sub *Subscription) {
	if ch.subs == nil {
		ch.subs = map[string]*Subscription{}
	}
	c := *sub
	ch.subs[strings.ToLower(sub.ID)] = &c
}

// loadCache reads every cached record from store.
func loadCache(ctx context.Context, store storage.Store, log *slog.Logger) (*cache, error) {
	ch := &changes{}
	if err := listJSON(ctx, store, prefixVaults, func(_ string, v *Vault) error { ch.putVault(v); return nil }); err != nil {
		return nil, storageError("load vaults", err)
	}
	if err := listJSON(ctx, store, prefixRoleAssignments, func(_ string, ra *RoleAssignment) error { ch.putAssignment(ra); return nil }); err != nil {
		return nil, storageError("load role assignments", err)
	}
	if err := listJSON(ctx, store, prefixRoleDefinitions, func(_ string, r *CustomRole) error { ch.putRole(r); return nil }); err != nil {
		return nil, storageError("load role definitions", err)
	}
	if err := listJSON(ctx, store, prefixSubscriptions, func(_ string, sub *Subscription) error { ch.putSubscription(sub); return nil }); err != nil {
		return nil, storageError("load subscriptions", err)
	}
	c := &cache{log: log}
	c.vaults.Store(&map[string]*cachedVault{})
	c.subs.Store(&map[string]Subscription{})
	c.rbac.Store(&rbacSnapshot{assignments: map[string]*RoleAssignment{}, compiled: map[string]authz.Assignment{}, custom: map[string]*CustomRole{}})
	c.apply(ch)
	return c, nil
}

// Reload replaces the cache with what storage holds now. A multi-replica deployment would
// call it when another replica reports a write (see the cache comment).
func (s *Service) Reload(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	c, err := loadCache(ctx, s.store, s.log)
	if err != nil {
		return err
	}
	s.cache.vaults.Store(c.vaults.Load())
	s.cache.rbac.Store(c.rbac.Load())
	s.cache.subs.Store(c.subs.Load())
	return nil
}

// apply publishes ch. Callers serialize apply calls (Service.writeMu).
func (c *cache) apply(ch *changes) {
	if ch == nil {
		return
	}
	if len(ch.vaults) > 0 {
		old := *c.vaults.Load()
		next := make(map[string]*cachedVault, len(old)+len(ch.vaults))
		for k, v := range old {
			next[k] = v
		}
		for k, v := range ch.vaults {
			if v == nil {
				delete(next, k)
				continue
			}
			next[k] = newCachedVault(v)
		}
		c.vaults.Store(&next)
	}
	if len(ch.subs) > 0 {
		old := *c.subs.Load()
		next := make(map[string]Subscription, len(old)+len(ch.subs))
		for k, v := range old {
			next[k] = v
		}
		for k, v := range ch.subs {
			next[k] = *v
		}
		c.subs.Store(&next)
	}
	if len(ch.assignments) > 0 || len(ch.roles) > 0 {
		c.rbac.Store(c.rbac.Load().with(ch, c.log))
	}
}

func newCachedVault(v *Vault) *cachedVault {
	scope, _ := authz.ParseScope(v.ID()) // ids built from validated names always parse
	cv := &cachedVault{vault: *v}
	cv.info = VaultInfo{
		Name:                      v.Name,
		Key:                       v.Key,
		ID:                        v.ID(),
		Scope:                     scope,
		SubscriptionID:            v.SubscriptionID,
		ResourceGroup:             v.ResourceGroup,
		Location:                  v.Location,
		TenantID:                  v.Properties.TenantID,
		VaultURI:                  v.Properties.VaultURI,
		EnableRbacAuthorization:   v.Properties.EnableRbacAuthorization,
		AccessPolicies:            v.Properties.AccessPolicies,
		SoftDeleteRetentionInDays: v.Properties.SoftDeleteRetentionInDays,
		EnablePurgeProtection:     v.Properties.EnablePurgeProtection,
	}
	return cv
}

// with returns a new snapshot with ch applied. Only changed assignments are compiled, and
// the role set is rebuilt only when custom roles change, so a write costs a map copy.
func (r *rbacSnapshot) with(ch *changes, log *slog.Logger) *rbacSnapshot {
	next := &rbacSnapshot{
		assignments: make(map[string]*RoleAssignment, len(r.assignments)+len(ch.assignments)),
		compiled:    make(map[string]authz.Assignment, len(r.compiled)+len(ch.assignments)),
		custom:      r.custom,
		roles:       r.roles,
	}
	for k, v := range r.assignments {
		next.assignments[k] = v
	}
	for k, v := range r.compiled {
		next.compiled[k] = v
	}
	for k, v := range ch.assignments {
		delete(next.compiled, k)
		if v == nil {
			delete(next.assignments, k)
			continue
		}
		next.assignments[k] = v
		if a, err := v.compile(); err == nil {
			next.compiled[k] = a // a stored assignment that no longer compiles grants nothing
		}
	}
	next.byPrincipal = make(map[string][]authz.Assignment, len(next.compiled))
	for _, a := range next.compiled {
		k := strings.ToLower(a.PrincipalID)
		next.byPrincipal[k] = append(next.byPrincipal[k], a)
	}
	if len(ch.roles) > 0 || next.roles == nil {
		next.custom = make(map[string]*CustomRole, len(r.custom)+len(ch.roles))
		for k, v := range r.custom {
			next.custom[k] = v
		}
		for k, v := range ch.roles {
			if v == nil {
				delete(next.custom, k)
			} else {
				next.custom[k] = v
			}
		}
		next.roles = roleSet(next.custom, log)
	}
	return next
}

// roleSet builds the built-in roles plus the custom ones. Writes validate custom roles
// against the whole set, so they always fit together; should stored roles still clash (a
// database written before that check), the clashing roles are left out, in key order, and
// logged — never all custom roles at once.
func roleSet(custom map[string]*CustomRole, log *slog.Logger) *authz.RoleSet {
	defs := authz.BuiltinRoles()
	for _, cr := range custom {
		defs = append(defs, cr.Definition)
	}
	if roles, err := authz.NewRoleSet(defs...); err == nil {
		return roles
	}
	defs = authz.BuiltinRoles()
	for _, k := range slices.Sorted(maps.Keys(custom)) {
		cr := custom[k]
		if _, err := authz.NewRoleSet(append(defs, cr.Definition)...); err != nil {
			log.Error("custom role left out: it clashes with another role", "role", cr.Definition.RoleName, "id", cr.Definition.ID, "err", err)
			continue
		}
		defs = append(defs, cr.Definition)
	}
	roles, _ := authz.NewRoleSet(defs...) // every definition was just checked to fit
	return roles
}

func (c *cache) vault(name string) (*cachedVault, bool) {
	v, ok := (*c.vaults.Load())[strings.ToLower(name)]
	return v, ok
}

func (c *cache) allVaults() []*cachedVault {
	m := *c.vaults.Load()
	out := make([]*cachedVault, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func (c *cache) subscription(id string) (Subscription, bool) {
	sub, ok := (*c.subs.Load())[strings.ToLower(id)]
	return sub, ok
}
