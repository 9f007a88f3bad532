package keyvault

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/storage"
)

const day = 24 * 60 * 60

// Delete soft-deletes the secret name with all its versions. It stays recoverable for the
// vault's retention, after which the sweeper purges it.
func (s *Service) Delete(ctx context.Context, v Vault, name string) (DeletedSecret, error) {
	lname, err := target(v, name)
	if err != nil {
		return DeletedSecret{}, err
	}
	now := s.unix()
	var d deletedHead
	err = s.update(ctx, func(tx storage.Store) error {
		h, err := getHead(ctx, tx, activeKey(v.ID, lname), ErrSecretNotFound(name))
		if err != nil {
			return err
		}
		if err := absent(ctx, tx, deletedKey(v.ID, lname), errBothStates(lname)); err != nil {
			return err
		}
		d = deletedHead{Head: h, DeletedAt: now, PurgeAt: now + int64(v.Retention())*day}
		if err := storage.PutJSON(ctx, tx, deletedKey(v.ID, lname), d); err != nil {
			return err
		}
		if err := tx.Delete(ctx, activeKey(v.ID, lname)); err != nil {
			return err
		}
		return tx.Put(ctx, purgeKey(d.PurgeAt, v.ID, lname), nil)
	})
	s.cache.invalidate(ckey{v.ID, lname})
	if err != nil {
		return DeletedSecret{}, wrapOp("delete", err)
	}
	return d.deleted(), nil
}

// GetDeleted returns a soft-deleted secret, or ErrDeletedSecretNotFound.
func (s *Service) GetDeleted(ctx context.Context, v Vault, name string) (DeletedSecret, error) {
	lname, err := target(v, name)
	if err != nil {
		return DeletedSecret{}, err
	}
	d, err := getDeleted(ctx, s.store, deletedKey(v.ID, lname), ErrDeletedSecretNotFound(name))
	if err != nil {
		return DeletedSecret{}, wrapOp("get deleted", err)
	}
	return d.deleted(), nil
}

// ListDeleted returns a page of the vault's soft-deleted secrets in name order.
func (s *Service) ListDeleted(ctx context.Context, v Vault, req PageRequest) (Page[DeletedSecret], error) {
	if err := v.check(); err != nil {
		return Page[DeletedSecret]{}, err
	}
	n, err := req.size()
	if err != nil {
		return Page[DeletedSecret]{}, err
	}
	if req.After != "" && !ValidName(req.After) {
		return Page[DeletedSecret]{}, errBadContinuation()
	}
	prefix := deletedPrefix(v.ID)
	entries, err := s.store.List(ctx, prefix, afterKey(prefix, lower(req.After)), n+1)
	if err != nil {
		return Page[DeletedSecret]{}, wrapOp("list deleted", err)
	}
	var page Page[DeletedSecret]
	for i, e := range entries {
		if i == n {
			page.Next = strings.TrimPrefix(entries[i-1].Key, prefix)
			break
		}
		d, err := decode[deletedHead](e.Value, "deleted secret")
		if err != nil {
			return Page[DeletedSecret]{}, wrapOp("list deleted", err)
		}
		page.Items = append(page.Items, d.deleted())
	}
	return page, nil
}

// Recover brings a soft-deleted secret back with all its versions and returns its latest
// version's properties.
func (s *Service) Recover(ctx context.Context, v Vault, name string) (Properties, error) {
	lname, err := target(v, name)
	if err != nil {
		return Properties{}, err
	}
	var h head
	err = s.update(ctx, func(tx storage.Store) error {
		d, err := getDeleted(ctx, tx, deletedKey(v.ID, lname), ErrDeletedSecretNotFound(name))
		if err != nil {
			return err
		}
		if err := absent(ctx, tx, activeKey(v.ID, lname), errBothStates(lname)); err != nil {
			return err
		}
		h = d.Head
		if err := storage.PutJSON(ctx, tx, activeKey(v.ID, lname), h); err != nil {
			return err
		}
		if err := tx.Delete(ctx, deletedKey(v.ID, lname)); err != nil {
			return err
		}
		return tx.Delete(ctx, purgeKey(d.PurgeAt, v.ID, lname))
	})
	s.cache.invalidate(ckey{v.ID, lname})
	if err != nil {
		return Properties{}, wrapOp("recover", err)
	}
	return h.Meta.properties(h.Name, h.Latest), nil
}

// Purge permanently deletes a soft-deleted secret. Purge protection refuses it with
// ErrPurgeProtected; the sweeper still purges such secrets when their retention ends.
func (s *Service) Purge(ctx context.Context, v Vault, name string) error {
	lname, err := target(v, name)
	if err != nil {
		return err
	}
	err = s.update(ctx, func(tx storage.Store) error {
		d, err := getDeleted(ctx, tx, deletedKey(v.ID, lname), ErrDeletedSecretNotFound(name))
		if err != nil {
			return err
		}
		if v.PurgeProtection {
			return ErrPurgeProtected()
		}
		return purgeDeleted(ctx, tx, v.ID, lname, d)
	})
	s.cache.invalidate(ckey{v.ID, lname})
	return wrapOpNil("purge", err)
}

// purgeDeleted removes every trace of a deleted secret inside tx.
func purgeDeleted(ctx context.Context, tx storage.Store, vid, lname string, d deletedHead) error {
	if err := storage.DeletePrefix(ctx, tx, versionPrefix(vid, lname)); err != nil {
		return err
	}
	if err := tx.Delete(ctx, deletedKey(vid, lname)); err != nil {
		return err
	}
	return tx.Delete(ctx, purgeKey(d.PurgeAt, vid, lname))
}

// Sweep purges every deleted secret whose scheduled purge date has passed, in any vault,
// and returns how many it purged. Purge protection does not stop it: that is the system
// purge Key Vault performs at the end of retention.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.unix()
	purged, after := 0, ""
	for {
		entries, err := s.store.List(ctx, prefixPurge, after, 100)
		if err != nil {
			return purged, fmt.Errorf("keyvault: sweep: %w", err)
		}
		for _, e := range entries {
			after = e.Key
			at, vid, lname, ok := parsePurgeKey(e.Key)
			if !ok {
				s.log.Warn("keyvault: ignoring a malformed purge schedule entry", "key", e.Key)
				continue
			}
			if at > now {
				return purged, nil
			}
			done, err := s.sweepOne(ctx, e.Key, at, vid, lname, now)
			if err != nil {
				return purged, fmt.Errorf("keyvault: sweep: %w", err)
			}
			if done {
				purged++
			}
		}
		if len(entries) < 100 {
			return purged, nil
		}
	}
}

// sweepOne purges one scheduled secret if it is still deleted and due, and drops the
// schedule entry either way.
func (s *Service) sweepOne(ctx context.Context, key string, at int64, vid, lname string, now int64) (bool, error) {
	purged := false
	err := s.update(ctx, func(tx storage.Store) error {
		purged = false
		d, err := getDeleted(ctx, tx, deletedKey(vid, lname), nil)
		if errors.Is(err, storage.ErrNotFound) {
			return tx.Delete(ctx, key) // recovered or purged since: a stale entry
		} else if err != nil {
			return err
		}
		if d.PurgeAt != at || d.PurgeAt > now {
			return tx.Delete(ctx, key) // deleted again with a later schedule
		}
		purged = true
		return purgeDeleted(ctx, tx, vid, lname, d)
	})
	s.cache.invalidate(ckey{vid, lname})
	return purged, err
}

func parsePurgeKey(key string) (at int64, vid, lname string, ok bool) {
	rest, ok := strings.CutPrefix(key, prefixPurge)
	if !ok {
		return 0, "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return 0, "", "", false
	}
	at, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, "", "", false
	}
	return at, parts[1], parts[2], true
}

// PurgeVaultData removes every secret, version and deleted secret of the vault whose id is vid,
// when the management plane purges the vault (it implements arm.VaultData). It is idempotent.
func (s *Service) PurgeVaultData(ctx context.Context, vid string) error {
	if err := (Vault{ID: vid}).check(); err != nil {
		return err
	}
	defer s.cache.invalidateAll()
	if err := storage.DeletePrefixBatched(ctx, s.store, prefixKV+vid+"/"); err != nil {
		return fmt.Errorf("keyvault: drop vault: %w", err)
	}
	// Schedule entries of the vault's deleted secrets are stale now; the sweeper drops them.
	return nil
}

func errBothStates(lname string) error {
	return fmt.Errorf("secret %s is both active and deleted", lname)
}

func wrapOpNil(op string, err error) error {
	if err == nil {
		return nil
	}
	return wrapOp(op, err)
}
