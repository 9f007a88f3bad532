package keyvault

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkGet measures get-latest through the service: with the cache (the hot path) and
// without (a storage read, decryption and decoding of the head and the version).
func BenchmarkGet(b *testing.B) {
	for _, bc := range []struct {
		name    string
		entries int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, openSQLite(b), Config{CacheEntries: bc.entries})
			ctx := context.Background()
			if _, err := f.svc.Set(ctx, f.vault, "bench", SetParams{Value: strings.Repeat("v", 200), Tags: map[string]string{"env": "prod"}}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.svc.Get(ctx, f.vault, "bench", ""); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkSet measures durable sets on SQLite from many goroutines (group commit shares
// each fsync between the writers waiting for it).
func BenchmarkSet(b *testing.B) {
	f := newFixture(b, openSQLite(b), Config{})
	ctx := context.Background()
	value := strings.Repeat("v", 200)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.svc.Set(ctx, f.vault, "bench", SetParams{Value: value}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
