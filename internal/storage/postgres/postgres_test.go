package postgres

import (
	"context"
	"testing"

	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/postgres/pgtest"
	"github.com/keystage/keystage/internal/storage/storagetest"
)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), Config{DSN: pgtest.DSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openTest(t) })
}

func BenchmarkGet(b *testing.B) {
	db := openTest(b)
	defer db.Close()
	storagetest.BenchGet(b, db)
}
