package federation_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/federation/fedtest"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	is    *fedtest.Issuer
	v     *federation.Verifier
	clock *clock
}

// newFixture starts a test issuer and a verifier that trusts exactly that issuer's URL.
func newFixture(t *testing.T, tweak func(*federation.Config)) *fixture {
	t.Helper()
	is := fedtest.New(t)
	c := &clock{now: time.Now()}
	cfg := federation.Config{
		TrustedIssuerPrefixes: []string{is.URL()},
		RootCAs:               is.CertPool(),
		Timeout:               2 * time.Second,
		Now:                   c.Now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	v, err := federation.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{is: is, v: v, clock: c}
}

func (f *fixture) expect(subject string) federation.Expectation {
	return federation.Expectation{Issuer: f.is.URL(), Subject: subject, Audience: fedtest.Audience}
}

func (f *fixture) verify(t *testing.T, raw, subject string) error {
	t.Helper()
	a, err := federation.Parse(raw)
	if err != nil {
		return err
	}
	return f.v.Verify(context.Background(), a, f.expect(subject))
}

func TestVerifyValidAssertion(t *testing.T) {
	f := newFixture(t, nil)
	raw := f.is.Sign(t, f.is.Claims("sc://org/project/conn", f.clock.Now()))
	if err := f.verify(t, raw, "sc://org/project/conn"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// A second verification is served from the key cache.
	if err := f.verify(t, raw, "sc://org/project/conn"); err != nil {
		t.Fatalf("Verify (cached): %v", err)
	}
	if got := f.is.JWKSHits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1", got)
	}
}

func TestVerifyIssuerAndSubjectExact(t *testing.T) {
	f := newFixture(t, nil)
	raw := f.is.Assertion(t, "sc://Org/project/conn")
	a, err := federation.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]federation.Expectation{
		"subject case":      {Issuer: f.is.URL(), Subject: "sc://org/project/conn", Audience: fedtest.Audience},
		"issuer slash":      {Issuer: f.is.URL() + "/", Subject: "sc://Org/project/conn", Audience: fedtest.Audience},
		"issuer upper case": {Issuer: strings.ToUpper(f.is.URL()), Subject: "sc://Org/project/conn", Audience: fedtest.Audience},
	} {
		if err := f.v.Verify(context.Background(), a, want); !errors.Is(err, federation.ErrClaims) {
			t.Errorf("%s: Verify = %v, want ErrClaims", name, err)
		}
	}
}

func TestVerifyAudience(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name string
		aud  any
		want error
	}{
		{"exact string", fedtest.Audience, nil},
		{"array containing it", []string{"x", fedtest.Audience}, nil},
		{"trailing slash", fedtest.Audience + "/", federation.ErrAudience},
		{"other case", strings.ToUpper(fedtest.Audience), federation.ErrAudience},
		{"missing", nil, federation.ErrAudience},
		{"empty string", "", federation.ErrAudience},
		{"empty array", []string{}, federation.ErrAudience},
		{"array with empty string", []string{"", fedtest.Audience}, federation.ErrMalformed},
		{"number", 42, federation.ErrMalformed},
		{"object", map[string]string{"aud": fedtest.Audience}, federation.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.is.Claims("s", f.clock.Now())
			if tc.aud == nil {
				delete(c, "aud")
			} else {
				c["aud"] = tc.aud
			}
			err := f.verify(t, f.is.Sign(t, c), "s")
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyTimeWindow(t *testing.T) {
	const leeway = 5 * time.Minute
	f := newFixture(t, func(c *federation.Config) { c.Leeway = leeway; c.MaxLifetime = time.Hour })
	now := f.clock.Now().Truncate(time.Second)
	f.clock.now = now
	cases := []struct {
		name   string
		mutate func(map[string]any)
		ok     bool
	}{
		{"valid", func(map[string]any) {}, true},
		{"expired within leeway", func(c map[string]any) { expire(c, now.Add(-leeway+time.Second)) }, true},
		{"expired at leeway", func(c map[string]any) { expire(c, now.Add(-leeway)) }, true},
		{"expired beyond leeway", func(c map[string]any) { expire(c, now.Add(-leeway-time.Second)) }, false},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = now.Add(leeway - time.Second).Unix() }, true},
		{"nbf beyond leeway", func(c map[string]any) { c["nbf"] = now.Add(leeway + time.Second).Unix() }, false},
		{"iat beyond leeway", func(c map[string]any) { c["iat"] = now.Add(leeway + time.Second).Unix() }, false},
		{"lifetime at max", func(c map[string]any) {
			c["nbf"] = now.Add(-time.Minute).Unix()
			c["exp"] = now.Add(59 * time.Minute).Unix()
		}, true},
		{"lifetime beyond max", func(c map[string]any) {
			c["nbf"] = now.Add(-time.Minute).Unix()
			c["exp"] = now.Add(59*time.Minute + time.Second).Unix()
		}, false},
		{"no nbf or iat, far exp", func(c map[string]any) {
			delete(c, "nbf")
			delete(c, "iat")
			c["exp"] = now.Add(2 * time.Hour).Unix()
		}, false},
		{"exp before nbf", func(c map[string]any) {
			c["nbf"] = now.Unix()
			c["exp"] = now.Add(-time.Second).Unix()
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.is.Claims("s", now)
			tc.mutate(c)
			err := f.verify(t, f.is.Sign(t, c), "s")
			if tc.ok && err != nil {
				t.Errorf("got %v, want success", err)
			}
			if !tc.ok && !errors.Is(err, federation.ErrTime) {
				t.Errorf("got %v, want ErrTime", err)
			}
		})
	}
}

// expire sets exp and moves nbf and iat ten minutes before it.
func expire(c map[string]any, exp time.Time) {
	c["exp"] = exp.Unix()
	c["nbf"] = exp.Add(-10 * time.Minute).Unix()
	c["iat"] = exp.Add(-10 * time.Minute).Unix()
}

func TestVerifyRejectsForeignKeys(t *testing.T) {
	f := newFixture(t, nil)
	attacker := fedtest.Key(t, 1)
	attackerJWK := jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: "evil", Algorithm: "RS256", Use: "sig"}
	claims := f.is.Claims("s", f.clock.Now())
	cases := []struct {
		name   string
		header map[string]any
		key    int
		want   error
	}{
		{"unknown kid", map[string]any{"alg": "RS256", "kid": "nope"}, 0, federation.ErrSignature},
		{"issuer kid signed by another key", map[string]any{"alg": "RS256", "kid": f.is.KeyID}, 1, federation.ErrSignature},
		{"jku to attacker keys", map[string]any{"alg": "RS256", "kid": "evil", "jku": "https://attacker.example/keys"}, 1, federation.ErrSignature},
		{"x5u to attacker", map[string]any{"alg": "RS256", "kid": "evil", "x5u": "https://attacker.example/cert"}, 1, federation.ErrSignature},
		{"embedded jwk", map[string]any{"alg": "RS256", "kid": f.is.KeyID, "jwk": attackerJWK}, 1, federation.ErrSignature},
		{"kid path traversal", map[string]any{"alg": "RS256", "kid": "../../etc/passwd"}, 0, federation.ErrSignature},
		{"kid sql", map[string]any{"alg": "RS256", "kid": "x' OR '1'='1"}, 0, federation.ErrSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := fedtest.SignWith(t, fedtest.Key(t, tc.key), tc.header, claims)
			if err := f.verify(t, raw, "s"); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	f := newFixture(t, nil)
	f.is.SetDiscoveryIssuer(f.is.URL() + "/other")
	err := f.verify(t, f.is.Assertion(t, "s"), "s")
	if !errors.Is(err, federation.ErrFetch) {
		t.Fatalf("got %v, want ErrFetch", err)
	}
	if n := f.is.JWKSHits.Load(); n != 0 {
		t.Errorf("JWKS fetched %d times after an issuer mix-up, want 0", n)
	}
}

func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	f := newFixture(t, func(c *federation.Config) { c.MinRefreshInterval = time.Minute })
	if err := f.verify(t, f.is.Assertion(t, "s"), "s"); err != nil {
		t.Fatal(err)
	}
	claims := f.is.Claims("s", f.clock.Now())
	for i := range 50 {
		raw := fedtest.SignWith(t, f.is.Key, map[string]any{"alg": "RS256", "kid": "random-" + string(rune('a'+i%26))}, claims)
		if err := f.verify(t, raw, "s"); !errors.Is(err, federation.ErrSignature) {
			t.Fatalf("unknown kid: got %v, want ErrSignature", err)
		}
	}
	if n := f.is.JWKSHits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for 50 unknown kids within the refresh interval, want 1", n)
	}
	// The issuer rotates: once the interval has passed the new kid is fetched and accepted.
	f.is.RotateKey(fedtest.Key(t, 2), "test-key-2")
	f.clock.Add(time.Minute)
	if err := f.verify(t, f.is.Assertion(t, "s"), "s"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := f.is.JWKSHits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

func TestKeysExpireAndFailClosed(t *testing.T) {
	f := newFixture(t, func(c *federation.Config) { c.KeyTTL = time.Hour; c.MinRefreshInterval = time.Second })
	if err := f.verify(t, f.is.Assertion(t, "s"), "s"); err != nil {
		t.Fatal(err)
	}
	f.is.SetHandler(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	f.clock.Add(30 * time.Minute)
	if err := f.verify(t, f.is.Sign(t, f.is.Claims("s", f.clock.Now())), "s"); err != nil {
		t.Fatalf("keys within TTL must still be used while the issuer is down: %v", err)
	}
	f.clock.Add(31 * time.Minute)
	err := f.verify(t, f.is.Sign(t, f.is.Claims("s", f.clock.Now())), "s")
	if !errors.Is(err, federation.ErrFetch) {
		t.Fatalf("stale keys with the issuer down: got %v, want ErrFetch", err)
	}
}

func TestFetchFailuresAreBounded(t *testing.T) {
	big := strings.Repeat(" ", 10<<20)
	cases := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }},
		{"10 MB body", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(big)) }},
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }},
		{"no keys", func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/keys") {
				_, _ = w.Write([]byte(`{"keys":[]}`))
				return
			}
			_, _ = w.Write([]byte(`{"issuer":"` + "https://" + r.Host + `","jwks_uri":"https://` + r.Host + `/keys"}`))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *federation.Config) { c.Timeout = 300 * time.Millisecond })
			f.is.SetHandler(tc.handler)
			err := f.verify(t, f.is.Assertion(t, "s"), "s")
			if !errors.Is(err, federation.ErrFetch) {
				t.Fatalf("got %v, want ErrFetch", err)
			}
		})
	}
}

func TestVerifyRefusesUntrustedLoopbackIssuer(t *testing.T) {
	// The verifier trusts no prefix, so the test issuer on 127.0.0.1 must never be fetched.
	f := newFixture(t, func(c *federation.Config) { c.TrustedIssuerPrefixes = nil })
	err := f.verify(t, f.is.Assertion(t, "s"), "s")
	if !errors.Is(err, federation.ErrIssuerNotAllowed) {
		t.Fatalf("got %v, want ErrIssuerNotAllowed", err)
	}
	if n := f.is.DiscoveryHits.Load(); n != 0 {
		t.Errorf("discovery fetched %d times, want 0", n)
	}
}

func TestSharedJWKSDoesNotBindIssuers(t *testing.T) {
	// Two issuers publish the same key (like vstoken's global JWKS): a token for issuer A
	// never satisfies an expectation for issuer B, whatever key signed it.
	f := newFixture(t, nil)
	raw := f.is.Assertion(t, "sc://a/p/c")
	a, err := federation.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := federation.Expectation{Issuer: "https://other.example/org", Subject: "sc://a/p/c", Audience: fedtest.Audience}
	if err := f.v.Verify(context.Background(), a, want); !errors.Is(err, federation.ErrClaims) {
		t.Fatalf("got %v, want ErrClaims", err)
	}
}
