package keyvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Set stores a new version of the secret name, creating the secret if needed, and makes it
// the latest. A soft-deleted name answers ErrDeletedButRecoverable. Concurrent Sets of one
// name all succeed with distinct versions; the latest is the one whose transaction committed
// last (Key Vault has no compare-and-set on secrets: last writer wins).
func (s *Service) Set(ctx context.Context, v Vault, name string, p SetParams) (Secret, error) {
	lname, err := target(v, name)
	if err != nil {
		return Secret{}, err
	}
	if err := p.check(); err != nil {
		return Secret{}, err
	}
	now := s.unix()
	m := meta{
		ContentType: p.ContentType,
		Tags:        maps.Clone(p.Tags),
		Disabled:    p.Enabled != nil && !*p.Enabled,
		NotBefore:   unixPtr(p.NotBefore),
		Expires:     unixPtr(p.Expires),
		Created:     now,
		Updated:     now,
	}
	rec := versionRecord{Value: p.Value, Meta: m}
	recRaw, err := json.Marshal(rec)
	if err != nil {
		return Secret{}, fmt.Errorf("keyvault: set: %w", err)
	}
	var (
		version string
		h       head
	)
	err = s.update(ctx, func(tx storage.Store) error {
		var err error
		h, err = getHead(ctx, tx, activeKey(v.ID, lname), nil)
		if errors.Is(err, storage.ErrNotFound) {
			// A new secret, unless the name is soft-deleted (a name is never active and
			// deleted at once, so an active secret needs no second read).
			if err := absent(ctx, tx, deletedKey(v.ID, lname), ErrDeletedButRecoverable(name)); err != nil {
				return err
			}
			h = head{Name: name}
		} else if err != nil {
			return err
		}
		version = newVersion()
		if err := tx.Put(ctx, versionKey(v.ID, lname, version), recRaw); err != nil {
			return err
		}
		h.Latest, h.Meta = version, m
		h.Versions++
		return storage.PutJSON(ctx, tx, activeKey(v.ID, lname), h)
	})
	s.cache.invalidate(ckey{v.ID, lname})
	if err != nil {
		return Secret{}, wrapOp("set", err)
	}
	return Secret{Properties: m.properties(h.Name, version), Value: p.Value}, nil
}

// Update changes the properties (never the value) of one version of an active secret; an
// empty version means the latest.
func (s *Service) Update(ctx context.Context, v Vault, name, version string, p UpdateParams) (Properties, error) {
	lname, err := target(v, name)
	if err != nil {
		return Properties{}, err
	}
	if err := p.check(); err != nil {
		return Properties{}, err
	}
	now := s.unix()
	var out Properties
	err = s.update(ctx, func(tx storage.Store) error {
		h, err := getHead(ctx, tx, activeKey(v.ID, lname), ErrSecretNotFound(name))
		if err != nil {
			return err
		}
		ver := h.Latest
		if version != "" {
			if ver, err = normVersion(name, version); err != nil {
				return err
			}
		}
		vk := versionKey(v.ID, lname, ver)
		raw, err := tx.Get(ctx, vk)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrSecretNotFound(name + "/" + ver)
		} else if err != nil {
			return err
		}
		rec, err := decode[versionRecord](raw, "secret version")
		if err != nil {
			return err
		}
		p.apply(&rec.Meta, now)
		if err := storage.PutJSON(ctx, tx, vk, rec); err != nil {
			return err
		}
		if ver == h.Latest {
			h.Meta = rec.Meta
			if err := storage.PutJSON(ctx, tx, activeKey(v.ID, lname), h); err != nil {
				return err
			}
		}
		out = rec.Meta.properties(h.Name, ver)
		return nil
	})
	s.cache.invalidate(ckey{v.ID, lname})
	if err != nil {
		return Properties{}, wrapOp("update", err)
	}
	return out, nil
}

func (p UpdateParams) apply(m *meta, now int64) {
	if p.ContentType != nil {
		m.ContentType = *p.ContentType
	}
	if p.Tags != nil {
		m.Tags = maps.Clone(p.Tags)
		if len(m.Tags) == 0 {
			m.Tags = nil
		}
	}
	if p.Enabled != nil {
		m.Disabled = !*p.Enabled
	}
	if p.NotBefore != nil {
		m.NotBefore = unixPtr(p.NotBefore)
	}
	if p.Expires != nil {
		m.Expires = unixPtr(p.Expires)
	}
	m.Updated = now
}

// normVersion validates and lower-cases a version id from a request; a malformed one names
// no version, so it is not found.
func normVersion(name, version string) (string, error) {
	if !ValidVersion(version) {
		return "", ErrSecretNotFound(name + "/" + version)
	}
	return lower(version), nil
}

// getHead reads the head stored at key. A missing key gives notFound, or
// storage.ErrNotFound when notFound is nil.
func getHead(ctx context.Context, st storage.Store, key string, notFound error) (head, error) {
	return getRecord[head](ctx, st, key, notFound)
}

// getDeleted reads the deleted head stored at key, like getHead.
func getDeleted(ctx context.Context, st storage.Store, key string, notFound error) (deletedHead, error) {
	return getRecord[deletedHead](ctx, st, key, notFound)
}

func getRecord[T any](ctx context.Context, st storage.Store, key string, notFound error) (T, error) {
	var v T
	err := storage.GetJSON(ctx, st, key, &v)
	if errors.Is(err, storage.ErrNotFound) && notFound != nil {
		err = notFound
	}
	return v, err
}

// wrapOp names the operation on unclassified errors; classified ones pass unchanged so the
// transport renders their code and message.
func wrapOp(op string, err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("keyvault: %s: %w", op, err)
}
