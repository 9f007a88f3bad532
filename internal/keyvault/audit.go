package keyvault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

// Event is one audited data-plane call: who called, what they did to which secret, and the
// result. It never holds a secret value, a token or a request body.
type Event struct {
	Time       time.Time `json:"time"`
	RequestID  string    `json:"requestId,omitempty"`
	Vault      string    `json:"vault"`
	Operation  string    `json:"operation"`
	SecretName string    `json:"secretName,omitempty"`
	Version    string    `json:"version,omitempty"`
	Status     int       `json:"status"`
	ErrorCode  string    `json:"errorCode,omitempty"`
	// Caller: empty when the call was not authenticated.
	TenantID   string `json:"tenantId,omitempty"`
	ObjectID   string `json:"objectId,omitempty"`
	AppID      string `json:"appId,omitempty"`
	ClientIP   string `json:"clientIp,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
	DurationMS int64  `json:"durationMs"`
}

// AuditConfig tunes an Audit log. The zero AuditConfig is usable.
type AuditConfig struct {
	// FlushInterval is the longest an event waits in memory before it is stored; default
	// one second. Events still in memory when the process is killed are lost; Run stores
	// them on a clean shutdown.
	FlushInterval time.Duration
	// Retention is how long stored events are kept; default 30 days.
	Retention time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// Audit is the audit trail of data-plane calls. Record is cheap (an append under a mutex):
// events are stored in batches, sealed by the barrier: a flush writes one batch per vault
// for each auditChunk events it stores.
// It is safe for concurrent use.
type Audit struct {
	store     storage.Backend
	cfg       AuditConfig
	kick      chan struct{}
	flushMu   sync.Mutex // serializes flushes
	mu        sync.Mutex
	chunks    [][]Event // recorded, not yet stored; each of capacity auditChunk
	pending   int       // events in chunks
	seq       uint64
	lastSweep time.Time
}

const (
	auditChunk     = 1024    // events per buffer chunk and at most per stored batch
	auditFlushAt   = 4096    // events that trigger an early flush
	auditHardLimit = 1 << 18 // events in memory that make Record flush itself
	maxAuditTop    = 1000
)

// NewAudit returns an audit log storing into store.
func NewAudit(store storage.Backend, cfg AuditConfig) *Audit {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Audit{store: store, cfg: cfg, kick: make(chan struct{}, 1)}
}

// Record adds e to the trail. It does not wait for storage unless a quarter of a million
// events are already waiting (storage is down or far behind).
func (a *Audit) Record(e Event) {
	a.mu.Lock()
	// Fixed-size chunks: recording never copies earlier events to grow a buffer.
	if len(a.chunks) == 0 || len(a.chunks[len(a.chunks)-1]) == auditChunk {
		a.chunks = append(a.chunks, make([]Event, 0, auditChunk))
	}
	last := &a.chunks[len(a.chunks)-1]
	*last = append(*last, e)
	a.pending++
	n := a.pending
	a.mu.Unlock()
	switch {
	case n >= auditHardLimit:
		if err := a.Flush(context.Background()); err != nil {
			a.cfg.Logger.Error("keyvault: audit flush failed", "err", err)
		}
	case n >= auditFlushAt:
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// Run stores recorded events every FlushInterval (or sooner when many are waiting) and
// deletes events older than Retention, until ctx ends; then it stores what is left.
func (a *Audit) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := a.Flush(context.WithoutCancel(ctx)); err != nil {
				a.cfg.Logger.Error("keyvault: final audit flush failed", "err", err)
			}
			return
		case <-t.C:
		case <-a.kick:
		}
		if err := a.Flush(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Logger.Error("keyvault: audit flush failed", "err", err)
		}
		if now := a.cfg.Now(); now.Sub(a.lastSweep) > time.Hour {
			a.lastSweep = now
			if err := a.Expire(ctx); err != nil && ctx.Err() == nil {
				a.cfg.Logger.Error("keyvault: audit retention sweep failed", "err", err)
			}
		}
	}
}

// Flush stores every recorded event. On failure the events are kept for the next flush.
func (a *Audit) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	chunks := a.chunks
	a.chunks, a.pending = nil, 0
	a.mu.Unlock()
	if len(chunks) == 0 {
		return nil
	}
	// Each chunk becomes one stored batch per vault in it, events in time order (they are
	// recorded nearly in order, so sorting is cheap).
	type batch struct {
		vault string
		evs   []Event
	}
	var batches []batch
	for _, ch := range chunks {
		slices.SortStableFunc(ch, func(x, y Event) int { return x.Time.Compare(y.Time) })
		single := true
		for i := range ch {
			if ch[i].Vault != ch[0].Vault {
				single = false
				break
			}
		}
		if single {
			batches = append(batches, batch{ch[0].Vault, ch})
			continue
		}
		byVault := map[string][]Event{}
		for _, e := range ch {
			byVault[e.Vault] = append(byVault[e.Vault], e)
		}
		for v, evs := range byVault {
			batches = append(batches, batch{v, evs})
		}
	}
	raws := make([][]byte, len(batches))
	for i, b := range batches {
		raws[i] = appendEvents(make([]byte, 0, 256*len(b.evs)), b.evs)
	}
	err := a.store.Update(ctx, func(tx storage.Store) error {
		for i, b := range batches {
			a.seq++
			if err := tx.Put(ctx, auditKey(b.vault, b.evs[len(b.evs)-1].Time, a.seq), raws[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.mu.Lock()
		a.chunks = append(chunks, a.chunks...)
		for _, ch := range chunks {
			a.pending += len(ch)
		}
		a.mu.Unlock()
		return fmt.Errorf("keyvault: audit flush: %w", err)
	}
	return nil
}

// auditKey names a batch by its vault and its last event's time, so that every batch
// holding an event at or after t sorts at or after auditKey(vault, t, 0).
func auditKey(vault string, last time.Time, seq uint64) string {
	return fmt.Sprintf("%s%s/%020d-%010d", prefixAudit, strings.ToLower(vault), max(last.UnixNano(), 0), seq%1e10)
}

func auditPrefix(vault string) string { return prefixAudit + strings.ToLower(vault) + "/" }

// AuditQuery selects events of one vault.
type AuditQuery struct {
	Vault string
	// Since and Until bound Time (Since inclusive, Until exclusive); zero means unbounded.
	Since, Until time.Time
	// SecretName, Principal (object or application id), Operation and Status filter when set.
	SecretName string
	Principal  string
	Operation  string
	Status     int
	// Top is the page size, 1–1000; 0 means 100.
	Top int
	// After is the continuation from the previous page.
	After string
}

// Query returns one page of the vault's events in time order, oldest first. It flushes
// first, so every event recorded before the call is included.
func (a *Audit) Query(ctx context.Context, q AuditQuery) (Page[Event], error) {
	if q.Vault == "" {
		return Page[Event]{}, BadParameter("The vault to query is missing.")
	}
	top := q.Top
	switch {
	case top == 0:
		top = 100
	case top < 1 || top > maxAuditTop:
		return Page[Event]{}, BadParameter("top must be between 1 and %d.", maxAuditTop)
	}
	prefix := auditPrefix(q.Vault)
	if err := a.Flush(ctx); err != nil {
		return Page[Event]{}, err
	}
	var page Page[Event]
	// scan adds the matching events of one batch from index start; it reports whether the
	// page is complete.
	scan := func(key string, raw []byte, start int) (bool, error) {
		evs, err := decodeEvents(raw, strings.ToLower(q.Vault))
		if err != nil {
			return false, fmt.Errorf("keyvault: audit query: decode %s: %w", key, err)
		}
		if len(evs) > 0 && start == 0 && !q.Until.IsZero() && !evs[0].Time.Before(q.Until) {
			return true, nil // this batch, and every later one, starts after Until
		}
		for i := start; i < len(evs); i++ {
			if !q.matches(evs[i]) {
				continue
			}
			if len(page.Items) == top {
				page.Next = key + "#" + strconv.Itoa(i)
				return true, nil
			}
			page.Items = append(page.Items, evs[i])
		}
		return false, nil
	}
	after := ""
	switch {
	case q.After != "":
		key, skip, ok := parseAuditCursor(q.After)
		if !ok || !strings.HasPrefix(key, prefix) {
			return Page[Event]{}, BadParameter("The continuation token is not valid for this query.")
		}
		raw, err := a.store.Get(ctx, key)
		if err == nil {
			if done, err := scan(key, raw, skip); err != nil || done {
				return page, err
			}
		} else if !errors.Is(err, storage.ErrNotFound) { // a batch gone by retention is skipped
			return Page[Event]{}, fmt.Errorf("keyvault: audit query: %w", err)
		}
		after = key
	case !q.Since.IsZero():
		// Batches are named by their last event's time: those holding events at or after
		// Since sort after this.
		after = fmt.Sprintf("%s%020d", prefix, max(q.Since.UnixNano(), 0))
	}
	const batch = 8
	for {
		entries, err := a.store.List(ctx, prefix, after, batch)
		if err != nil {
			return Page[Event]{}, fmt.Errorf("keyvault: audit query: %w", err)
		}
		for _, e := range entries {
			after = e.Key
			if done, err := scan(e.Key, e.Value, 0); err != nil || done {
				return page, err
			}
		}
		if len(entries) < batch {
			return page, nil
		}
	}
}

func (q AuditQuery) matches(e Event) bool {
	switch {
	case !q.Since.IsZero() && e.Time.Before(q.Since):
		return false
	case !q.Until.IsZero() && !e.Time.Before(q.Until):
		return false
	case q.SecretName != "" && !strings.EqualFold(q.SecretName, e.SecretName):
		return false
	case q.Principal != "" && !strings.EqualFold(q.Principal, e.ObjectID) && !strings.EqualFold(q.Principal, e.AppID):
		return false
	case q.Operation != "" && !strings.EqualFold(q.Operation, e.Operation):
		return false
	case q.Status != 0 && q.Status != e.Status:
		return false
	}
	return true
}

func parseAuditCursor(s string) (key string, index int, ok bool) {
	key, idx, found := strings.Cut(s, "#")
	if !found || !strings.HasPrefix(key, prefixAudit) {
		return "", 0, false
	}
	n, err := strconv.Atoi(idx)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return key, n, true
}

// Expire deletes stored batches whose newest event is older than the retention.
func (a *Audit) Expire(ctx context.Context) error {
	cutoff := a.cfg.Now().Add(-a.cfg.Retention).UnixNano()
	after := ""
	for {
		// Batches of all vaults, in key order; each vault's batches sort by time.
		entries, err := a.store.List(ctx, prefixAudit, after, 16)
		if err != nil {
			return fmt.Errorf("keyvault: audit expire: %w", err)
		}
		var old []string
		for _, e := range entries {
			after = e.Key
			if t, ok := auditKeyTime(e.Key); ok && t < cutoff {
				old = append(old, e.Key)
			}
		}
		if len(old) > 0 {
			err := a.store.Update(ctx, func(tx storage.Store) error {
				for _, k := range old {
					if err := tx.Delete(ctx, k); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("keyvault: audit expire: %w", err)
			}
		}
		if len(entries) < 16 {
			return nil
		}
	}
}

func auditKeyTime(key string) (int64, bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return 0, false
	}
	ts, _, ok := strings.Cut(key[i+1:], "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	return n, err == nil
}
