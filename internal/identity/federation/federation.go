// Package federation verifies client assertions that external OpenID Connect issuers sign
// for workload identity federation, fetching each issuer's keys safely.
//
// It is written on go-jose rather than github.com/coreos/go-oidc because go-oidc's remote
// key set refreshes on every unknown kid without a rate limit, decodes claims with
// encoding/json (duplicate claims silently last-wins), follows the HTTP client it is given
// (redirects, proxies) and reports failures in a way that cannot be mapped to Entra's
// distinct AADSTS codes.
package federation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Errors of Verify, besides ErrMalformed, ErrFetch and ErrIssuerNotAllowed. Each wraps a
// detail that is safe to show the caller (it never contains the assertion).
var (
	// ErrSignature means the signature did not verify or its kid is not in the issuer's
	// key set.
	ErrSignature = errors.New("federation: assertion signature is invalid")
	// ErrAudience means no aud value equals the expected audience.
	ErrAudience = errors.New("federation: assertion audience does not match")
	// ErrTime means the assertion is expired, not yet valid, issued in the future, or
	// valid for longer than the policy allows.
	ErrTime = errors.New("federation: assertion is not within its valid time range")
	// ErrClaims means iss or sub differ from what the caller expected.
	ErrClaims = errors.New("federation: assertion issuer or subject does not match")
)

// Config configures a Verifier. Zero fields take the defaults in parentheses.
type Config struct {
	// TrustedIssuerPrefixes are https URL prefixes (Keystage's own URL, say) that may be
	// fetched even though their hosts are loopback or private.
	TrustedIssuerPrefixes []string
	// RootCAs verifies issuers' TLS certificates (nil: the system roots). The server
	// passes the system roots plus Keystage's own CA.
	RootCAs *x509.CertPool
	// Timeout bounds each HTTP exchange (10s).
	Timeout time.Duration
	// MaxDocumentBytes caps a discovery document or JWKS (256 KiB).
	MaxDocumentBytes int64
	// KeyTTL is how long fetched keys are used without refetching (1h).
	KeyTTL time.Duration
	// MinRefreshInterval is the least time between two fetches for one issuer (30s).
	MinRefreshInterval time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat (5m, as Entra).
	Leeway time.Duration
	// MaxLifetime is the longest validity period (exp minus nbf or iat) accepted (24h).
	MaxLifetime time.Duration
	// MaxIssuers caps the issuers whose keys are cached (1000).
	MaxIssuers int
	// Now returns the current time (time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxDocumentBytes <= 0 {
		c.MaxDocumentBytes = 256 << 10
	}
	if c.KeyTTL <= 0 {
		c.KeyTTL = time.Hour
	}
	if c.MinRefreshInterval <= 0 {
		c.MinRefreshInterval = 30 * time.Second
	}
	if c.Leeway <= 0 {
		c.Leeway = 5 * time.Minute
	}
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = 24 * time.Hour
	}
	if c.MaxIssuers <= 0 {
		c.MaxIssuers = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Verifier verifies parsed assertions against their issuers' published keys. It is safe
// for concurrent use.
type Verifier struct {
	cfg    Config
	policy *Policy
	fetch  *fetcher
	log    *slog.Logger
	flight singleflight.Group

	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

// New returns a Verifier; it fails only on an invalid trusted prefix.
func New(cfg Config, logger *slog.Logger) (*Verifier, error) {
	cfg.setDefaults()
	policy, err := NewPolicy(cfg.TrustedIssuerPrefixes)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Verifier{
		cfg:     cfg,
		policy:  policy,
		fetch:   newFetcher(policy, cfg),
		log:     logger,
		issuers: map[string]*issuerKeys{},
	}, nil
}

// Policy returns the issuer policy (for checking federated credentials when they are
// created).
func (v *Verifier) Policy() *Policy { return v.policy }

// Expectation is what a verified assertion must say: the federated credential's issuer and
// subject (compared byte for byte) and its one audience (one of the aud values).
type Expectation struct {
	Issuer   string
	Subject  string
	Audience string
}

// Verify checks a parsed assertion: iss and sub equal the expectation, the issuer's
// discovery document names the same issuer, the RS256 signature verifies with the key the
// kid selects from the issuer's JWKS, aud contains the audience, and exp/nbf/iat hold
// within Leeway and MaxLifetime. The issuer URL is re-checked against the policy before
// anything is fetched.
func (v *Verifier) Verify(ctx context.Context, a *Assertion, want Expectation) error {
	if a == nil || a.jws == nil {
		return fmt.Errorf("%w: no assertion", ErrMalformed)
	}
	if a.Issuer != want.Issuer || a.Subject != want.Subject {
		return ErrClaims
	}
	if err := v.policy.CheckIssuer(a.Issuer); err != nil {
		return err
	}
	key, err := v.key(ctx, a.Issuer, a.KeyID)
	if err != nil {
		v.log.InfoContext(ctx, "federated assertion rejected", "issuer", a.Issuer, "reason", err)
		return err
	}
	payload, err := a.jws.Verify(key)
	if err != nil {
		return fmt.Errorf("%w: signature verification failed", ErrSignature)
	}
	// Re-decode from the verified bytes rather than trusting the fields Parse filled in.
	verified := &Assertion{KeyID: a.KeyID, jws: a.jws}
	if err := checkStrictObject(payload); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if err := verified.decodeClaims(payload); err != nil {
		return err
	}
	if verified.Issuer != want.Issuer || verified.Subject != want.Subject {
		return ErrClaims
	}
	if !slices.Contains(verified.Audience, want.Audience) {
		return fmt.Errorf("%w: expected %s", ErrAudience, quoteShort(want.Audience))
	}
	return v.checkTime(verified)
}

// checkTime applies the validity-window rules with Leeway on each bound.
func (v *Verifier) checkTime(a *Assertion) error {
	now, leeway := v.cfg.Now(), v.cfg.Leeway
	if now.After(a.Expiry.Add(leeway)) {
		return fmt.Errorf("%w: expired at %s", ErrTime, a.Expiry.UTC().Format(time.RFC3339))
	}
	if !a.NotBefore.IsZero() && now.Add(leeway).Before(a.NotBefore) {
		return fmt.Errorf("%w: not valid before %s", ErrTime, a.NotBefore.UTC().Format(time.RFC3339))
	}
	if !a.IssuedAt.IsZero() && now.Add(leeway).Before(a.IssuedAt) {
		return fmt.Errorf("%w: issued in the future (%s)", ErrTime, a.IssuedAt.UTC().Format(time.RFC3339))
	}
	start := a.NotBefore
	if start.IsZero() {
		start = a.IssuedAt
	}
	if start.IsZero() {
		start = now
	}
	if a.Expiry.Before(start) {
		return fmt.Errorf("%w: exp is before nbf/iat", ErrTime)
	}
	if a.Expiry.Sub(start) > v.cfg.MaxLifetime {
		return fmt.Errorf("%w: lifetime exceeds %s", ErrTime, v.cfg.MaxLifetime)
	}
	return nil
}
