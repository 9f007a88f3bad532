// Package identity owns Keystage's directory — tenants, app registrations with service
// principals, client secrets, user-assigned managed identities, federated identity
// credentials and identity-endpoint credentials — and the grants that turn them into
// access tokens.
package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/storage"
)

// MAC computes keyed hashes; the barrier implements it. Client secrets and identity
// headers are stored only as such MACs.
type MAC interface {
	MAC(purpose string, msg []byte) []byte
}

// Config configures a Service. Zero fields take the defaults in parentheses.
type Config struct {
	// Authority is Keystage's public https base URL (e.g. https://localhost:8443). Tokens
	// carry iss "{Authority}/{tenant}/". Required.
	Authority string
	// Resources are the accepted token audiences (aud = the requested resource, exactly;
	// a request may add or drop one trailing slash). Required: the server passes ARM,
	// Key Vault, Graph, Azure DevOps and Keystage's own URLs.
	Resources []string
	// Federation configures fetching external issuers' keys (trusted prefixes — the
	// server trusts its own URL — and TLS roots including Keystage's CA).
	Federation federation.Config
	// AppTokenLifetime is the lifetime of client-credential tokens (token.DefaultLifetime).
	AppTokenLifetime time.Duration
	// ManagedIdentityTokenLifetime is the lifetime of managed identity tokens
	// (token.DefaultManagedIdentityLifetime).
	ManagedIdentityTokenLifetime time.Duration
	// Leeway is the clock skew the access-token verifier allows (token.DefaultLeeway).
	Leeway time.Duration
	// VerifiedTokenCacheSize bounds the verifier's cache (100000).
	VerifiedTokenCacheSize int
	// KeyBits is the RSA size of tenant signing keys (token.DefaultKeyBits).
	KeyBits int
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Service is the identity domain service. It is safe for concurrent use.
type Service struct {
	st        storage.Backend
	mac       MAC
	cfg       Config
	now       func() time.Time
	log       *slog.Logger
	keys      *token.KeyStore
	issuer    *token.Issuer
	verifier  *token.Verifier
	fed       *federation.Verifier
	resources map[string]bool
}

// New returns a Service over st, which must seal values at rest (the barrier), hashing
// credentials with mac.
func New(st storage.Backend, mac MAC, cfg Config, logger *slog.Logger) (*Service, error) {
	if st == nil || mac == nil {
		return nil, errors.New("identity: New needs storage and a MAC")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AppTokenLifetime <= 0 {
		cfg.AppTokenLifetime = token.DefaultLifetime
	}
	if cfg.ManagedIdentityTokenLifetime <= 0 {
		cfg.ManagedIdentityTokenLifetime = token.DefaultManagedIdentityLifetime
	}
	authority, err := token.NormalizeAuthority(cfg.Authority)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	cfg.Authority = authority
	if len(cfg.Resources) == 0 {
		return nil, errors.New("identity: no accepted token resources configured")
	}
	resources := map[string]bool{}
	for _, r := range cfg.Resources {
		if r == "" || strings.ContainsAny(r, " \t\r\n") {
			return nil, fmt.Errorf("identity: invalid resource %q", r)
		}
		resources[r] = true
	}
	if cfg.Federation.Now == nil {
		cfg.Federation.Now = cfg.Now
	}
	fed, err := federation.New(cfg.Federation, logger)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	keys := token.NewKeyStore(st, token.KeyStoreConfig{Bits: cfg.KeyBits, Now: cfg.Now})
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{Authority: authority, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{
		Authority: authority, Leeway: cfg.Leeway, CacheSize: cfg.VerifiedTokenCacheSize, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return &Service{
		st: st, mac: mac, cfg: cfg, now: cfg.Now, log: logger,
		keys: keys, issuer: issuer, verifier: verifier, fed: fed, resources: resources,
	}, nil
}

// Authority returns the normalized authority URL (no trailing slash).
func (s *Service) Authority() string { return s.cfg.Authority }

// Verifier returns the one access-token verifier every Keystage API uses.
func (s *Service) Verifier() *token.Verifier { return s.verifier }

// Issuer returns the token issuer (for Keystage components that mint tokens themselves).
func (s *Service) Issuer() *token.Issuer { return s.issuer }

// Keys returns the tenants' signing keys (JWKS, rotation).
func (s *Service) Keys() *token.KeyStore { return s.keys }

// IssuerURL returns the iss of tenantID's access tokens.
func (s *Service) IssuerURL(tenantID string) string {
	return token.IssuerURL(s.cfg.Authority, tenantID)
}
