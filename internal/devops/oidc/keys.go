package oidc

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/storage"
)

// Storage layout, under the organization's prefix so that deleting the organization
// deletes its keys (every value is sealed by the barrier the Issuer is given):
//
//	devops/o/{orgId}/oidc/key/{kid}   storedKey (PKCS#8 private key)
//	devops/o/{orgId}/oidc/active      the kid that signs new tokens
func keysPrefix(orgID string) string         { return devops.OrgPrefix(orgID) + "oidc/key/" }
func keyKey(orgID, kid string) string        { return keysPrefix(orgID) + kid }
func activeKey(orgID string) string          { return devops.OrgPrefix(orgID) + "oidc/active" }
func (k *signingKey) public() *rsa.PublicKey { return &k.private.PublicKey }

// ErrNoKey means an organization has no signing key yet (none was ever needed).
var ErrNoKey = errors.New("oidc: organization has no signing key")

// signingKey is one RS256 key of an organization. Its kid is the hex SHA-256 JWK
// thumbprint (RFC 7638) of the public key, so it names the key without a certificate.
type signingKey struct {
	kid     string
	created time.Time
	private *rsa.PrivateKey
}

type storedKey struct {
	KeyID   string    `json:"kid"`
	PKCS8   []byte    `json:"pkcs8"`
	Created time.Time `json:"created"`
}

func newSigningKey(bits int, now time.Time) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("oidc: generate key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: &priv.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("oidc: key thumbprint: %w", err)
	}
	return &signingKey{kid: hex.EncodeToString(tp), created: now.UTC(), private: priv}, nil
}

func (k *signingKey) encode() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedKey{KeyID: k.kid, PKCS8: der, Created: k.created})
}

func decodeKey(b []byte) (*signingKey, error) {
	var s storedKey
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	pk, err := x509.ParsePKCS8PrivateKey(s.PKCS8)
	if err != nil {
		return nil, err
	}
	priv, ok := pk.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("stored key is not an RSA key")
	}
	return &signingKey{kid: s.KeyID, created: s.Created, private: priv}, nil
}

func (k *signingKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.public(), KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// keySet is the cached state of one organization's keys.
type keySet struct {
	loaded time.Time
	keys   []*signingKey // active first, then newest first
	active *signingKey
	signer jose.Signer
}

// keyCache caches each organization's keys for refresh; safe for concurrent use.
type keyCache struct {
	mu   sync.Mutex
	sets map[string]*keySet
}

func (c *keyCache) get(orgID string) *keySet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sets[orgID]
}

func (c *keyCache) put(orgID string, s *keySet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = map[string]*keySet{}
	}
	c.sets[orgID] = s
}

func (c *keyCache) forget(orgID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sets, orgID)
}

// keys returns the organization's key set, reading storage when the cached one is older
// than the refresh interval (so rotations by another server process are seen). An
// organization without keys yields ErrNoKey and is not cached.
func (is *Issuer) keys(ctx context.Context, orgID string) (*keySet, error) {
	if !validOrgID(orgID) {
		return nil, ErrNoKey
	}
	now := is.now()
	if s := is.cache.get(orgID); s != nil && now.Sub(s.loaded) < is.cfg.KeyRefresh {
		return s, nil
	}
	entries, err := is.st.List(ctx, keysPrefix(orgID), "", 0)
	if err != nil {
		return nil, fmt.Errorf("oidc: load keys: %w", err)
	}
	if len(entries) == 0 {
		return nil, ErrNoKey
	}
	s := &keySet{loaded: now}
	for _, e := range entries {
		k, err := decodeKey(e.Value)
		if err != nil {
			return nil, fmt.Errorf("oidc: decode key %s: %w", e.Key, err)
		}
		s.keys = append(s.keys, k)
	}
	active, err := is.st.Get(ctx, activeKey(orgID))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("oidc: load active key: %w", err)
	}
	for _, k := range s.keys {
		if k.kid == string(active) {
			s.active = k
		}
	}
	sort.SliceStable(s.keys, func(i, j int) bool {
		if (s.keys[i] == s.active) != (s.keys[j] == s.active) {
			return s.keys[i] == s.active
		}
		return s.keys[i].created.After(s.keys[j].created)
	})
	if s.active != nil {
		opts := (&jose.SignerOptions{}).WithType("JWT")
		s.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.active.private, KeyID: s.active.kid}}, opts)
		if err != nil {
			return nil, fmt.Errorf("oidc: signer: %w", err)
		}
	}
	is.cache.put(orgID, s)
	return s, nil
}

// signingSet returns the organization's keys with an active key, creating the first key
// when the organization has none. Key generation happens outside the transaction; when
// two callers race, the first key stored wins and the other is discarded.
func (is *Issuer) signingSet(ctx context.Context, orgID string) (*keySet, error) {
	s, err := is.keys(ctx, orgID)
	if err == nil && s.signer != nil {
		return s, nil
	}
	if err != nil && !errors.Is(err, ErrNoKey) {
		return nil, err
	}
	if !validOrgID(orgID) {
		return nil, fmt.Errorf("oidc: %q is not an organization id", orgID)
	}
	k, err := newSigningKey(is.cfg.KeyBits, is.now())
	if err != nil {
		return nil, err
	}
	b, err := k.encode()
	if err != nil {
		return nil, fmt.Errorf("oidc: encode key: %w", err)
	}
	err = is.st.Update(ctx, func(tx storage.Store) error {
		if _, err := tx.Get(ctx, activeKey(orgID)); err == nil {
			return nil // another caller created the first key meanwhile
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := tx.Put(ctx, keyKey(orgID, k.kid), b); err != nil {
			return err
		}
		return tx.Put(ctx, activeKey(orgID), []byte(k.kid))
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: store first key: %w", err)
	}
	is.cache.forget(orgID)
	s, err = is.keys(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if s.signer == nil {
		return nil, fmt.Errorf("oidc: organization %s has keys but none is active", orgID)
	}
	return s, nil
}

// Rotate makes a new key the one that signs tokens. Earlier keys stay in the JWKS, so
// tokens they signed keep verifying until Retire removes them.
func (is *Issuer) Rotate(ctx context.Context, orgID string) (kid string, err error) {
	if !validOrgID(orgID) {
		return "", fmt.Errorf("oidc: %q is not an organization id", orgID)
	}
	k, err := newSigningKey(is.cfg.KeyBits, is.now())
	if err != nil {
		return "", err
	}
	b, err := k.encode()
	if err != nil {
		return "", fmt.Errorf("oidc: encode key: %w", err)
	}
	err = is.st.Update(ctx, func(tx storage.Store) error {
		if err := tx.Put(ctx, keyKey(orgID, k.kid), b); err != nil {
			return err
		}
		return tx.Put(ctx, activeKey(orgID), []byte(k.kid))
	})
	is.cache.forget(orgID)
	if err != nil {
		return "", fmt.Errorf("oidc: rotate: %w", err)
	}
	return k.kid, nil
}

// Retire removes a key that no longer signs; tokens it signed stop verifying once
// verifiers refetch the JWKS. The active key cannot be retired.
func (is *Issuer) Retire(ctx context.Context, orgID, kid string) error {
	if !validOrgID(orgID) {
		return fmt.Errorf("oidc: %q is not an organization id", orgID)
	}
	err := is.st.Update(ctx, func(tx storage.Store) error {
		active, err := tx.Get(ctx, activeKey(orgID))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if string(active) == kid {
			return errors.New("the active signing key cannot be retired; rotate first")
		}
		if _, err := tx.Get(ctx, keyKey(orgID, kid)); err != nil {
			return err
		}
		return tx.Delete(ctx, keyKey(orgID, kid))
	})
	is.cache.forget(orgID)
	if err != nil {
		return fmt.Errorf("oidc: retire %s: %w", kid, err)
	}
	return nil
}

// JWKS returns the organization's public keys, active key first. An organization that
// never needed a token has an empty set (keys are created by the first token, not by an
// anonymous JWKS read).
func (is *Issuer) JWKS(ctx context.Context, orgID string) (jose.JSONWebKeySet, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	s, err := is.keys(ctx, orgID)
	if errors.Is(err, ErrNoKey) {
		return set, nil
	}
	if err != nil {
		return set, err
	}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	return set, nil
}

// validOrgID reports whether s is a GUID in canonical lower-case form, the only form
// organization ids take.
func validOrgID(s string) bool {
	id, ok := identity.NormalizeGUID(s)
	return ok && id == s
}
