package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Default token lifetimes.
const (
	// DefaultLifetime is an app token's lifetime (Entra: 60–90 minutes).
	DefaultLifetime = 75 * time.Minute
	// DefaultManagedIdentityLifetime is a managed identity token's lifetime (Entra: ~24h).
	DefaultManagedIdentityLifetime = 24 * time.Hour
)

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// Authority is Keystage's public https base URL; tokens carry iss "{Authority}/{tid}/".
	Authority string
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Issuer signs access tokens with each tenant's active key. It is safe for concurrent use.
type Issuer struct {
	keys      *KeyStore
	authority string
	now       func() time.Time
}

// NewIssuer returns an Issuer signing with keys.
func NewIssuer(keys *KeyStore, cfg IssuerConfig) (*Issuer, error) {
	authority, err := NormalizeAuthority(cfg.Authority)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{keys: keys, authority: authority, now: cfg.Now}, nil
}

// Authority returns the normalized authority (no trailing slash).
func (is *Issuer) Authority() string { return is.authority }

// Grant is what an access token asserts. The caller (the identity service) has already
// authenticated the client and checked that Resource is accepted.
type Grant struct {
	TenantID string
	// ObjectID is the service principal's or managed identity's object (principal) id.
	ObjectID string
	// AppID is the client id.
	AppID string
	// AppIDACR is ACRSecret or ACRAssertion.
	AppIDACR string
	// Resource becomes aud verbatim.
	Resource string
	// Lifetime is exp-iat; DefaultLifetime when zero.
	Lifetime time.Duration
	// ManagedIdentityResourceID is set for user-assigned managed identities.
	ManagedIdentityResourceID string
}

// Token is a signed access token. Raw is a bearer credential: never log it.
type Token struct {
	Raw    string
	Claims Claims
}

// String keeps the bearer token out of formatted output.
func (t Token) String() string { return "token(uti=" + t.Claims.UTI + ")" }

// LogValue keeps the bearer token out of logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Issue signs a token for g with the tenant's active key.
func (is *Issuer) Issue(ctx context.Context, g Grant) (Token, error) {
	if g.TenantID == "" || g.ObjectID == "" || g.AppID == "" || g.Resource == "" {
		return Token{}, errors.New("token: grant needs a tenant, object id, app id and resource")
	}
	if g.AppIDACR != ACRSecret && g.AppIDACR != ACRAssertion {
		return Token{}, fmt.Errorf("token: invalid appidacr %q", g.AppIDACR)
	}
	if g.Lifetime <= 0 {
		g.Lifetime = DefaultLifetime
	}
	signer, err := is.keys.signer(ctx, g.TenantID)
	if err != nil {
		return Token{}, err
	}
	var uti [16]byte
	if _, err := rand.Read(uti[:]); err != nil {
		return Token{}, fmt.Errorf("token: %w", err)
	}
	now := is.now().Unix()
	c := Claims{
		Audience:                  g.Resource,
		Issuer:                    IssuerURL(is.authority, g.TenantID),
		IssuedAt:                  now,
		NotBefore:                 now,
		Expiry:                    now + int64(g.Lifetime/time.Second),
		AppID:                     g.AppID,
		AppIDACR:                  g.AppIDACR,
		IDType:                    "app",
		ObjectID:                  g.ObjectID,
		Subject:                   g.ObjectID,
		TenantID:                  g.TenantID,
		UTI:                       base64.RawURLEncoding.EncodeToString(uti[:]),
		Version:                   "1.0",
		ManagedIdentityResourceID: g.ManagedIdentityResourceID,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return Token{}, fmt.Errorf("token: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return Token{}, fmt.Errorf("token: sign: %w", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return Token{}, fmt.Errorf("token: serialize: %w", err)
	}
	return Token{Raw: raw, Claims: c}, nil
}
