// Package oidc is the OpenID Connect issuer Keystage runs for each Azure DevOps
// organization: RS256 signing keys sealed in storage, the discovery document and JWKS, and
// the service-connection tokens pipelines exchange for access tokens (workload identity
// federation).
//
// An organization's issuer is "{server URL}/_oidc/{organization id}"; it does not change
// when names change. Tokens carry sub "sc://{organization}/{project}/{connection}" with the
// names users see, so renaming the project or the connection changes the subject and the
// federated credential must be updated (as in Azure DevOps).
package oidc

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/storage"
)

// Audience is the one audience of service-connection tokens (Entra's token exchange).
const Audience = "api://AzureADTokenExchange"

// Defaults for Config fields left zero.
const (
	DefaultLifetime   = 5 * time.Minute
	DefaultBackdate   = 10 * time.Minute
	DefaultKeyBits    = 2048
	DefaultKeyRefresh = time.Minute
)

// Config configures an Issuer. ServerURL is required.
type Config struct {
	// ServerURL is Keystage's public https base URL; issuers live under it.
	ServerURL string
	// Lifetime is exp-iat of a token (DefaultLifetime, as Azure DevOps: 5 minutes).
	Lifetime time.Duration
	// Backdate is iat-nbf (DefaultBackdate: Azure DevOps sets nbf ten minutes before iat
	// so that verifiers with slow clocks accept fresh tokens).
	Backdate time.Duration
	// KeyBits is the RSA modulus size of new keys (DefaultKeyBits, at least 2048).
	KeyBits int
	// KeyRefresh is how long cached keys are used before storage is read again
	// (DefaultKeyRefresh).
	KeyRefresh time.Duration
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// Issuer signs service-connection tokens with each organization's active key. It is safe
// for concurrent use.
type Issuer struct {
	st        storage.Backend
	cfg       Config
	serverURL string
	now       func() time.Time
	log       *slog.Logger
	cache     keyCache
}

// New returns an Issuer storing keys in st, which must seal values at rest (the barrier).
func New(st storage.Backend, cfg Config, logger *slog.Logger) (*Issuer, error) {
	if st == nil {
		return nil, errors.New("oidc: New needs storage")
	}
	u, err := url.Parse(cfg.ServerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("oidc: server URL %q must be an https URL", cfg.ServerURL)
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Backdate < 0 {
		cfg.Backdate = 0
	} else if cfg.Backdate == 0 {
		cfg.Backdate = DefaultBackdate
	}
	if cfg.KeyBits == 0 {
		cfg.KeyBits = DefaultKeyBits
	}
	if cfg.KeyBits < 2048 {
		return nil, fmt.Errorf("oidc: signing keys need at least 2048 bits, not %d", cfg.KeyBits)
	}
	if cfg.KeyRefresh <= 0 {
		cfg.KeyRefresh = DefaultKeyRefresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Issuer{st: st, cfg: cfg, serverURL: strings.TrimRight(cfg.ServerURL, "/"), now: cfg.Now, log: logger}, nil
}

// PathPrefix is the first path segment of every issuer URL.
const PathPrefix = "/_oidc/"

// IssuerURL returns the issuer of organization orgID: "{ServerURL}/_oidc/{orgID}", without
// a trailing slash (the exact value federated credentials must name).
func (is *Issuer) IssuerURL(orgID string) string { return is.serverURL + PathPrefix + orgID }

// Subject returns the subject of a service connection's tokens,
// "sc://{organization}/{project}/{connection}", with the names as users see them.
func Subject(org, project, connection string) string {
	return "sc://" + org + "/" + project + "/" + connection
}

// Discovery is the OpenID Provider metadata served at
// "{issuer}/.well-known/openid-configuration".
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
}

// JWKSPath is the issuer-relative path of the key set.
const JWKSPath = "/.well-known/jwks"

// DiscoveryPath is the issuer-relative path of the discovery document.
const DiscoveryPath = "/.well-known/openid-configuration"

// Discovery returns the metadata of organization orgID's issuer.
func (is *Issuer) Discovery(orgID string) Discovery {
	iss := is.IssuerURL(orgID)
	return Discovery{
		Issuer:                           iss,
		JWKSURI:                          iss + JWKSPath,
		SubjectTypesSupported:            []string{"public", "pairwise"},
		ResponseTypesSupported:           []string{"id_token"},
		ClaimsSupported:                  []string{"sub", "aud", "exp", "iat", "iss", "nbf", "jti"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ScopesSupported:                  []string{"openid"},
	}
}

// Claims are the claims of a service-connection token (identity.md §1.2).
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ID        string `json:"jti"`
	NotBefore int64  `json:"nbf"`
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
}

// Token is a signed service-connection token. Raw is a credential: never log it.
type Token struct {
	Raw    string
	Claims Claims
}

// String keeps the token out of formatted output.
func (t Token) String() string { return "oidc token(jti=" + t.Claims.ID + ")" }

// LogValue keeps the token out of logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Mint signs a token for subject with organization orgID's active key, creating the
// organization's first key when it has none.
func (is *Issuer) Mint(ctx context.Context, orgID, subject string) (Token, error) {
	if subject == "" {
		return Token{}, errors.New("oidc: a token needs a subject")
	}
	s, err := is.signingSet(ctx, orgID)
	if err != nil {
		return Token{}, err
	}
	now := is.now()
	jti, err := uuid.NewRandomFromReader(rand.Reader)
	if err != nil {
		return Token{}, fmt.Errorf("oidc: %w", err)
	}
	c := Claims{
		Issuer:    is.IssuerURL(orgID),
		Subject:   subject,
		Audience:  Audience,
		ID:        jti.String(),
		IssuedAt:  now.Unix(),
		NotBefore: now.Add(-is.cfg.Backdate).Unix(),
		Expiry:    now.Add(is.cfg.Lifetime).Unix(),
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return Token{}, fmt.Errorf("oidc: %w", err)
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return Token{}, fmt.Errorf("oidc: sign: %w", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return Token{}, fmt.Errorf("oidc: sign: %w", err)
	}
	is.log.InfoContext(ctx, "service connection token issued", "org", orgID, "sub", subject, "jti", c.ID)
	return Token{Raw: raw, Claims: c}, nil
}
