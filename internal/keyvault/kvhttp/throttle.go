package kvhttp

import (
	"math"
	"sync"
	"time"
)

// Throttle is the per-vault request limit, Azure's "transactions per 10 seconds". The zero
// Throttle means Azure's limits for secrets: 4,000 transactions and 300 creates per 10 s.
type Throttle struct {
	// Disabled turns throttling off.
	Disabled bool
	// Transactions is how many non-create requests a vault accepts per Window (4,000).
	Transactions int
	// Creates is how many secret sets a vault accepts per Window (300).
	Creates int
	// Window is the period the limits are counted over (10 s).
	Window time.Duration
}

func (t Throttle) withDefaults() Throttle {
	if t.Transactions <= 0 {
		t.Transactions = 4000
	}
	if t.Creates <= 0 {
		t.Creates = 300
	}
	if t.Window <= 0 {
		t.Window = 10 * time.Second
	}
	return t
}

// limiter keeps one token bucket per vault and kind of request. A bucket holds up to the
// limit and refills at limit per window, so a vault can burst to its limit and then sustain
// it; refused requests take no token, as Azure's throttled requests do not count.
type limiter struct {
	cfg     Throttle
	now     func() time.Time
	buckets sync.Map // bucketKey -> *bucket
}

type bucketKey struct {
	vault  string
	create bool
}

type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(cfg Throttle, now func() time.Time) *limiter {
	if cfg.Disabled {
		return nil
	}
	return &limiter{cfg: cfg.withDefaults(), now: now}
}

// allow takes a token for one request to vault and reports whether it may proceed; when
// it may not, retryAfter is the whole number of seconds until a token is available.
func (l *limiter) allow(vault string, create bool) (ok bool, retryAfter int) {
	if l == nil {
		return true, 0
	}
	limit := float64(l.cfg.Transactions)
	if create {
		limit = float64(l.cfg.Creates)
	}
	k := bucketKey{vault, create}
	now := l.now()
	v, ok := l.buckets.Load(k)
	if !ok {
		v, _ = l.buckets.LoadOrStore(k, &bucket{tokens: limit, last: now})
	}
	b := v.(*bucket)

	rate := limit / l.cfg.Window.Seconds() // tokens per second
	b.mu.Lock()
	defer b.mu.Unlock()
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(limit, b.tokens+elapsed*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, max(1, int(math.Ceil((1-b.tokens)/rate)))
}
