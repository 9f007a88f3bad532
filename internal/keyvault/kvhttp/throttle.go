package kvhttp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
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

// ParseThrottle parses a throttle setting as flags give it: "off", "" or "azure" (Azure's
// limits), or "TRANSACTIONS/CREATES[/WINDOW]" such as "4000/300/10s".
func ParseThrottle(s string) (Throttle, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "azure":
		return Throttle{}, nil
	case "off", "none", "disabled":
		return Throttle{Disabled: true}, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Throttle{}, fmt.Errorf("throttle %q: want off, azure or TRANSACTIONS/CREATES[/WINDOW] such as 4000/300/10s", s)
	}
	var t Throttle
	var err error
	if t.Transactions, err = strconv.Atoi(parts[0]); err != nil || t.Transactions < 1 {
		return Throttle{}, fmt.Errorf("throttle %q: transactions must be a positive integer", s)
	}
	if t.Creates, err = strconv.Atoi(parts[1]); err != nil || t.Creates < 1 {
		return Throttle{}, fmt.Errorf("throttle %q: creates must be a positive integer", s)
	}
	if len(parts) == 3 {
		if t.Window, err = time.ParseDuration(parts[2]); err != nil || t.Window <= 0 {
			return Throttle{}, fmt.Errorf("throttle %q: the window must be a positive duration such as 10s", s)
		}
	}
	return t, nil
}
