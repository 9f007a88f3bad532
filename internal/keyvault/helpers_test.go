package keyvault

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/barrier"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/postgres"
	"github.com/keystage/keystage/internal/storage/postgres/pgtest"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

var testRootKey = bytes.Repeat([]byte{9}, 32)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	svc   *Service
	store *barrier.Barrier
	clock *clock
	vault Vault
}

func openSQLite(t testing.TB) storage.Backend {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "kv.db")})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openPostgres(t testing.TB) storage.Backend {
	t.Helper()
	db, err := postgres.Open(context.Background(), postgres.Config{DSN: pgtest.DSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newFixture(t testing.TB, phys storage.Backend, cfg Config) *fixture {
	t.Helper()
	b, err := barrier.Open(context.Background(), phys, testRootKey, barrier.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	return &fixture{
		svc:   New(b, b, cfg),
		store: b,
		clock: c,
		vault: Vault{ID: "0b4c3a8e-vault-one", Name: "one", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", RetentionDays: 7},
	}
}

// backends runs fn against the service on SQLite and on PostgreSQL (skipped without
// KEYSTAGE_TEST_POSTGRES).
func backends(t *testing.T, cfg Config, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newFixture(t, openSQLite(t), cfg)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newFixture(t, openPostgres(t), cfg)) })
}

// wantFault fails unless err is a *fault.Error with the code and inner code given.
func wantFault(t *testing.T, err error, kind fault.Kind, code, inner string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a %s fault", err, code)
	}
	if fe.Kind != kind || fe.Code != code || fe.Inner != inner {
		t.Fatalf("err = kind %d code %q inner %q (%v), want kind %d code %q inner %q", fe.Kind, fe.Code, fe.Inner, fe, kind, code, inner)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ptr[T any](v T) *T { return &v }
