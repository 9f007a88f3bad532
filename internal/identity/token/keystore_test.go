package token

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/storage"
)

// countingStore counts List calls, which KeyStore.load makes once per load.
type countingStore struct {
	storage.Backend
	lists atomic.Int64
}

func (c *countingStore) List(ctx context.Context, prefix, after string, limit int) ([]storage.Entry, error) {
	c.lists.Add(1)
	return c.Backend.List(ctx, prefix, after, limit)
}

// TestConcurrentFirstVerifiesLoadKeysOnce covers a server's first burst of requests: every
// connection misses the token cache at once, and they must share one key load instead of
// each reading and parsing the tenant's keys.
func TestConcurrentFirstVerifiesLoadKeysOnce(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		f := newFixture(t, st)
		tok := f.issue(t, appGrant(tenantA))
		counting := &countingStore{Backend: st}
		keys := NewKeyStore(counting, KeyStoreConfig{Now: f.clock.Now})
		v, err := NewVerifier(keys, VerifierConfig{Authority: authority + "/", Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := v.Verify(context.Background(), tok.Raw, Expect{Audiences: []string{vaultAud}}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := counting.lists.Load(); n != 1 {
			t.Errorf("32 concurrent first verifies loaded the keys %d times, want 1", n)
		}
		// An unknown tenant is not remembered.
		if _, err := keys.publicKey(context.Background(), "99999999-9999-9999-9999-999999999999", "kid"); err == nil {
			t.Error("a key of an unknown tenant was found")
		}
		keys.mu.Lock()
		n := len(keys.tenants)
		keys.mu.Unlock()
		if n != 1 {
			t.Errorf("key store remembers %d tenants, want 1 (tenants without keys are not cached)", n)
		}
	})
}
