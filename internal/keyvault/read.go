package keyvault

import (
	"context"
	"errors"
	"strings"

	"github.com/keystage/keystage/internal/storage"
)

// Get returns a version of an active secret with its value; an empty version means the
// latest. A missing or soft-deleted secret, or a version that is not one of its versions,
// answers ErrSecretNotFound; a disabled version answers ErrSecretDisabled.
func (s *Service) Get(ctx context.Context, v Vault, name, version string) (Secret, error) {
	lname, err := target(v, name)
	if err != nil {
		return Secret{}, err
	}
	if version != "" {
		if version, err = normVersion(name, version); err != nil {
			return Secret{}, err
		}
	}
	key := ckey{v.ID, lname}
	c, gen := s.cache.get(key)
	if c == nil {
		if c, err = s.loadLatest(ctx, v, name, lname); err != nil {
			return Secret{}, err
		}
		s.cache.put(key, gen, c)
	}
	if version != "" && version != c.version {
		return s.getVersion(ctx, v, c.name, lname, version)
	}
	return c.secret()
}

// loadLatest reads the active secret's head and latest version from storage.
func (s *Service) loadLatest(ctx context.Context, v Vault, name, lname string) (*cached, error) {
	h, err := getHead(ctx, s.store, activeKey(v.ID, lname), ErrSecretNotFound(name))
	if err != nil {
		return nil, wrapOp("get", err)
	}
	rec, err := s.readVersion(ctx, v.ID, lname, h.Latest)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, wrapOp("get", errors.New("the latest version of a secret is missing"))
	} else if err != nil {
		return nil, wrapOp("get", err)
	}
	return &cached{name: h.Name, version: h.Latest, rec: rec}, nil
}

// getVersion reads a version other than the latest of the active secret name.
func (s *Service) getVersion(ctx context.Context, v Vault, name, lname, version string) (Secret, error) {
	rec, err := s.readVersion(ctx, v.ID, lname, version)
	if errors.Is(err, storage.ErrNotFound) {
		return Secret{}, ErrSecretNotFound(name + "/" + version)
	} else if err != nil {
		return Secret{}, wrapOp("get", err)
	}
	return (&cached{name: name, version: version, rec: rec}).secret()
}

func (s *Service) readVersion(ctx context.Context, vid, lname, version string) (versionRecord, error) {
	raw, err := s.store.Get(ctx, versionKey(vid, lname, version))
	if err != nil {
		return versionRecord{}, err
	}
	return decode[versionRecord](raw, "secret version")
}

func (c *cached) secret() (Secret, error) {
	if c.rec.Meta.Disabled {
		return Secret{}, ErrSecretDisabled()
	}
	return Secret{Properties: c.rec.Meta.properties(c.name, c.version), Value: c.rec.Value}, nil
}

// List returns a page of the vault's active secrets in name order: each item is the
// secret's latest version's properties, disabled ones included. Values are never listed.
func (s *Service) List(ctx context.Context, v Vault, req PageRequest) (Page[Properties], error) {
	if err := v.check(); err != nil {
		return Page[Properties]{}, err
	}
	n, err := req.size()
	if err != nil {
		return Page[Properties]{}, err
	}
	if req.After != "" && !ValidName(req.After) {
		return Page[Properties]{}, errBadContinuation()
	}
	prefix := activePrefix(v.ID)
	entries, err := s.store.List(ctx, prefix, afterKey(prefix, lower(req.After)), n+1)
	if err != nil {
		return Page[Properties]{}, wrapOp("list", err)
	}
	var page Page[Properties]
	for i, e := range entries {
		if i == n {
			page.Next = strings.TrimPrefix(entries[i-1].Key, prefix)
			break
		}
		h, err := decode[head](e.Value, "secret")
		if err != nil {
			return Page[Properties]{}, wrapOp("list", err)
		}
		page.Items = append(page.Items, h.Meta.properties(h.Name, h.Latest))
	}
	return page, nil
}

// ListVersions returns a page of an active secret's versions, in version-id order, without
// values. A missing or deleted secret answers ErrSecretNotFound.
func (s *Service) ListVersions(ctx context.Context, v Vault, name string, req PageRequest) (Page[Properties], error) {
	lname, err := target(v, name)
	if err != nil {
		return Page[Properties]{}, err
	}
	n, err := req.size()
	if err != nil {
		return Page[Properties]{}, err
	}
	if req.After != "" && !ValidVersion(req.After) {
		return Page[Properties]{}, errBadContinuation()
	}
	h, err := getHead(ctx, s.store, activeKey(v.ID, lname), ErrSecretNotFound(name))
	if err != nil {
		return Page[Properties]{}, wrapOp("list versions", err)
	}
	prefix := versionPrefix(v.ID, lname)
	entries, err := s.store.List(ctx, prefix, afterKey(prefix, lower(req.After)), n+1)
	if err != nil {
		return Page[Properties]{}, wrapOp("list versions", err)
	}
	var page Page[Properties]
	for i, e := range entries {
		if i == n {
			page.Next = strings.TrimPrefix(entries[i-1].Key, prefix)
			break
		}
		rec, err := decode[versionRecord](e.Value, "secret version")
		if err != nil {
			return Page[Properties]{}, wrapOp("list versions", err)
		}
		page.Items = append(page.Items, rec.Meta.properties(h.Name, strings.TrimPrefix(e.Key, prefix)))
	}
	return page, nil
}

// afterKey is the storage cursor for a continuation: the full key of the last item served.
func afterKey(prefix, after string) string {
	if after == "" {
		return ""
	}
	return prefix + after
}

func errBadContinuation() error {
	return BadParameter("The $skiptoken is not valid for this listing.")
}
