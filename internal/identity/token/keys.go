package token

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- x5t is defined as the SHA-1 thumbprint; it names a key, it does not protect one
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keystage/keystage/internal/storage"
)

// Storage layout (every value is sealed by the barrier the KeyStore is given):
//
//	identity/keys/{tenant}/{kid}    storedKey (private key, certificate)
//	identity/key-active/{tenant}    the kid that signs new tokens
const (
	keysPrefix   = "identity/keys/"
	activePrefix = "identity/key-active/"
)

// DefaultKeyBits is the RSA modulus size of generated signing keys.
const DefaultKeyBits = 2048

// ErrNoKey means a tenant has no signing key (it does not exist or was never bootstrapped).
var ErrNoKey = errors.New("token: tenant has no signing key")

// SigningKey is one tenant's RS256 key with the self-signed certificate that gives it an
// x5t/kid (the base64url SHA-1 thumbprint of the certificate, as Entra publishes).
type SigningKey struct {
	KeyID       string
	Certificate *x509.Certificate
	Created     time.Time
	private     *rsa.PrivateKey
}

// LogValue keeps the private key out of logs.
func (k *SigningKey) LogValue() slog.Value { return slog.StringValue("signing key " + k.KeyID) }

type storedKey struct {
	KeyID       string    `json:"kid"`
	Certificate []byte    `json:"cert"`
	PrivateKey  []byte    `json:"pkcs8"`
	Created     time.Time `json:"created"`
}

// GenerateKey creates a new RSA signing key of bits (at least 2048) for tenantID.
func GenerateKey(tenantID string, bits int, now time.Time) (*SigningKey, error) {
	if bits < 2048 {
		return nil, fmt.Errorf("token: signing keys must have at least 2048 bits, not %d", bits)
	}
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Keystage token signing " + tenantID},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("token: self-sign key certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("token: parse key certificate: %w", err)
	}
	return &SigningKey{KeyID: thumbprint(der), Certificate: cert, Created: now.UTC(), private: priv}, nil
}

func thumbprint(der []byte) string {
	sum := sha1.Sum(der) // #nosec G401 -- see import
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (k *SigningKey) encode() ([]byte, error) {
	pk, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedKey{KeyID: k.KeyID, Certificate: k.Certificate.Raw, PrivateKey: pk, Created: k.Created})
}

func decodeKey(b []byte) (*SigningKey, error) {
	var s storedKey
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(s.Certificate)
	if err != nil {
		return nil, err
	}
	pk, err := x509.ParsePKCS8PrivateKey(s.PrivateKey)
	if err != nil {
		return nil, err
	}
	priv, ok := pk.(*rsa.PrivateKey)
	if !ok || !priv.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("stored key does not match its certificate")
	}
	return &SigningKey{KeyID: s.KeyID, Certificate: cert, Created: s.Created, private: priv}, nil
}

// JWK returns the public JSON Web Key as the JWKS endpoint publishes it.
func (k *SigningKey) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{
		Key:                       &k.private.PublicKey,
		KeyID:                     k.KeyID,
		Use:                       "sig",
		Certificates:              []*x509.Certificate{k.Certificate},
		CertificateThumbprintSHA1: thumbprintBytes(k.Certificate.Raw),
	}
}

func thumbprintBytes(der []byte) []byte {
	sum := sha1.Sum(der) // #nosec G401 -- see import
	return sum[:]
}

// KeyStoreConfig configures a KeyStore. Zero fields take the defaults in parentheses.
type KeyStoreConfig struct {
	// Bits is the modulus size of keys the store generates (DefaultKeyBits).
	Bits int
	// RefreshInterval is how long a tenant's cached keys are used before they are reread,
	// so rotations by another process sharing the database are seen (1m).
	RefreshInterval time.Duration
	// MissInterval is the least time between rereads caused by an unknown kid (5s).
	MissInterval time.Duration
	// Now returns the current time (time.Now).
	Now func() time.Time
}

// KeyStore keeps each tenant's signing keys in storage and caches them in memory. It is
// safe for concurrent use.
type KeyStore struct {
	st  storage.Backend
	cfg KeyStoreConfig

	mu      sync.Mutex
	tenants map[string]*tenantKeys
}

// tenantKeys caches one tenant's keys; snap is replaced whole on reload.
type tenantKeys struct {
	reload sync.Mutex
	snap   atomic.Pointer[keySnapshot]
}

type keySnapshot struct {
	loaded time.Time
	keys   map[string]*SigningKey
	active *SigningKey
	signer jose.Signer
}

// NewKeyStore returns a KeyStore over st, which must seal values at rest (the barrier).
func NewKeyStore(st storage.Backend, cfg KeyStoreConfig) *KeyStore {
	if cfg.Bits == 0 {
		cfg.Bits = DefaultKeyBits
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = time.Minute
	}
	if cfg.MissInterval <= 0 {
		cfg.MissInterval = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &KeyStore{st: st, cfg: cfg, tenants: map[string]*tenantKeys{}}
}

// Generate creates a key of the store's size for tenantID without storing it (key
// generation is slow; do it before opening a transaction, then Put it inside).
func (ks *KeyStore) Generate(tenantID string) (*SigningKey, error) {
	return GenerateKey(tenantID, ks.cfg.Bits, ks.cfg.Now())
}

// Put stores k for tenantID in tx (a transaction or the backend) and, when activate is
// set, makes it the key that signs new tokens.
func (ks *KeyStore) Put(ctx context.Context, tx storage.Store, tenantID string, k *SigningKey, activate bool) error {
	b, err := k.encode()
	if err != nil {
		return fmt.Errorf("token: encode key: %w", err)
	}
	if err := tx.Put(ctx, keysPrefix+tenantID+"/"+k.KeyID, b); err != nil {
		return fmt.Errorf("token: store key: %w", err)
	}
	if activate {
		if err := tx.Put(ctx, activePrefix+tenantID, []byte(k.KeyID)); err != nil {
			return fmt.Errorf("token: activate key: %w", err)
		}
	}
	ks.forget(tenantID)
	return nil
}

// HasKey reports whether tenantID has an active signing key.
func (ks *KeyStore) HasKey(ctx context.Context, tenantID string) (bool, error) {
	_, err := ks.st.Get(ctx, activePrefix+tenantID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("token: %w", err)
	}
	return true, nil
}

// Rotate generates a new key for tenantID and makes it active. Earlier keys stay published
// and keep verifying tokens until Retire removes them.
func (ks *KeyStore) Rotate(ctx context.Context, tenantID string) (*SigningKey, error) {
	if ok, err := ks.HasKey(ctx, tenantID); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrNoKey
	}
	k, err := ks.Generate(tenantID)
	if err != nil {
		return nil, err
	}
	if err := ks.st.Update(ctx, func(tx storage.Store) error { return ks.Put(ctx, tx, tenantID, k, true) }); err != nil {
		return nil, fmt.Errorf("token: rotate: %w", err)
	}
	ks.forget(tenantID)
	return k, nil
}

// Retire removes a key that is no longer active; tokens it signed stop verifying once
// every process has reloaded (within RefreshInterval, or at once for cached tokens' next
// expiry).
func (ks *KeyStore) Retire(ctx context.Context, tenantID, kid string) error {
	err := ks.st.Update(ctx, func(tx storage.Store) error {
		active, err := tx.Get(ctx, activePrefix+tenantID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if string(active) == kid {
			return errors.New("token: cannot retire the active signing key; rotate first")
		}
		return tx.Delete(ctx, keysPrefix+tenantID+"/"+kid)
	})
	ks.forget(tenantID)
	return err
}

// Keys returns tenantID's keys, active key first, then newest first.
func (ks *KeyStore) Keys(ctx context.Context, tenantID string) ([]*SigningKey, error) {
	snap, err := ks.snapshot(ctx, tenantID, false)
	if err != nil {
		return nil, err
	}
	out := make([]*SigningKey, 0, len(snap.keys))
	for _, k := range snap.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == snap.active) != (out[j] == snap.active) {
			return out[i] == snap.active
		}
		return out[i].Created.After(out[j].Created)
	})
	return out, nil
}

// JWKS returns the tenant's public key set.
func (ks *KeyStore) JWKS(ctx context.Context, tenantID string) (jose.JSONWebKeySet, error) {
	keys, err := ks.Keys(ctx, tenantID)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	return set, nil
}

// publicKey returns tenantID's key kid for verification, rereading storage (at most once
// per MissInterval) when the kid is unknown.
func (ks *KeyStore) publicKey(ctx context.Context, tenantID, kid string) (*rsa.PublicKey, error) {
	snap, err := ks.snapshot(ctx, tenantID, false)
	if err != nil {
		return nil, err
	}
	if k, ok := snap.keys[kid]; ok {
		return &k.private.PublicKey, nil
	}
	if ks.cfg.Now().Sub(snap.loaded) < ks.cfg.MissInterval {
		return nil, ErrNoKey
	}
	if snap, err = ks.snapshot(ctx, tenantID, true); err != nil {
		return nil, err
	}
	if k, ok := snap.keys[kid]; ok {
		return &k.private.PublicKey, nil
	}
	return nil, ErrNoKey
}

// signer returns the active key's signer for tenantID.
func (ks *KeyStore) signer(ctx context.Context, tenantID string) (jose.Signer, error) {
	snap, err := ks.snapshot(ctx, tenantID, false)
	if err != nil {
		return nil, err
	}
	if snap.signer == nil {
		return nil, ErrNoKey
	}
	return snap.signer, nil
}

// snapshot returns the cached keys of tenantID, loading them when absent, older than
// RefreshInterval, or when force is set. Tenants without keys are not cached.
func (ks *KeyStore) snapshot(ctx context.Context, tenantID string, force bool) (*keySnapshot, error) {
	if !validTenantID(tenantID) {
		return nil, ErrNoKey
	}
	ks.mu.Lock()
	tk := ks.tenants[tenantID]
	if tk == nil {
		// One entry per tenant from the first caller on, so that concurrent first callers
		// share one load instead of each parsing the keys.
		tk = &tenantKeys{}
		ks.tenants[tenantID] = tk
	}
	ks.mu.Unlock()
	now := ks.cfg.Now()
	if s := tk.snap.Load(); s != nil && !force && now.Sub(s.loaded) < ks.cfg.RefreshInterval {
		return s, nil
	}
	tk.reload.Lock()
	defer tk.reload.Unlock()
	if s := tk.snap.Load(); s != nil && now.Sub(s.loaded) < ks.cfg.RefreshInterval && (!force || s.loaded.After(now)) {
		return s, nil // another caller reloaded while we waited
	}
	s, err := ks.load(ctx, tenantID)
	if err != nil {
		if tk.snap.Load() == nil {
			// Tenants without keys are not cached: token-chosen tids must not grow the map.
			ks.mu.Lock()
			if ks.tenants[tenantID] == tk {
				delete(ks.tenants, tenantID)
			}
			ks.mu.Unlock()
		}
		return nil, err
	}
	tk.snap.Store(s)
	return s, nil
}

func (ks *KeyStore) load(ctx context.Context, tenantID string) (*keySnapshot, error) {
	if !validTenantID(tenantID) {
		return nil, ErrNoKey
	}
	entries, err := ks.st.List(ctx, keysPrefix+tenantID+"/", "", 0)
	if err != nil {
		return nil, fmt.Errorf("token: load keys: %w", err)
	}
	if len(entries) == 0 {
		return nil, ErrNoKey
	}
	s := &keySnapshot{loaded: ks.cfg.Now(), keys: make(map[string]*SigningKey, len(entries))}
	for _, e := range entries {
		k, err := decodeKey(e.Value)
		if err != nil {
			return nil, fmt.Errorf("token: decode key %s: %w", strings.TrimPrefix(e.Key, keysPrefix), err)
		}
		s.keys[k.KeyID] = k
	}
	active, err := ks.st.Get(ctx, activePrefix+tenantID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("token: load active key: %w", err)
	}
	if k, ok := s.keys[string(active)]; ok {
		s.active = k
		opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t", k.KeyID)
		s.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.private, KeyID: k.KeyID}}, opts)
		if err != nil {
			return nil, fmt.Errorf("token: signer: %w", err)
		}
	}
	return s, nil
}

// forget drops tenantID's cached keys so the next use rereads them.
func (ks *KeyStore) forget(tenantID string) {
	ks.mu.Lock()
	delete(ks.tenants, tenantID)
	ks.mu.Unlock()
}
