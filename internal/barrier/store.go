package barrier

import (
	"context"
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/storage"
)

// sealedStore seals on the way in and opens on the way out, over any storage.Store: the
// physical backend itself or one of its transactions.
type sealedStore struct {
	b    *Barrier
	phys storage.Store
}

func (s sealedStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	raw, err := s.phys.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.b.open(ctx, key, raw)
}

func (s sealedStore) Put(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	kr := s.b.ring.Load()
	return s.phys.Put(ctx, key, seal(kr.aead(kr.active), kr.active, key, value))
}

func (s sealedStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.phys.Delete(ctx, key)
}

// List skips the barrier's own reserved keys, reading on when that leaves a page short.
func (s sealedStore) List(ctx context.Context, prefix, after string, limit int) ([]storage.Entry, error) {
	if strings.HasPrefix(prefix, ReservedPrefix) {
		return nil, checkKey(prefix)
	}
	var out []storage.Entry
	for {
		want := 0
		if limit > 0 {
			want = limit - len(out)
		}
		page, err := s.phys.List(ctx, prefix, after, want)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if strings.HasPrefix(e.Key, ReservedPrefix) {
				continue
			}
			plain, err := s.b.open(ctx, e.Key, e.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, storage.Entry{Key: e.Key, Value: plain})
		}
		if want == 0 || len(page) < want || len(out) >= limit {
			return out, nil
		}
		after = page[len(page)-1].Key
	}
}

func (b *Barrier) open(ctx context.Context, key string, raw []byte) ([]byte, error) {
	t, ok := termOf(raw)
	if !ok {
		return nil, fmt.Errorf("barrier: open %q: %w", key, ErrCorrupt)
	}
	a, err := b.aeadFor(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("barrier: open %q: %w", key, err)
	}
	plain, err := open(a, key, raw)
	if err != nil {
		return nil, fmt.Errorf("barrier: open %q: %w", key, err)
	}
	return plain, nil
}

// Get implements storage.Store.
func (b *Barrier) Get(ctx context.Context, key string) ([]byte, error) {
	return sealedStore{b, b.phys}.Get(ctx, key)
}

// Put implements storage.Store.
func (b *Barrier) Put(ctx context.Context, key string, value []byte) error {
	return sealedStore{b, b.phys}.Put(ctx, key, value)
}

// Delete implements storage.Store.
func (b *Barrier) Delete(ctx context.Context, key string) error {
	return sealedStore{b, b.phys}.Delete(ctx, key)
}

// List implements storage.Store.
func (b *Barrier) List(ctx context.Context, prefix, after string, limit int) ([]storage.Entry, error) {
	return sealedStore{b, b.phys}.List(ctx, prefix, after, limit)
}

// Update implements storage.Backend; the transaction seals and opens like the barrier.
func (b *Barrier) Update(ctx context.Context, fn func(tx storage.Store) error) error {
	return b.phys.Update(ctx, func(tx storage.Store) error {
		return fn(sealedStore{b, tx})
	})
}

// Close closes the physical backend.
func (b *Barrier) Close() error { return b.phys.Close() }
