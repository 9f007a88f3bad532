package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// GetJSON reads key and decodes its JSON value into v. A missing key gives ErrNotFound.
func GetJSON(ctx context.Context, s Store, key string, v any) error {
	b, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("storage: decode %s: %w", key, err)
	}
	return nil
}

// PutJSON encodes v as JSON and stores it at key.
func PutJSON(ctx context.Context, s Store, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("storage: encode %s: %w", key, err)
	}
	return s.Put(ctx, key, b)
}

// ListJSON decodes the JSON values of the entries List returns.
func ListJSON[T any](ctx context.Context, s Store, prefix, after string, limit int) ([]T, error) {
	entries, err := s.List(ctx, prefix, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(entries))
	for _, e := range entries {
		var v T
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return nil, fmt.Errorf("storage: decode %s: %w", e.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}
