package keyvault

import (
	"hash/maphash"
	"sync"
)

// cache holds the latest version of recently read secrets, so that the hot path (get
// latest) costs no storage read, no decryption and no decoding.
//
// Correctness rests on one rule: every write this process makes invalidates the names it
// touched after its transaction commits and before it returns. A reader that loaded a value
// from storage inserts it only if no invalidation of its shard happened since it started
// reading (the shard's generation is unchanged), so a read that raced with a write can never
// install the old value after the write's invalidation.
//
// The cache cannot see writes made by another process. Several servers sharing one
// PostgreSQL database must set Config.CacheEntries < 0, or would need each write's
// invalidation broadcast to every replica (for example with LISTEN/NOTIFY on the same
// transaction) — Keystage does not do that today.
//
// The cache holds plaintext secret values in memory, as any process serving them does.
type cache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 64

type cacheShard struct {
	mu  sync.RWMutex
	gen uint64
	m   map[ckey]*cached
}

// ckey names a secret in the cache: vault id and lower-cased name.
type ckey struct{ vid, lname string }

// cached is an immutable snapshot of a secret's latest version.
type cached struct {
	name    string
	version string
	rec     versionRecord
}

// newCache returns a cache of about entries items, or nil (caching off) when entries < 0.
func newCache(entries int) *cache {
	if entries < 0 {
		return nil
	}
	c := &cache{seed: maphash.MakeSeed(), perShard: max(entries/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[ckey]*cached)
	}
	return c
}

func (c *cache) shard(key ckey) *cacheShard {
	return &c.shards[maphash.Comparable(c.seed, key)%cacheShards]
}

// get returns the cached entry for key and, on a miss, the generation to pass to put.
func (c *cache) get(key ckey) (*cached, uint64) {
	if c == nil {
		return nil, 0
	}
	sh := c.shard(key)
	sh.mu.RLock()
	e, gen := sh.m[key], sh.gen
	sh.mu.RUnlock()
	return e, gen
}

// put stores e unless the shard saw an invalidation since gen was read.
func (c *cache) put(key ckey, gen uint64, e *cached) {
	if c == nil {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if len(sh.m) >= c.perShard {
		for k := range sh.m { // evict an arbitrary entry
			delete(sh.m, k)
			break
		}
	}
	sh.m[key] = e
}

// invalidate drops key and fences off readers that started before.
func (c *cache) invalidate(key ckey) {
	if c == nil {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	sh.gen++
	delete(sh.m, key)
	sh.mu.Unlock()
}

// invalidateAll drops every entry.
func (c *cache) invalidateAll() {
	if c == nil {
		return
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		clear(sh.m)
		sh.mu.Unlock()
	}
}
