// Package storage defines Keystage's physical key/value contract, which the encryption
// barrier and every domain service build on.
//
// Keys are UTF-8 strings ordered bytewise; values are opaque bytes. Domain services lay out
// their data under key prefixes ("kv/{vault}/secrets/…") and keep their own secondary index
// entries, written in the same transaction as the records they index.
package storage

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Get when a key does not exist.
var ErrNotFound = errors.New("storage: not found")

// ErrConflict is returned by Update when a transaction could not be serialized after the
// backend's retries; callers may retry the whole operation.
var ErrConflict = errors.New("storage: transaction conflict")

// Entry is one key and its value.
type Entry struct {
	Key   string
	Value []byte
}

// Store is the read/write surface shared by a backend and by a transaction.
type Store interface {
	// Get returns the value stored at key, or ErrNotFound. The returned slice belongs to the
	// caller.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value at key, replacing any previous value. A nil value is stored as empty.
	Put(ctx context.Context, key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the entries whose keys start with prefix and sort strictly after `after`
	// (ignored when empty), in ascending key order, at most limit of them (no limit when
	// limit <= 0).
	List(ctx context.Context, prefix, after string, limit int) ([]Entry, error)
}

// Backend is a physical store with read-write transactions.
//
// Reads and writes outside Update are each atomic and durable once they return. Update
// runs fn in a serializable transaction: fn sees its own writes and none of a concurrent
// transaction's; when fn returns nil the writes commit together and are durable before
// Update returns; when fn returns an error nothing is written and Update returns that error.
// fn may be called more than once if the backend retries a conflict, so it must have no
// effects outside tx, and it must not block on anything but tx (backends may serialize
// writers). Implementations are safe for concurrent use.
type Backend interface {
	Store
	Update(ctx context.Context, fn func(tx Store) error) error
	// Close releases the backend's resources; the backend is unusable afterwards.
	Close() error
}

// PrefixEnd returns the smallest key greater than every key that starts with prefix, or ""
// when there is none (prefix is empty or all 0xff bytes). Backends use it for range scans.
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}
