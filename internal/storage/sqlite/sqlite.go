// Package sqlite implements storage.Backend on an embedded SQLite database (pure Go,
// modernc.org/sqlite) in WAL mode with full fsync, so an acknowledged write survives kill -9.
//
// Writes go through a single writer goroutine that groups concurrent writers into one
// transaction and one fsync (group commit); each writer runs inside its own savepoint, so
// one writer's error rolls back only its own changes. Reads use a pool of read-only
// connections and never wait for writers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/keystage/keystage/internal/storage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures a SQLite backend.
type Config struct {
	// Path is the database file; its directory is created (mode 0700) if missing.
	Path string
	// MaxBatch bounds how many writers share one commit; default 256.
	MaxBatch int
	// Readers is the number of read connections; default 2×GOMAXPROCS.
	Readers int
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
}

// DB is a SQLite storage backend.
type DB struct {
	read  *sql.DB
	write *sql.DB
	conn  *sql.Conn // the writer goroutine's only connection
	get   *sql.Stmt
	list  *sql.Stmt

	reqs      chan *writeReq
	maxBatch  int
	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{}
	log       *slog.Logger
}

var _ storage.Backend = (*DB)(nil)

// Open opens (creating if needed) the database at cfg.Path and applies migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)"} {
		pragmas.Add("_pragma", p)
	}
	dsn := "file:" + cfg.Path + "?" + pragmas.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	db := &DB{write: write, maxBatch: cfg.MaxBatch, log: cfg.Logger}
	if err := db.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	// The database file exists now; keep it private.
	if err := os.Chmod(cfg.Path, 0o600); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.conn, err = write.Conn(ctx)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	stmts, err := prepareTx(ctx, db.conn)
	if err != nil {
		db.closeSQL()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		stmts.close()
		db.closeSQL()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	read.SetMaxOpenConns(cfg.Readers)
	read.SetMaxIdleConns(cfg.Readers)
	db.read = read
	if db.get, err = read.PrepareContext(ctx, getQuery); err == nil {
		db.list, err = read.PrepareContext(ctx, listQuery)
	}
	if err != nil {
		stmts.close()
		db.closeSQL()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	db.reqs = make(chan *writeReq)
	db.closing = make(chan struct{})
	db.done = make(chan struct{})
	go db.writer(stmts)
	return db, nil
}

const (
	getQuery = `SELECT value FROM entries WHERE key = ?`
	// listQuery selects keys in [prefix, end) after a cursor; end "" means unbounded.
	listQuery = `SELECT key, value FROM entries
WHERE key >= ?1 AND (?2 = '' OR key < ?2) AND key > ?3
ORDER BY key LIMIT ?4`
)

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Get implements storage.Store.
func (db *DB) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.get.QueryRowContext(ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get: %w", err)
	}
	return v, nil
}

// List implements storage.Store.
func (db *DB) List(ctx context.Context, prefix, after string, limit int) ([]storage.Entry, error) {
	rows, err := db.list.QueryContext(ctx, prefix, storage.PrefixEnd(prefix), after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	return scanEntries(rows)
}

func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1 // SQLite: no limit
	}
	return limit
}

func scanEntries(rows *sql.Rows) ([]storage.Entry, error) {
	defer rows.Close()
	var out []storage.Entry
	for rows.Next() {
		var e storage.Entry
		if err := rows.Scan(&e.Key, &e.Value); err != nil {
			return nil, fmt.Errorf("sqlite: list: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	return out, nil
}

// Put implements storage.Store.
func (db *DB) Put(ctx context.Context, key string, value []byte) error {
	return db.Update(ctx, func(tx storage.Store) error { return tx.Put(ctx, key, value) })
}

// Delete implements storage.Store.
func (db *DB) Delete(ctx context.Context, key string) error {
	return db.Update(ctx, func(tx storage.Store) error { return tx.Delete(ctx, key) })
}

// Close stops the writer after pending writes and closes the database.
func (db *DB) Close() error {
	var err error
	db.closeOnce.Do(func() {
		close(db.closing)
		<-db.done
		err = db.closeSQL()
	})
	return err
}

func (db *DB) closeSQL() error {
	var errs []error
	for _, s := range []*sql.Stmt{db.get, db.list} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if db.conn != nil {
		errs = append(errs, db.conn.Close())
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}
