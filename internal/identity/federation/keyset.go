package federation

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// maxKeys caps how many keys of one JWKS are kept.
	maxKeys = 100
	// minRSABits is the smallest RSA modulus accepted from an issuer.
	minRSABits = 2048
)

// issuerKeys is the cached state of one issuer: its RS256 keys by kid, when they were
// fetched, and when a fetch was last attempted (successful or not).
type issuerKeys struct {
	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey
	fetched     time.Time
	lastAttempt time.Time
	lastErr     error
}

// discovery is the part of an OpenID Provider Configuration Keystage reads.
type discovery struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

// key returns the issuer's RS256 key kid. Keys are cached for KeyTTL; an unknown kid or
// stale keys trigger a fetch, but at most one fetch per issuer per MinRefreshInterval (an
// attacker presenting random kids must not turn Keystage into an amplifier). When a fetch
// is not allowed or fails, only keys still within KeyTTL are used: it fails closed.
func (v *Verifier) key(ctx context.Context, issuer, kid string) (*rsa.PublicKey, error) {
	ik := v.issuer(issuer)
	now := v.cfg.Now()
	ik.mu.Lock()
	fresh := !ik.fetched.IsZero() && now.Sub(ik.fetched) < v.cfg.KeyTTL
	if k, ok := ik.keys[kid]; ok && fresh {
		ik.mu.Unlock()
		return k, nil
	}
	mayFetch := ik.lastAttempt.IsZero() || now.Sub(ik.lastAttempt) >= v.cfg.MinRefreshInterval
	lastErr := ik.lastErr
	ik.mu.Unlock()

	if mayFetch {
		// One fetch per issuer at a time; concurrent callers share its result.
		_, err, _ := v.flight.Do(issuer, func() (any, error) {
			keys, err := v.fetchKeys(ctx, issuer)
			ik.mu.Lock()
			defer ik.mu.Unlock()
			ik.lastAttempt = v.cfg.Now()
			ik.lastErr = err
			if err == nil {
				ik.keys, ik.fetched = keys, ik.lastAttempt
			}
			return nil, err
		})
		if err != nil {
			lastErr = err
		}
	}

	ik.mu.Lock()
	defer ik.mu.Unlock()
	fresh = !ik.fetched.IsZero() && v.cfg.Now().Sub(ik.fetched) < v.cfg.KeyTTL
	if k, ok := ik.keys[kid]; ok && fresh {
		return k, nil
	}
	if !fresh && lastErr != nil {
		return nil, lastErr
	}
	if !fresh {
		return nil, fmt.Errorf("%w: the issuer's keys are stale and refreshing them is rate-limited", ErrFetch)
	}
	return nil, fmt.Errorf("%w: kid %s is not in the issuer's key set", ErrSignature, quoteShort(kid))
}

// issuer returns the cache entry of issuer, creating it; the cache holds at most
// MaxIssuers entries and drops an arbitrary one when full.
func (v *Verifier) issuer(issuer string) *issuerKeys {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ik, ok := v.issuers[issuer]; ok {
		return ik
	}
	if len(v.issuers) >= v.cfg.MaxIssuers {
		for k := range v.issuers {
			delete(v.issuers, k)
			break
		}
	}
	ik := &issuerKeys{}
	v.issuers[issuer] = ik
	return ik
}

// fetchKeys reads {issuer}/.well-known/openid-configuration, requires its issuer to equal
// issuer byte for byte (mix-up defence), then reads its jwks_uri and keeps the usable RS256
// signing keys.
func (v *Verifier) fetchKeys(ctx context.Context, issuer string) (map[string]*rsa.PublicKey, error) {
	// Detached from the caller: concurrent callers share this fetch, so one of them giving
	// up must not fail it for the others. The timeout still bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*v.cfg.Timeout)
	defer cancel()
	var d discovery
	if err := v.fetch.getJSON(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &d); err != nil {
		return nil, err
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("%w: the discovery document names issuer %s, not %s", ErrFetch, quoteShort(d.Issuer), quoteShort(issuer))
	}
	if d.JWKSURI == "" {
		return nil, fmt.Errorf("%w: the discovery document has no jwks_uri", ErrFetch)
	}
	if len(d.Algs) > 0 && !slices.Contains(d.Algs, string(jose.RS256)) {
		return nil, fmt.Errorf("%w: the issuer does not sign with RS256", ErrFetch)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.fetch.getJSON(ctx, d.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]*rsa.PublicKey{}
	dup := map[string]bool{}
	for _, raw := range set.Keys {
		if len(keys) >= maxKeys {
			break
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // other key types or malformed entries are skipped, not fatal
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || k.KeyID == "" || pub.N.BitLen() < minRSABits ||
			(k.Algorithm != "" && k.Algorithm != string(jose.RS256)) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if _, seen := keys[k.KeyID]; seen {
			dup[k.KeyID] = true
		}
		keys[k.KeyID] = pub
	}
	for kid := range dup {
		delete(keys, kid) // an ambiguous kid selects no key
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: the issuer's key set holds no usable RS256 key", ErrFetch)
	}
	return keys, nil
}
