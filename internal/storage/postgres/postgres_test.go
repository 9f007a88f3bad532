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
	ctx := context.Background()
	if err := db.Put(ctx, "kv/vault/secrets/name", make([]byte, 200)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.Get(ctx, "kv/vault/secrets/name"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
