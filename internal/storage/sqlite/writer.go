package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keystage/keystage/internal/storage"
)

var errClosed = errors.New("sqlite: backend is closed")

// writeReq is one Update call waiting for the writer goroutine.
type writeReq struct {
	ctx  context.Context
	fn   func(storage.Store) error
	done chan writeResult
}

type writeResult struct {
	err      error
	panicked any // non-nil when fn panicked; re-raised in the caller's goroutine
}

// Update implements storage.Backend. fn runs exactly once, on the writer goroutine, inside
// a savepoint of a transaction it may share with other writers; Update returns once that
// transaction is durable (or failed).
func (db *DB) Update(ctx context.Context, fn func(tx storage.Store) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return errClosed
	}
	// Once handed over, fn may be running: wait for the outcome even if ctx ends.
	res := <-req.done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}

// writer serves Update calls until Close, batching every writer that is waiting when a
// commit starts into that commit. It owns stmts and closes them when it stops.
func (db *DB) writer(stmts *txStmts) {
	defer close(db.done)
	defer stmts.close()
	for {
		var first *writeReq
		select {
		case first = <-db.reqs:
		case <-db.closing:
			return
		}
		batch := []*writeReq{first}
	drain:
		for len(batch) < db.maxBatch {
			select {
			case r := <-db.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		db.commit(stmts, batch)
	}
}

// commit runs batch in one transaction, each writer in its own savepoint.
func (db *DB) commit(stmts *txStmts, batch []*writeReq) {
	ctx := context.Background() // a caller's cancellation must not interrupt the shared transaction
	results := make([]writeResult, len(batch))
	fail := func(err error) {
		for i := range results {
			if results[i].err == nil && results[i].panicked == nil {
				results[i].err = err
			}
		}
	}
	if _, err := stmts.begin.ExecContext(ctx); err != nil {
		fail(fmt.Errorf("sqlite: begin: %w", err))
		db.reply(batch, results)
		return
	}
	tx := &txStore{stmts: stmts}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		if _, err := stmts.savepoint.ExecContext(ctx); err != nil {
			fail(fmt.Errorf("sqlite: savepoint: %w", err))
			db.rollback(ctx, stmts)
			db.reply(batch, results)
			return
		}
		results[i] = call(r.fn, tx)
		var err error
		if results[i].err != nil || results[i].panicked != nil {
			_, err = stmts.rollbackTo.ExecContext(ctx)
		}
		if err == nil {
			_, err = stmts.release.ExecContext(ctx)
		}
		if err != nil {
			fail(fmt.Errorf("sqlite: savepoint: %w", err))
			db.rollback(ctx, stmts)
			db.reply(batch, results)
			return
		}
	}
	if _, err := stmts.commit.ExecContext(ctx); err != nil {
		db.rollback(ctx, stmts)
		fail(fmt.Errorf("sqlite: commit: %w", err))
	}
	db.reply(batch, results)
}

func (db *DB) rollback(ctx context.Context, stmts *txStmts) {
	if _, err := stmts.rollback.ExecContext(ctx); err != nil {
		db.log.Error("sqlite: rollback failed", "err", err)
	}
}

func (db *DB) reply(batch []*writeReq, results []writeResult) {
	for i, r := range batch {
		r.done <- results[i]
	}
}

// call runs fn, turning a panic into a result so that the writer survives it.
func call(fn func(storage.Store) error, tx storage.Store) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panicked: p}
		}
	}()
	return writeResult{err: fn(tx)}
}

// txStmts are the writer connection's prepared statements: the data statements and the
// transaction control the writer runs around every batch and every writer in it.
type txStmts struct {
	get, list, put, del                                     *sql.Stmt
	begin, savepoint, release, rollbackTo, commit, rollback *sql.Stmt
}

func prepareTx(ctx context.Context, conn *sql.Conn) (*txStmts, error) {
	var s txStmts
	var err error
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.get, getQuery},
		{&s.list, listQuery},
		{&s.put, `INSERT INTO entries(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`},
		{&s.del, `DELETE FROM entries WHERE key = ?`},
		{&s.begin, `BEGIN IMMEDIATE`},
		{&s.savepoint, `SAVEPOINT w`},
		{&s.release, `RELEASE w`},
		{&s.rollbackTo, `ROLLBACK TO w`},
		{&s.commit, `COMMIT`},
		{&s.rollback, `ROLLBACK`},
	} {
		if *p.dst, err = conn.PrepareContext(ctx, p.query); err != nil {
			s.close()
			return nil, err
		}
	}
	return &s, nil
}

func (s *txStmts) close() {
	for _, st := range []*sql.Stmt{s.get, s.list, s.put, s.del, s.begin, s.savepoint, s.release, s.rollbackTo, s.commit, s.rollback} {
		if st != nil {
			st.Close()
		}
	}
}

// txStore is the storage.Store handed to Update functions. Statements run without the
// caller's cancellation: interrupting a statement would roll back the shared transaction.
type txStore struct {
	stmts *txStmts
}

func (t *txStore) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := t.stmts.get.QueryRowContext(context.WithoutCancel(ctx), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get: %w", err)
	}
	return v, nil
}

func (t *txStore) List(ctx context.Context, prefix, after string, limit int) ([]storage.Entry, error) {
	rows, err := t.stmts.list.QueryContext(context.WithoutCancel(ctx), prefix, storage.PrefixEnd(prefix), after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	return scanEntries(rows)
}

func (t *txStore) Put(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	if _, err := t.stmts.put.ExecContext(context.WithoutCancel(ctx), key, value); err != nil {
		return fmt.Errorf("sqlite: put: %w", err)
	}
	return nil
}

func (t *txStore) Delete(ctx context.Context, key string) error {
	if _, err := t.stmts.del.ExecContext(context.WithoutCancel(ctx), key); err != nil {
		return fmt.Errorf("sqlite: delete: %w", err)
	}
	return nil
}
