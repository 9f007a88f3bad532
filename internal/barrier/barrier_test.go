package barrier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/postgres"
	"github.com/keystage/keystage/internal/storage/postgres/pgtest"
	"github.com/keystage/keystage/internal/storage/sqlite"
	"github.com/keystage/keystage/internal/storage/storagetest"
)

var testRootKey = bytes.Repeat([]byte{7}, 32)

// openers create a fresh, empty physical backend per call, closed when the test ends.
var openers = []struct {
	name string
	open func(t *testing.T) storage.Backend
}{
	{"sqlite", func(t *testing.T) storage.Backend {
		db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "b.db")})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
	{"postgres", func(t *testing.T) storage.Backend {
		db, err := postgres.Open(context.Background(), postgres.Config{DSN: pgtest.DSN(t)})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
}

// backends runs fn against a fresh SQLite and a fresh PostgreSQL backend.
func backends(t *testing.T, fn func(t *testing.T, phys storage.Backend)) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			phys := o.open(t)
			defer phys.Close()
			fn(t, phys)
		})
	}
}

func newBarrier(t testing.TB, phys storage.Backend) *Barrier {
	t.Helper()
	b, err := Open(context.Background(), phys, testRootKey, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nopClose keeps the physical backend open when the conformance suite closes the barrier.
type nopClose struct{ storage.Backend }

func (nopClose) Close() error { return nil }

func TestConformance(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Backend { return newBarrier(t, o.open(t)) })
		})
	}
}

func TestConfidential(t *testing.T) {
	backends(t, func(t *testing.T, phys storage.Backend) {
		ctx := context.Background()
		b := newBarrier(t, nopClose{phys})
		secret := []byte("correct horse battery staple")
		if err := b.Put(ctx, "kv/v/secrets/s", secret); err != nil {
			t.Fatal(err)
		}
		raw, err := phys.Get(ctx, "kv/v/secrets/s")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, secret) {
			t.Fatal("raw stored bytes contain the plaintext")
		}
		all, err := phys.List(ctx, "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all {
			if bytes.Contains(e.Value, secret) || bytes.Contains(e.Value, testRootKey) {
				t.Errorf("raw entry %q leaks plaintext or root key", e.Key)
			}
		}
		got, err := b.Get(ctx, "kv/v/secrets/s")
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("Get through barrier = %q, %v", got, err)
		}
	})
}

func TestIntegrity(t *testing.T) {
	backends(t, func(t *testing.T, phys storage.Backend) {
		ctx := context.Background()
		b := newBarrier(t, nopClose{phys})
		if err := b.Put(ctx, "k", []byte("value")); err != nil {
			t.Fatal(err)
		}
		raw, _ := phys.Get(ctx, "k")
		for i := range raw {
			flipped := bytes.Clone(raw)
			flipped[i] ^= 0x01
			if err := phys.Put(ctx, "k", flipped); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Get(ctx, "k"); err == nil {
				t.Fatalf("flipping byte %d was not detected", i)
			}
		}
	})
}

func TestMovedCiphertextFails(t *testing.T) {
	backends(t, func(t *testing.T, phys storage.Backend) {
		ctx := context.Background()
		b := newBarrier(t, nopClose{phys})
		if err := b.Put(ctx, "kv/a/secrets/x", []byte("for a only")); err != nil {
			t.Fatal(err)
		}
		raw, _ := phys.Get(ctx, "kv/a/secrets/x")
		if err := phys.Put(ctx, "kv/b/secrets/x", raw); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, "kv/b/secrets/x"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("moved ciphertext: error = %v, want ErrCorrupt", err)
		}
	})
}

func TestSamePlaintextDifferentCiphertext(t *testing.T) {
	backends(t, func(t *testing.T, phys storage.Backend) {
		ctx := context.Background()
		b := newBarrier(t, nopClose{phys})
		_ = b.Put(ctx, "k", []byte("same"))
		first, _ := phys.Get(ctx, "k")
		_ = b.Put(ctx, "k", []byte("same"))
		second, _ := phys.Get(ctx, "k")
		if bytes.Equal(first, second) {
			t.Fatal("sealing the same plaintext twice gave the same ciphertext")
		}
	})
}

func TestRotationKeepsOldEntriesReadable(t *testing.T) {
	backends(t, func(t *testing.T, phys storage.Backend) {
		ctx := context.Background()
		b := newBarrier(t, nopClose{phys})
		if got := b.ActiveTerm(); got != 1 {
			t.Fatalf("initial term = %d, want 1", got)
		}
		_ = b.Put(ctx, "old", []byte("term one"))
		mac := b.MAC("client-secret", []byte("s3cret"))
		term, err := b.Rotate(ctx)
		if err != nil || term != 2 {
			t.Fatalf("Rotate = %d, %v; want 2", term, err)
		}
		_ = b.Put(ctx, "new", []byte("term two"))
		raw, _ := phys.Get(ctx, "new")
		if tm, _ := termOf(raw); tm != 2 {
			t.Errorf("new write sealed with term %d, want 2", tm)
		}
		// A second process opening the same database reads both terms.
		b2, err := Open(ctx, nopClose{phys}, testRootKey, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"old": "term one", "new": "term two"} {
			got, err := b2.Get(ctx, k)
			if err != nil || string(got) != want {
				t.Errorf("after rotation Get(%s) = %q, %v", k, got, err)
			}
		}
		if !hmac.Equal(mac, b2.MAC("client-secret", []byte("s3cret"))) {
			t.Error("MAC changed across rotation; stored hashes would stop verifying")
		}
		// The first barrier picks up a rotation done by another process on first use.
		if _, err := b2.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		_ = b2.Put(ctx, "newer", []byte("term three"))
		if got, err := b.Get(ctx, "newer"); err != nil || string(got) != "term three" {
			t.Errorf("reading a newer term from a stale keyring = %q, %v", got, err)
		}
	})
}

func TestWrongOrMissingRootKeyFailsClosed(t *testing.T) {
	backends(t, func(t *testing.T, phys storage.Backend) {
		ctx := context.Background()
		if _, err := Open(ctx, nopClose{phys}, testRootKey, Options{}); !errors.Is(err, ErrNotInitialized) {
			t.Fatalf("Open without Create on empty storage = %v, want ErrNotInitialized", err)
		}
		newBarrier(t, nopClose{phys})
		wrong := bytes.Repeat([]byte{8}, 32)
		if _, err := Open(ctx, nopClose{phys}, wrong, Options{Create: true}); !errors.Is(err, ErrWrongRootKey) {
			t.Fatalf("Open with wrong key = %v, want ErrWrongRootKey", err)
		}
		if _, err := Open(ctx, nopClose{phys}, []byte("short"), Options{}); err == nil {
			t.Fatal("Open with a 5-byte key succeeded")
		}
		ok, err := Initialized(ctx, phys)
		if err != nil || !ok {
			t.Errorf("Initialized = %v, %v; want true", ok, err)
		}
	})
}

func TestShortAndEmptyCiphertexts(t *testing.T) {
	backends(t, func(t *testing.T, phys storage.Backend) {
		ctx := context.Background()
		b := newBarrier(t, nopClose{phys})
		for _, raw := range [][]byte{nil, {}, {0}, {0, 0, 0, 1}, {0, 0, 0, 1, 1}, make([]byte, overhead-1), make([]byte, overhead)} {
			if err := phys.Put(ctx, "bad", raw); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Get(ctx, "bad"); err == nil {
				t.Errorf("Get of a %d-byte ciphertext succeeded", len(raw))
			}
		}
	})
}

func TestReservedKeys(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	b := newBarrier(t, db)
	defer b.Close()
	ctx := context.Background()
	if _, err := b.Get(ctx, keyringKey); !errors.Is(err, ErrReserved) {
		t.Errorf("Get(keyring) = %v, want ErrReserved", err)
	}
	if err := b.Put(ctx, "barrier/x", nil); !errors.Is(err, ErrReserved) {
		t.Errorf("Put(barrier/x) = %v, want ErrReserved", err)
	}
	_ = b.Put(ctx, "a", []byte("1"))
	_ = b.Put(ctx, "c", []byte("3"))
	all, err := b.List(ctx, "", "", 2)
	if err != nil || len(all) != 2 || all[0].Key != "a" || all[1].Key != "c" {
		t.Errorf("List skipping reserved keys = %v, %v", all, err)
	}
}

func TestRootKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	key, err := CreateRootKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateRootKeyFile(path); err == nil {
		t.Error("CreateRootKeyFile overwrote an existing file")
	}
	got, err := ReadRootKeyFile(path)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("ReadRootKeyFile = %v, %v", got, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRootKeyFile(path); err == nil {
		t.Error("ReadRootKeyFile accepted a world-readable file")
	}
	for _, bad := range []string{"", "not base64!", "AAAA"} {
		if _, err := ParseRootKey(bad); err == nil {
			t.Errorf("ParseRootKey(%q) succeeded", bad)
		}
	}
}

func FuzzOpen(f *testing.F) {
	a, err := newAEAD(testRootKey)
	if err != nil {
		f.Fatal(err)
	}
	good := seal(a, 1, "k", []byte("hello"))
	f.Add(good)
	f.Add([]byte{})
	f.Add(make([]byte, overhead))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Only genuine ciphertexts (of "hello", the one plaintext ever sealed under this
		// key) authenticate; anything else is an error, not a panic.
		if plain, err := open(a, "k", raw); err == nil && string(plain) != "hello" {
			t.Fatalf("a %d-byte forged ciphertext opened", len(raw))
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	a, _ := newAEAD(testRootKey)
	plain := make([]byte, 200)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		seal(a, 1, "kv/vault/secrets/name", plain)
	}
}

func BenchmarkOpen(b *testing.B) {
	a, _ := newAEAD(testRootKey)
	sealed := seal(a, 1, "kv/vault/secrets/name", make([]byte, 200))
	b.SetBytes(200)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := open(a, "kv/vault/secrets/name", sealed); err != nil {
			b.Fatal(err)
		}
	}
}
