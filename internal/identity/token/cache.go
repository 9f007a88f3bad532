package token

import (
	"sync"
	"time"
)

const cacheShards = 64

// cache remembers tokens whose signature and issuer have been verified, keyed by the
// SHA-256 of the token, until exp plus the leeway. It holds at most about size entries:
// a full shard first drops expired entries (at most once a second) and otherwise evicts an
// arbitrary entry. Only verified tokens enter it, so its content is bounded by what
// Keystage itself issued. It is safe for concurrent use.
type cache struct {
	shards   [cacheShards]cacheShard
	perShard int
	leeway   time.Duration
	now      func() time.Time
}

type cacheShard struct {
	mu        sync.RWMutex
	m         map[[32]byte]*Claims
	lastSweep time.Time
}

func newCache(size int, leeway time.Duration, now func() time.Time) *cache {
	c := &cache{perShard: max(1, size/cacheShards), leeway: leeway, now: now}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*Claims)
	}
	return c
}

func (c *cache) shard(k [32]byte) *cacheShard { return &c.shards[k[0]%cacheShards] }

// get returns the cached claims of k, or nil when absent or past exp plus the leeway.
func (c *cache) get(k [32]byte) *Claims {
	s := c.shard(k)
	s.mu.RLock()
	cl := s.m[k]
	s.mu.RUnlock()
	if cl == nil || c.expired(cl, c.now()) {
		return nil
	}
	return cl
}

func (c *cache) expired(cl *Claims, now time.Time) bool {
	return now.After(cl.ExpiresOn().Add(c.leeway))
}

func (c *cache) put(k [32]byte, cl *Claims) {
	now := c.now()
	if c.expired(cl, now) {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		if now.Sub(s.lastSweep) >= time.Second {
			s.lastSweep = now
			for key, v := range s.m {
				if c.expired(v, now) {
					delete(s.m, key)
				}
			}
		}
		for key := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, key)
		}
	}
	s.m[k] = cl
}

// len returns the number of cached entries (for tests).
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
