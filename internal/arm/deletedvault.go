package arm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// VaultData is the Key Vault data plane as the management plane sees it: when a deleted
// vault is purged, its secrets go too.
type VaultData interface {
	// PurgeVaultData deletes everything the data plane stores for the vault whose Vault.Key
	// is vaultKey. It must be idempotent.
	PurgeVaultData(ctx context.Context, vaultKey string) error
}

func deletedVaultScope(sub, location, name string) string {
	return "/subscriptions/" + sub + "/providers/Microsoft.KeyVault/locations/" + location + "/deletedVaults/" + name
}

func errDeletedVaultNotFound(name, location string) *fault.Error {
	return fault.New(fault.NotFound, "ResourceNotFound",
		"The deleted vault '%s' was not found in location '%s'.", clip(name), clip(location))
}

// recoverVault restores a soft-deleted vault with its configuration (createMode "recover").
// The vault comes back into the subscription and resource group it was deleted from, under
// the same name and location; tags in the request replace the old ones when given.
func (s *Service) recoverVault(ctx context.Context, c Caller, sub, group, name string, p VaultParams) (Vault, bool, error) {
	var v Vault
	err := s.update(ctx, func(tx storage.Store, ch *changes) error {
		if _, err := s.liveGroup(ctx, tx, sub, group); err != nil {
			return err
		}
		var active Vault
		if err := storage.GetJSON(ctx, tx, vaultKey(name), &active); err == nil {
			return errVaultAlreadyExists(name)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		var dv DeletedVault
		err := storage.GetJSON(ctx, tx, deletedVaultKey(name), &dv)
		if errors.Is(err, storage.ErrNotFound) || err == nil && dv.expired(s.now()) {
			return errDeletedVaultNotFound(name, p.Location)
		}
		if err != nil {
			return err
		}
		if !strings.EqualFold(dv.Vault.SubscriptionID, sub) || !strings.EqualFold(dv.Vault.ResourceGroup, group) {
			return errInvalidParameter("The deleted vault '%s' was in resource group '%s' of subscription '%s'; it can only be recovered there.",
				dv.Vault.Name, dv.Vault.ResourceGroup, dv.Vault.SubscriptionID)
		}
		if p.Location != "" {
			if loc, ok := NormalizeLocation(p.Location); !ok || loc != dv.Vault.Location {
				return errInvalidParameter("The deleted vault '%s' is in location '%s', not '%s'.", dv.Vault.Name, dv.Vault.Location, clip(p.Location))
			}
		}
		v = dv.Vault
		if p.TagsSet && p.Tags != nil {
			if err := checkTags(p.Tags); err != nil {
				return err
			}
			v.Tags = p.Tags
		}
		v.Properties.VaultURI = s.vaultURI(v.Name)
		v.SystemData = v.SystemData.touch(c, s.now().UTC())
		if err := tx.Delete(ctx, deletedVaultKey(name)); err != nil {
			return err
		}
		return s.putVault(ctx, tx, ch, &v)
	})
	if err != nil {
		return Vault{}, false, err
	}
	return v, true, nil
}

// ListDeletedVaults returns the soft-deleted vaults of subscription sub whose retention has
// not ended, by name.
func (s *Service) ListDeletedVaults(ctx context.Context, c Caller, sub string) ([]DeletedVault, error) {
	if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return nil, err
	}
	if err := s.authorize(c, subscriptionScope(sub), actionDeletedVaultList); err != nil {
		return nil, err
	}
	now := s.now()
	var out []DeletedVault
	err := listJSON(ctx, s.store, prefixDeletedVaults, func(_ string, dv *DeletedVault) error {
		if strings.EqualFold(dv.Vault.SubscriptionID, sub) && !dv.expired(now) {
			out = append(out, *dv)
		}
		return nil
	})
	if err != nil {
		return nil, storageError("list deleted vaults", err)
	}
	slices.SortFunc(out, func(a, b DeletedVault) int {
		return strings.Compare(strings.ToLower(a.Vault.Name), strings.ToLower(b.Vault.Name))
	})
	return out, nil
}

// GetDeletedVault returns the soft-deleted vault name in location.
func (s *Service) GetDeletedVault(ctx context.Context, c Caller, sub, location, name string) (DeletedVault, error) {
	if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return DeletedVault{}, err
	}
	if err := s.authorize(c, deletedVaultScope(sub, strings.ToLower(location), name), actionDeletedVaultRead); err != nil {
		return DeletedVault{}, err
	}
	return s.deletedVault(ctx, s.store, sub, location, name)
}

func (s *Service) deletedVault(ctx context.Context, st storage.Store, sub, location, name string) (DeletedVault, error) {
	var dv DeletedVault
	err := storage.GetJSON(ctx, st, deletedVaultKey(name), &dv)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return DeletedVault{}, storageError("get deleted vault", err)
	}
	loc, _ := NormalizeLocation(location)
	if err != nil || dv.expired(s.now()) || !strings.EqualFold(dv.Vault.SubscriptionID, sub) || dv.Vault.Location != loc {
		return DeletedVault{}, errDeletedVaultNotFound(name, location)
	}
	return dv, nil
}

// PurgeDeletedVault permanently deletes a soft-deleted vault and its data. Under purge
// protection it is refused until the retention period ends (the vault is then purged
// automatically).
func (s *Service) PurgeDeletedVault(ctx context.Context, c Caller, sub, location, name string) (Operation, error) {
	if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return Operation{}, err
	}
	if err := s.authorize(c, deletedVaultScope(sub, strings.ToLower(location), name), actionDeletedVaultPurge); err != nil {
		return Operation{}, err
	}
	start := s.now().UTC()
	dv, err := s.deletedVault(ctx, s.store, sub, location, name)
	if err != nil {
		return Operation{}, err
	}
	if dv.Vault.Properties.EnablePurgeProtection {
		return Operation{}, fault.New(fault.Conflict, "InvalidOperation",
			"Operation 'DeletedVaultPurge' is not allowed: vault '%s' has purge protection enabled, so it can only be recovered until its retention period ends on %s.",
			dv.Vault.Name, dv.ScheduledPurgeDate.Format(time.RFC3339))
	}
	if err := s.purge(ctx, dv); err != nil {
		return Operation{}, err
	}
	return s.recordOperation(ctx, c, sub, OperationPurgeVault, dv.ID(), start, nil)
}

// purge deletes the data of a deleted vault, then its record. The data goes first so that a
// failure leaves the record to retry from, never orphaned data.
func (s *Service) purge(ctx context.Context, dv DeletedVault) error {
	if s.cfg.VaultData != nil {
		if err := s.cfg.VaultData.PurgeVaultData(ctx, dv.Vault.Key); err != nil {
			return storageError("purge vault data", err)
		}
	}
	err := s.update(ctx, func(tx storage.Store, _ *changes) error {
		var cur DeletedVault
		if err := storage.GetJSON(ctx, tx, deletedVaultKey(dv.Vault.Name), &cur); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil
			}
			return err
		}
		if cur.Vault.Key != dv.Vault.Key {
			return nil // recovered and deleted again meanwhile: a different deletion
		}
		return tx.Delete(ctx, deletedVaultKey(dv.Vault.Name))
	})
	if err != nil {
		return storageError("purge deleted vault", err)
	}
	s.log.Info("purged deleted vault", "vault", dv.Vault.Name, "subscription", dv.Vault.SubscriptionID)
	return nil
}

// PurgeExpired purges every deleted vault whose retention has ended. The server runs it
// periodically; it returns how many vaults it purged.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	now := s.now()
	var due []DeletedVault
	err := listJSON(ctx, s.store, prefixDeletedVaults, func(_ string, dv *DeletedVault) error {
		if dv.expired(now) {
			due = append(due, *dv)
		}
		return nil
	})
	if err != nil {
		return 0, storageError("list deleted vaults", err)
	}
	for i, dv := range due {
		if err := s.purge(ctx, dv); err != nil {
			return i, err
		}
	}
	return len(due), nil
}

// PurgeInterval is how often Run purges deleted vaults whose retention has ended.
const PurgeInterval = time.Hour

// Run purges expired deleted vaults at start and then every PurgeInterval until ctx ends.
// The server runs it in the background; failures are logged and retried at the next tick.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(PurgeInterval)
	defer t.Stop()
	for {
		if n, err := s.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("purging expired deleted vaults failed", "purged", n, "err", err)
		} else if n > 0 {
			s.log.Info("purged expired deleted vaults", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
