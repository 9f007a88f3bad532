// Package identitytest gives identity tests encrypted storage on every backend Keystage
// supports and a settable clock.
package identitytest

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/barrier"
	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/postgres"
	"github.com/keystage/keystage/internal/storage/postgres/pgtest"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

// Store is a barrier over a fresh physical backend; Phys exposes the raw, sealed bytes.
type Store struct {
	*barrier.Barrier
	Phys storage.Backend
}

// Backends names the physical backends, in the order ForEachBackend runs them.
var Backends = []string{"sqlite", "postgres"}

// Open returns a fresh barrier over backend ("sqlite" or "postgres"), closed when the test
// ends. The PostgreSQL run is skipped when KEYSTAGE_TEST_POSTGRES is unset.
func Open(t testing.TB, backend string) *Store {
	t.Helper()
	ctx := context.Background()
	var phys storage.Backend
	var err error
	switch backend {
	case "sqlite":
		phys, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "identity.db")})
	case "postgres":
		phys, err = postgres.Open(ctx, postgres.Config{DSN: pgtest.DSN(t)})
	default:
		t.Fatalf("identitytest: unknown backend %q", backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := barrier.Open(ctx, phys, bytes.Repeat([]byte{42}, 32), barrier.Options{Create: true})
	if err != nil {
		_ = phys.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &Store{Barrier: b, Phys: phys}
}

// ForEachBackend runs fn as a subtest on every backend.
func ForEachBackend(t *testing.T, fn func(t *testing.T, st *Store)) {
	for _, name := range Backends {
		t.Run(name, func(t *testing.T) { fn(t, Open(t, name)) })
	}
}

// Clock is a settable clock for tests; its zero value starts at the current time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to t (truncated to the second, as token times are).
func NewClock(t time.Time) *Clock { return &Clock{now: t.Truncate(time.Second)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Now().Truncate(time.Second)
	}
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Now().Truncate(time.Second)
	}
	c.now = c.now.Add(d)
}

// Set sets the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
