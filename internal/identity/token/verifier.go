package token

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MaxTokenBytes caps the size of a token the Verifier will parse.
const MaxTokenBytes = 16 << 10

// DefaultLeeway is the clock skew the Verifier allows on exp and nbf: five minutes, the
// default ClockSkew of Microsoft.IdentityModel that Key Vault and ARM validate with.
const DefaultLeeway = 5 * time.Minute

// Reasons a token is rejected; a Verify error wraps exactly one of them.
var (
	// ErrMalformed: not a compact RS256 JWS with the expected claims.
	ErrMalformed = errors.New("token: malformed")
	// ErrSignature: unknown kid for the token's tenant, or a bad signature.
	ErrSignature = errors.New("token: invalid signature")
	// ErrIssuer: iss is not the issuer of the token's tenant, or the tenant is not the
	// one expected (Key Vault's AKV10032).
	ErrIssuer = errors.New("token: invalid issuer")
	// ErrAudience: aud is not one of the accepted audiences (Key Vault's AKV10022).
	ErrAudience = errors.New("token: invalid audience")
	// ErrExpired: exp plus the leeway has passed.
	ErrExpired = errors.New("token: expired")
	// ErrNotYetValid: nbf minus the leeway is still in the future.
	ErrNotYetValid = errors.New("token: not yet valid")
)

// Error is a token rejection. Found and Expected carry the offending claim and the
// accepted values for ErrAudience and ErrIssuer; claim values are not secret, so callers may
// echo them as Key Vault does ("AKV10022: Invalid audience. Expected X, found: Y.").
type Error struct {
	Err      error
	Found    string
	Expected []string
	Detail   string
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if len(e.Expected) > 0 {
		msg += fmt.Sprintf(" (expected %s, found %q)", strings.Join(e.Expected, " or "), e.Found)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func reject(err error, detail string) *Error { return &Error{Err: err, Detail: detail} }

// VerifierConfig configures a Verifier. Zero fields take the defaults in parentheses.
type VerifierConfig struct {
	// Authority is the same base URL the Issuer uses.
	Authority string
	// Leeway is the clock skew allowed on exp and nbf (DefaultLeeway).
	Leeway time.Duration
	// CacheSize bounds the cache of verified tokens (100000).
	CacheSize int
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Verifier is the one verifier of Keystage access tokens. It accepts only RS256, chooses
// the key by kid among the keys of the tenant the token's tid names (so a key of tenant A
// can never validate a token claiming tenant B), requires iss to be that tenant's issuer,
// and never dereferences jku, x5u, jwk or x5c headers. Tokens that pass the signature and
// issuer checks are cached by their SHA-256 until they expire; the time, audience and
// tenant expectations are rechecked on every call. It is safe for concurrent use.
type Verifier struct {
	keys      *KeyStore
	authority string
	leeway    time.Duration
	now       func() time.Time
	cache     *cache
}

// NewVerifier returns a Verifier of tokens signed with keys.
func NewVerifier(keys *KeyStore, cfg VerifierConfig) (*Verifier, error) {
	authority, err := NormalizeAuthority(cfg.Authority)
	if err != nil {
		return nil, err
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{
		keys:      keys,
		authority: authority,
		leeway:    cfg.Leeway,
		now:       cfg.Now,
		cache:     newCache(cfg.CacheSize, cfg.Leeway, cfg.Now),
	}, nil
}

// Expect is what the calling API accepts.
type Expect struct {
	// Audiences are the accepted aud values, compared exactly (a trailing slash
	// matters). At least one is required.
	Audiences []string
	// TenantID, when set, is the only tenant whose tokens are accepted (a vault's tenant);
	// GUIDs compare case-insensitively.
	TenantID string
}

// Verify checks raw and returns its claims. Rejections are *Error values wrapping one of
// the Err* reasons; any other error is an internal failure (storage unavailable) that
// must not be reported to the caller as an invalid token.
func (v *Verifier) Verify(ctx context.Context, raw string, want Expect) (*Claims, error) {
	if len(want.Audiences) == 0 {
		return nil, errors.New("token: Verify called without an accepted audience")
	}
	if len(raw) > MaxTokenBytes || strings.Count(raw, ".") != 2 {
		return nil, reject(ErrMalformed, "not a compact JWS")
	}
	sum := sha256.Sum256([]byte(raw))
	c := v.cache.get(sum)
	if c == nil {
		var err error
		if c, err = v.verifySignature(ctx, raw); err != nil {
			return nil, err
		}
		v.cache.put(sum, c)
	}
	if err := v.check(c, want); err != nil {
		return nil, err
	}
	return c, nil
}

// verifySignature does the expensive part: key selection, signature and issuer binding.
func (v *Verifier) verifySignature(ctx context.Context, raw string) (*Claims, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, reject(ErrMalformed, "not an RS256 JWS")
	}
	h := jws.Signatures[0].Header
	if h.KeyID == "" {
		return nil, reject(ErrMalformed, "no kid")
	}
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, reject(ErrMalformed, "critical header extensions are not supported")
	}
	var unverified struct {
		TenantID string `json:"tid"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified) != nil || !validTenantID(unverified.TenantID) {
		return nil, reject(ErrMalformed, "no valid tid claim")
	}
	key, err := v.keys.publicKey(ctx, unverified.TenantID, h.KeyID)
	if errors.Is(err, ErrNoKey) {
		return nil, reject(ErrSignature, "unknown signing key for the token's tenant")
	}
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, reject(ErrSignature, "signature verification failed")
	}
	c := new(Claims)
	if err := json.Unmarshal(payload, c); err != nil {
		return nil, reject(ErrMalformed, "invalid claims")
	}
	if c.TenantID != unverified.TenantID { // cannot differ for a payload we signed; belt and braces
		return nil, reject(ErrMalformed, "inconsistent tid")
	}
	if want := IssuerURL(v.authority, c.TenantID); c.Issuer != want {
		return nil, &Error{Err: ErrIssuer, Found: c.Issuer, Expected: []string{want}}
	}
	if c.Version != "1.0" || c.Expiry == 0 {
		return nil, reject(ErrMalformed, "unsupported token version")
	}
	return c, nil
}

// check applies the per-call rules to verified claims.
func (v *Verifier) check(c *Claims, want Expect) error {
	now := v.now()
	if now.After(c.ExpiresOn().Add(v.leeway)) {
		return reject(ErrExpired, "expired at "+c.ExpiresOn().UTC().Format(time.RFC3339))
	}
	if now.Add(v.leeway).Before(c.NotBeforeTime()) {
		return reject(ErrNotYetValid, "not valid before "+c.NotBeforeTime().UTC().Format(time.RFC3339))
	}
	if !slices.Contains(want.Audiences, c.Audience) {
		return &Error{Err: ErrAudience, Found: c.Audience, Expected: want.Audiences}
	}
	if want.TenantID != "" && c.TenantID != strings.ToLower(want.TenantID) {
		return &Error{Err: ErrIssuer, Found: c.Issuer, Expected: []string{IssuerURL(v.authority, strings.ToLower(want.TenantID))}}
	}
	return nil
}
