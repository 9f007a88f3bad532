// Package postgres implements storage.Backend on PostgreSQL (jackc/pgx), for deployments
// that want a managed, replicated database.
//
// Keys use the "C" collation so that ranges and ordering are bytewise, as on SQLite. Update
// runs at SERIALIZABLE isolation and retries serialization failures, so concurrent
// read-modify-write transactions never lose updates.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/keystage/keystage/internal/storage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures a PostgreSQL backend.
type Config struct {
	// DSN is a libpq-style connection string or URL. A search_path parameter selects the
	// schema, which must exist.
	DSN string
	// MaxConns bounds the connection pool; default pgxpool's.
	MaxConns int32
	// MaxRetries bounds serialization-failure retries in Update; default 50.
	MaxRetries int
}

// DB is a PostgreSQL storage backend.
type DB struct {
	pool       *pgxpool.Pool
	maxRetries int
}

var _ storage.Backend = (*DB)(nil)

const (
	getQuery  = `SELECT value FROM entries WHERE key = $1`
	listQuery = `SELECT key, value FROM entries
WHERE key >= $1 AND ($2 = '' OR key < $2) AND key > $3
ORDER BY key LIMIT $4`
	putQuery = `INSERT INTO entries(key, value) VALUES($1, $2)
ON CONFLICT (key) DO UPDATE SET value = excluded.value`
	deleteQuery = `DELETE FROM entries WHERE key = $1`
)

// Open connects, applies migrations and returns the backend.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 50
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := &DB{pool: pool, maxRetries: cfg.MaxRetries}
	if err := db.migrate(ctx, pcfg.ConnConfig); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	sqldb := stdlib.OpenDB(*cc)
	defer sqldb.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// store implements storage.Store over a querier. Inside a transaction, conflict records the
// first serialization failure any statement hit, so that Update retries even when fn
// wrapped or replaced the error.
type store struct {
	q        querier
	conflict *error
}

func (s store) note(err error) error {
	if s.conflict != nil && *s.conflict == nil && retryable(err) {
		*s.conflict = err
	}
	return err
}

func (s store) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.note(s.q.QueryRow(ctx, getQuery, key).Scan(&v))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get: %w", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (s store) List(ctx context.Context, prefix, after string, limit int) ([]storage.Entry, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := s.q.Query(ctx, listQuery, prefix, storage.PrefixEnd(prefix), after, lim)
	if err != nil {
		s.note(err)
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Entry, error) {
		var e storage.Entry
		err := r.Scan(&e.Key, &e.Value)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list: %w", s.note(err))
	}
	return out, nil
}

func (s store) Put(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if _, err := s.q.Exec(ctx, putQuery, key, value); err != nil {
		return fmt.Errorf("postgres: put: %w", s.note(err))
	}
	return nil
}

func (s store) Delete(ctx context.Context, key string) error {
	if _, err := s.q.Exec(ctx, deleteQuery, key); err != nil {
		return fmt.Errorf("postgres: delete: %w", s.note(err))
	}
	return nil
}

// Get implements storage.Store.
func (db *DB) Get(ctx context.Context, key string) ([]byte, error) {
	return store{q: db.pool}.Get(ctx, key)
}

// List implements storage.Store.
func (db *DB) List(ctx context.Context, prefix, after string, limit int) ([]storage.Entry, error) {
	return store{q: db.pool}.List(ctx, prefix, after, limit)
}

// Put implements storage.Store.
func (db *DB) Put(ctx context.Context, key string, value []byte) error {
	return store{q: db.pool}.Put(ctx, key, value)
}

// Delete implements storage.Store.
func (db *DB) Delete(ctx context.Context, key string) error {
	return store{q: db.pool}.Delete(ctx, key)
}

// Update implements storage.Backend: fn runs in a SERIALIZABLE transaction, again after a
// serialization failure or deadlock, up to MaxRetries times; then ErrConflict.
func (db *DB) Update(ctx context.Context, fn func(tx storage.Store) error) error {
	for attempt := 0; ; attempt++ {
		err := db.updateOnce(ctx, fn)
		if !retryable(err) {
			return err
		}
		if attempt >= db.maxRetries {
			return fmt.Errorf("postgres: update: %w after %d attempts: %v", storage.ErrConflict, attempt+1, err)
		}
		// Jittered backoff, growing slowly, so that hot keys make progress.
		d := time.Duration(rand.IntN(1000*(attempt+1))) * time.Microsecond
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (db *DB) updateOnce(ctx context.Context, fn func(tx storage.Store) error) (err error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var conflict error
	if err := fn(store{q: tx, conflict: &conflict}); err != nil {
		if conflict != nil {
			return conflict
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// retryable reports whether err is a serialization failure or deadlock.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

// Close closes the connection pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}
