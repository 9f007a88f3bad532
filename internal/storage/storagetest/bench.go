package storagetest

import (
	"context"
	"testing"

	"github.com/keystage/keystage/internal/storage"
)

// BenchGet measures parallel point reads of one 200-byte value, the data plane's hot path.
func BenchGet(b *testing.B, s storage.Store) {
	ctx := context.Background()
	const key = "kv/vault/secrets/name"
	if err := s.Put(ctx, key, make([]byte, 200)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
