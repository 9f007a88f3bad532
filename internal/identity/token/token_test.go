package token

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/storage"
)

const (
	authority = "https://localhost:8443"
	tenantA   = "aaaaaaaa-1111-4111-8111-11111111111f"
	tenantB   = "bbbbbbbb-2222-4222-8222-22222222222e"
	vaultAud  = "https://vault.azure.net"
)

// sharedKeys are generated once per test binary: RSA generation is slow.
var (
	sharedOnce sync.Once
	sharedKeys map[string]*SigningKey
)

func testKey(t testing.TB, tenant string) *SigningKey {
	t.Helper()
	sharedOnce.Do(func() {
		sharedKeys = map[string]*SigningKey{}
		for _, tid := range []string{tenantA, tenantB} {
			k, err := GenerateKey(tid, 2048, time.Now())
			if err != nil {
				panic(err)
			}
			sharedKeys[tid] = k
		}
	})
	return sharedKeys[tenant]
}

type fixture struct {
	st       storage.Backend
	keys     *KeyStore
	issuer   *Issuer
	verifier *Verifier
	clock    *identitytest.Clock
}

func newFixture(t testing.TB, st storage.Backend) *fixture {
	t.Helper()
	clock := identitytest.NewClock(time.Now())
	keys := NewKeyStore(st, KeyStoreConfig{Now: clock.Now})
	ctx := context.Background()
	for _, tid := range []string{tenantA, tenantB} {
		k := testKey(t, tid)
		if err := st.Update(ctx, func(tx storage.Store) error { return keys.Put(ctx, tx, tid, k, true) }); err != nil {
			t.Fatal(err)
		}
	}
	is, err := NewIssuer(keys, IssuerConfig{Authority: authority, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(keys, VerifierConfig{Authority: authority + "/", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, keys: keys, issuer: is, verifier: v, clock: clock}
}

func (f *fixture) issue(t testing.TB, g Grant) Token {
	t.Helper()
	tok, err := f.issuer.Issue(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func appGrant(tenant string) Grant {
	return Grant{TenantID: tenant, ObjectID: "sp-object", AppID: "app-id", AppIDACR: ACRSecret, Resource: vaultAud}
}

func TestIssueAndVerify(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		f := newFixture(t, st)
		g := appGrant(tenantA)
		g.ManagedIdentityResourceID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
		tok := f.issue(t, g)
		now := f.clock.Now().Unix()
		want := Claims{
			Audience: vaultAud, Issuer: authority + "/" + tenantA + "/", IssuedAt: now, NotBefore: now,
			Expiry: now + int64(DefaultLifetime/time.Second), AppID: "app-id", AppIDACR: "1", IDType: "app",
			ObjectID: "sp-object", Subject: "sp-object", TenantID: tenantA, Version: "1.0",
			ManagedIdentityResourceID: g.ManagedIdentityResourceID,
		}
		got, err := f.verifier.Verify(context.Background(), tok.Raw, Expect{Audiences: []string{vaultAud}, TenantID: tenantA})
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if diff := cmp.Diff(want, *got, cmpopts.IgnoreFields(Claims{}, "UTI")); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		if got.UTI == "" {
			t.Error("no uti")
		}
		header := decodeHeader(t, tok.Raw)
		if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != testKey(t, tenantA).KeyID || header["x5t"] != header["kid"] {
			t.Errorf("header = %v", header)
		}
	})
}

func decodeHeader(t testing.TB, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(raw, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPrivateKeysAreSealedAtRest(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		newFixture(t, st)
		k := testKey(t, tenantA)
		pkcs8, err := x509.MarshalPKCS8PrivateKey(k.private)
		if err != nil {
			t.Fatal(err)
		}
		secrets := [][]byte{pkcs8, k.private.Primes[0].Bytes(), k.private.D.Bytes()}
		entries, err := st.Phys.List(context.Background(), "identity/", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			t.Fatal("no identity entries in physical storage")
		}
		for _, e := range entries {
			for _, s := range secrets {
				if bytes.Contains(e.Value, s) {
					t.Errorf("physical value at %s contains key material in the clear", e.Key)
				}
			}
		}
	})
}

// forge signs arbitrary claims with key under kid (RS256) or with a chosen raw header.
func forge(t testing.TB, key *rsa.PrivateKey, header map[string]any, claims any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t, identitytest.Open(t, "sqlite"))
	kA, kB := testKey(t, tenantA), testKey(t, tenantB)
	good := f.issue(t, appGrant(tenantA))
	claims := good.Claims
	withClaims := func(mut func(*Claims)) Claims { c := claims; mut(&c); return c }
	hdr := func(kid string) map[string]any { return map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid} }
	pubDER, _ := x509.MarshalPKIXPublicKey(&kA.private.PublicKey)
	hs := func() string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": kA.KeyID})
		c, _ := json.Marshal(claims)
		input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
		m := hmac.New(sha256.New, pubDER)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	body := strings.SplitN(good.Raw, ".", 2)[1]
	cases := []struct {
		name  string
		raw   string
		want  error
		found string
	}{
		{"tenant B key claiming tenant A", forge(t, kB.private, hdr(kB.KeyID), claims), ErrSignature, ""},
		{"tenant B key with tenant A kid", forge(t, kB.private, hdr(kA.KeyID), claims), ErrSignature, ""},
		{"foreign issuer on tenant A key", forge(t, kA.private, hdr(kA.KeyID), withClaims(func(c *Claims) { c.Issuer = "https://sts.windows.net/" + tenantA + "/" })), ErrIssuer, "https://sts.windows.net/" + tenantA + "/"},
		{"tid of tenant B signed by A", forge(t, kA.private, hdr(kA.KeyID), withClaims(func(c *Claims) { c.TenantID = tenantB; c.Issuer = authority + "/" + tenantB + "/" })), ErrSignature, ""},
		{"tid not a GUID", forge(t, kA.private, hdr(kA.KeyID), withClaims(func(c *Claims) { c.TenantID = "../" + tenantA })), ErrMalformed, ""},
		{"tid upper case", forge(t, kA.private, hdr(kA.KeyID), withClaims(func(c *Claims) { c.TenantID = strings.ToUpper(tenantA) })), ErrMalformed, ""},
		{"jku header to attacker key", forge(t, kB.private, map[string]any{"alg": "RS256", "kid": "attacker", "jku": "https://evil.example/keys"}, claims), ErrSignature, ""},
		{"no kid", forge(t, kA.private, map[string]any{"alg": "RS256"}, claims), ErrMalformed, ""},
		{"crit header", forge(t, kA.private, map[string]any{"alg": "RS256", "kid": kA.KeyID, "crit": []string{"x"}, "x": 1}, claims), ErrMalformed, ""},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+kA.KeyID+`"}`)) + "." + body, ErrMalformed, ""},
		{"alg HS256 with the public key", hs(), ErrMalformed, ""},
		{"alg PS256", forge(t, kA.private, map[string]any{"alg": "PS256", "kid": kA.KeyID}, claims), ErrMalformed, ""},
		{"flipped signature", good.Raw[:len(good.Raw)-4] + "AAAA", ErrSignature, ""},
		{"aud trailing slash", f.issue(t, withGrant(appGrant(tenantA), func(g *Grant) { g.Resource = vaultAud + "/" })).Raw, ErrAudience, vaultAud + "/"},
		{"aud ARM", f.issue(t, withGrant(appGrant(tenantA), func(g *Grant) { g.Resource = "https://management.azure.com/" })).Raw, ErrAudience, "https://management.azure.com/"},
		{"other tenant's token", f.issue(t, appGrant(tenantB)).Raw, ErrIssuer, authority + "/" + tenantB + "/"},
		{"JWE", "a.b.c.d.e", ErrMalformed, ""},
		{"oversized", strings.Repeat("a", MaxTokenBytes) + ".b.c", ErrMalformed, ""},
		{"garbage", "not a token", ErrMalformed, ""},
		{"empty", "", ErrMalformed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.verifier.Verify(context.Background(), tc.raw, Expect{Audiences: []string{vaultAud}, TenantID: tenantA})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tc.want)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *token.Error", err)
			}
			if te.Found != tc.found {
				t.Errorf("Found = %q, want %q", te.Found, tc.found)
			}
		})
	}
}

func withGrant(g Grant, mut func(*Grant)) Grant { mut(&g); return g }

func TestVerifyTimeBoundaries(t *testing.T) {
	f := newFixture(t, identitytest.Open(t, "sqlite"))
	g := appGrant(tenantA)
	g.Lifetime = time.Hour
	tok := f.issue(t, g)
	start := f.clock.Now()
	want := Expect{Audiences: []string{vaultAud}}
	cases := []struct {
		name string
		at   time.Time
		want error
	}{
		{"nbf minus leeway minus 1s", start.Add(-DefaultLeeway - time.Second), ErrNotYetValid},
		{"nbf minus leeway", start.Add(-DefaultLeeway), nil},
		{"exp plus leeway", start.Add(time.Hour + DefaultLeeway), nil},
		{"exp plus leeway plus 1s", start.Add(time.Hour + DefaultLeeway + time.Second), ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Set(tc.at)
			_, err := f.verifier.Verify(context.Background(), tok.Raw, want)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("Verify at %s = %v, want %v", tc.at.Sub(start), err, tc.want)
			}
		})
	}
}

func TestCachedTokensAreRechecked(t *testing.T) {
	f := newFixture(t, identitytest.Open(t, "sqlite"))
	tok := f.issue(t, appGrant(tenantA))
	ctx := context.Background()
	if _, err := f.verifier.Verify(ctx, tok.Raw, Expect{Audiences: []string{vaultAud}}); err != nil {
		t.Fatal(err)
	}
	if n := f.verifier.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries, want 1", n)
	}
	if _, err := f.verifier.Verify(ctx, tok.Raw, Expect{Audiences: []string{"https://management.azure.com/"}}); !errors.Is(err, ErrAudience) {
		t.Errorf("cached token, other audience: %v, want ErrAudience", err)
	}
	if _, err := f.verifier.Verify(ctx, tok.Raw, Expect{Audiences: []string{vaultAud}, TenantID: strings.ToUpper(tenantA)}); err != nil {
		t.Errorf("cached token, tenant in upper case: %v", err)
	}
	if _, err := f.verifier.Verify(ctx, tok.Raw, Expect{Audiences: []string{vaultAud}, TenantID: tenantB}); !errors.Is(err, ErrIssuer) {
		t.Errorf("cached token, other tenant: %v, want ErrIssuer", err)
	}
	f.clock.Advance(DefaultLifetime + DefaultLeeway + time.Second)
	if _, err := f.verifier.Verify(ctx, tok.Raw, Expect{Audiences: []string{vaultAud}}); !errors.Is(err, ErrExpired) {
		t.Errorf("cached token after expiry: %v, want ErrExpired", err)
	}
	if _, err := f.verifier.Verify(ctx, tok.Raw, Expect{}); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("Verify without audiences = %v, want a non-token error", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	now := time.Now()
	c := newCache(cacheShards*2, time.Minute, func() time.Time { return now })
	cl := &Claims{Expiry: now.Add(time.Hour).Unix()}
	for i := range 10_000 {
		c.put(sha256.Sum256([]byte{byte(i), byte(i >> 8)}), cl)
	}
	if n := c.len(); n > cacheShards*2 {
		t.Errorf("cache holds %d entries, want at most %d", n, cacheShards*2)
	}
	expired := &Claims{Expiry: now.Add(-2 * time.Minute).Unix()}
	c.put(sha256.Sum256([]byte("expired")), expired)
	if c.get(sha256.Sum256([]byte("expired"))) != nil {
		t.Error("expired claims were cached")
	}
}

func TestRotateAndRetire(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		old := f.issue(t, appGrant(tenantA))
		newKey, err := f.keys.Rotate(ctx, tenantA)
		if err != nil {
			t.Fatal(err)
		}
		fresh := f.issue(t, appGrant(tenantA))
		if kid := decodeHeader(t, fresh.Raw)["kid"]; kid != newKey.KeyID {
			t.Errorf("new token kid = %v, want %s", kid, newKey.KeyID)
		}
		set, err := f.keys.JWKS(ctx, tenantA)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 2 || set.Keys[0].KeyID != newKey.KeyID {
			t.Fatalf("JWKS after rotation = %d keys, first %q", len(set.Keys), set.Keys[0].KeyID)
		}
		for _, raw := range []string{old.Raw, fresh.Raw} {
			if _, err := f.verifier.Verify(ctx, raw, Expect{Audiences: []string{vaultAud}}); err != nil {
				t.Errorf("Verify after rotation: %v", err)
			}
		}
		if err := f.keys.Retire(ctx, tenantA, newKey.KeyID); err == nil {
			t.Error("retiring the active key succeeded")
		}
		if err := f.keys.Retire(ctx, tenantA, testKey(t, tenantA).KeyID); err != nil {
			t.Fatal(err)
		}
		// A verifier that has not cached the old token rejects it once the key is gone.
		v2, _ := NewVerifier(f.keys, VerifierConfig{Authority: authority, Now: f.clock.Now})
		if _, err := v2.Verify(ctx, old.Raw, Expect{Audiences: []string{vaultAud}}); !errors.Is(err, ErrSignature) {
			t.Errorf("token of a retired key: %v, want ErrSignature", err)
		}
	})
}

func TestJWKS(t *testing.T) {
	f := newFixture(t, identitytest.Open(t, "sqlite"))
	set, err := f.keys.JWKS(context.Background(), tenantA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS has %d keys", len(doc.Keys))
	}
	k := doc.Keys[0]
	for _, field := range []string{"kty", "use", "kid", "x5t", "n", "e", "x5c"} {
		if k[field] == nil {
			t.Errorf("JWK lacks %q: %v", field, k)
		}
	}
	if k["kid"] != k["x5t"] || k["kty"] != "RSA" || k["use"] != "sig" {
		t.Errorf("JWK = %v", k)
	}
	for _, field := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if k[field] != nil {
			t.Errorf("JWK publishes private field %q", field)
		}
	}
	if _, err := f.keys.JWKS(context.Background(), "33333333-3333-4333-8333-333333333333"); !errors.Is(err, ErrNoKey) {
		t.Errorf("JWKS of unknown tenant: %v, want ErrNoKey", err)
	}
}

func TestGenerateKeyRefusesSmallKeys(t *testing.T) {
	if _, err := GenerateKey(tenantA, 1024, time.Now()); err == nil {
		t.Error("GenerateKey(1024) succeeded")
	}
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f, identitytest.Open(f, "sqlite"))
	tok, err := fx.issuer.Issue(context.Background(), appGrant(tenantA))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok.Raw)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat(".", 100))
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := fx.verifier.Verify(context.Background(), raw, Expect{Audiences: []string{vaultAud}})
		if err == nil {
			if raw != tok.Raw {
				t.Fatalf("Verify accepted a token the issuer never signed: %q", raw)
			}
			return
		}
		if c != nil {
			t.Fatal("claims returned with an error")
		}
		var te *Error
		if !errors.As(err, &te) {
			t.Fatalf("Verify error %v is not a *token.Error", err)
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	f := newFixture(b, identitytest.Open(b, "sqlite"))
	ctx := context.Background()
	g := appGrant(tenantA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.Issue(ctx, g); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	f := newFixture(b, identitytest.Open(b, "sqlite"))
	tok := f.issue(b, appGrant(tenantA))
	want := Expect{Audiences: []string{vaultAud}, TenantID: tenantA}
	ctx := context.Background()
	if _, err := f.verifier.Verify(ctx, tok.Raw, want); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.verifier.Verify(ctx, tok.Raw, want); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerifyUncached(b *testing.B) {
	f := newFixture(b, identitytest.Open(b, "sqlite"))
	tok := f.issue(b, appGrant(tenantA))
	want := Expect{Audiences: []string{vaultAud}, TenantID: tenantA}
	ctx := context.Background()
	if _, err := f.verifier.Verify(ctx, tok.Raw, want); err != nil { // warm the key cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.verifier.verifySignature(ctx, tok.Raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
