// Package fedtest serves a throwaway OpenID Connect issuer over HTTPS for tests: a
// discovery document, a JWKS and RS256-signed assertions, with knobs to misbehave.
package fedtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Audience is the audience Entra requires on federated assertions.
const Audience = "api://AzureADTokenExchange"

// Issuer is a test OIDC issuer. Its fields may be changed between requests; they are read
// under a lock.
type Issuer struct {
	Server *httptest.Server
	// Key signs assertions; its kid is KeyID.
	Key   *rsa.PrivateKey
	KeyID string

	mu sync.Mutex
	// discoveryIssuer overrides the issuer the discovery document names ("" = URL()).
	discoveryIssuer string
	// handler, when set, answers every request instead of the normal documents.
	handler http.HandlerFunc
	path    string

	// DiscoveryHits and JWKSHits count requests.
	DiscoveryHits atomic.Int64
	JWKSHits      atomic.Int64
}

var (
	keyOnce sync.Once
	keyPool []*rsa.PrivateKey
)

// testKeys returns a few RSA keys generated once per test binary (generation is slow).
func testKeys(t testing.TB) []*rsa.PrivateKey {
	keyOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyPool = append(keyPool, k)
		}
	})
	return keyPool
}

// Key returns the i-th (0..2) shared test RSA key.
func Key(t testing.TB, i int) *rsa.PrivateKey { return testKeys(t)[i] }

// New starts an issuer at the server's root URL; it is closed when the test ends.
func New(t testing.TB) *Issuer { return NewAt(t, "") }

// NewAt starts an issuer whose URL is the server URL plus path (e.g. "/org/123").
func NewAt(t testing.TB, path string) *Issuer {
	t.Helper()
	is := &Issuer{Key: Key(t, 0), KeyID: "test-key-1", path: path}
	is.Server = httptest.NewTLSServer(http.HandlerFunc(is.serve))
	t.Cleanup(is.Server.Close)
	return is
}

// URL returns the issuer identifier.
func (is *Issuer) URL() string { return is.Server.URL + is.path }

// CertPool returns a pool trusting the issuer's TLS certificate.
func (is *Issuer) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(is.Server.Certificate())
	return pool
}

// SetDiscoveryIssuer makes the discovery document name another issuer (mix-up tests).
func (is *Issuer) SetDiscoveryIssuer(s string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.discoveryIssuer = s
}

// SetHandler replaces every response (slow, failing, huge, redirecting issuers); nil
// restores the normal documents.
func (is *Issuer) SetHandler(h http.HandlerFunc) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.handler = h
}

// RotateKey replaces the signing key and its kid.
func (is *Issuer) RotateKey(k *rsa.PrivateKey, kid string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.Key, is.KeyID = k, kid
}

func (is *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	is.mu.Lock()
	h, discIss, key, kid := is.handler, is.discoveryIssuer, is.Key, is.KeyID
	is.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if discIss == "" {
		discIss = is.URL()
	}
	switch r.URL.Path {
	case is.path + "/.well-known/openid-configuration":
		is.DiscoveryHits.Add(1)
		writeJSON(w, map[string]any{
			"issuer":                                discIss,
			"jwks_uri":                              is.Server.URL + is.path + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
		})
	case is.path + "/keys":
		is.JWKSHits.Add(1)
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Claims returns the standard claims of a valid assertion for subject, valid from now-1m
// to now+5m.
func (is *Issuer) Claims(subject string, now time.Time) map[string]any {
	return map[string]any{
		"iss": is.URL(),
		"sub": subject,
		"aud": Audience,
		"iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
		"jti": "test",
	}
}

// Sign signs claims with the issuer's key under its kid.
func (is *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	is.mu.Lock()
	key, kid := is.Key, is.KeyID
	is.mu.Unlock()
	return SignWith(t, key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, claims)
}

// Assertion returns a valid signed assertion for subject.
func (is *Issuer) Assertion(t testing.TB, subject string) string {
	return is.Sign(t, is.Claims(subject, time.Now()))
}

// SignWith builds a compact JWS from an arbitrary header and claims, signed RS256 with key.
// The header is used as given (alg included), so tests can forge odd headers.
func SignWith(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return SignRaw(t, key, h, c)
}

// SignRaw signs raw header and payload bytes (which need not be valid JSON) with RS256.
func SignRaw(t testing.TB, key *rsa.PrivateKey, header, payload []byte) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	digest := crypto.SHA256.New()
	digest.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Segments splits a compact JWS into its three parts.
func Segments(jws string) (header, payload, sig string) {
	p := strings.SplitN(jws, ".", 3)
	for len(p) < 3 {
		p = append(p, "")
	}
	return p[0], p[1], p[2]
}
