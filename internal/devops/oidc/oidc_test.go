package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/identitytest"
)

const orgID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// serve starts an HTTPS server that serves every organization's discovery document and
// JWKS the way the DevOps surface does, and returns an Issuer whose server URL is it.
func serve(t testing.TB, st *identitytest.Store, clock *identitytest.Clock) (*oidc.Issuer, *httptest.Server) {
	t.Helper()
	var is *oidc.Issuer
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, oidc.PathPrefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		org, doc, _ := strings.Cut(rest, "/")
		w.Header().Set("Content-Type", "application/json")
		switch "/" + doc {
		case oidc.DiscoveryPath:
			_ = json.NewEncoder(w).Encode(is.Discovery(org))
		case oidc.JWKSPath:
			set, err := is.JWKS(r.Context(), org)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_ = json.NewEncoder(w).Encode(set)
		default:
			http.NotFound(w, r)
		}
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	var err error
	is, err = oidc.New(st, oidc.Config{ServerURL: srv.URL, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return is, srv
}

func verifier(t testing.TB, srv *httptest.Server, clock *identitytest.Clock) *federation.Verifier {
	t.Helper()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	v, err := federation.New(federation.Config{TrustedIssuerPrefixes: []string{srv.URL}, RootCAs: pool, Now: clock.Now, MinRefreshInterval: time.Nanosecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMintVerifiesAsFederatedAssertion(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		clock := identitytest.NewClock(time.Unix(1_800_000_000, 0))
		is, srv := serve(t, st, clock)
		ctx := context.Background()
		sub := oidc.Subject("fabrikam", "Web App", "my connection")
		tok, err := is.Mint(ctx, orgID, sub)
		if err != nil {
			t.Fatal(err)
		}
		now := clock.Now().Unix()
		want := oidc.Claims{
			Issuer: srv.URL + "/_oidc/" + orgID, Subject: "sc://fabrikam/Web App/my connection",
			Audience: "api://AzureADTokenExchange", ID: tok.Claims.ID,
			IssuedAt: now, NotBefore: now - 600, Expiry: now + 300,
		}
		if diff := cmp.Diff(want, tok.Claims); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		// The signed payload says the same thing as Claims.
		parts := strings.Split(tok.Raw, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var got oidc.Claims
		if err := json.Unmarshal(payload, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("payload (-want +got):\n%s", diff)
		}
		header, _ := base64.RawURLEncoding.DecodeString(parts[0])
		var h map[string]any
		_ = json.Unmarshal(header, &h)
		if h["alg"] != "RS256" || h["typ"] != "JWT" || h["kid"] == "" {
			t.Errorf("header = %v, want alg RS256, typ JWT and a kid", h)
		}

		a, err := federation.Parse(tok.Raw)
		if err != nil {
			t.Fatal(err)
		}
		err = verifier(t, srv, clock).Verify(ctx, a, federation.Expectation{Issuer: want.Issuer, Subject: sub, Audience: oidc.Audience})
		if err != nil {
			t.Fatalf("federation verifier rejected the token: %v", err)
		}
	})
}

func TestKeysPersistAndRotate(t *testing.T) {
	st := identitytest.Open(t, "sqlite")
	clock := identitytest.NewClock(time.Unix(1_800_000_000, 0))
	is, srv := serve(t, st, clock)
	ctx := context.Background()

	set, err := is.JWKS(ctx, orgID)
	if err != nil || len(set.Keys) != 0 {
		t.Fatalf("JWKS before any token = %d keys, %v; want an empty set", len(set.Keys), err)
	}
	first, err := is.Mint(ctx, orgID, "sc://a/b/c")
	if err != nil {
		t.Fatal(err)
	}
	// A second issuer over the same storage (another server process) signs with the same key.
	other, err := oidc.New(st, oidc.Config{ServerURL: srv.URL, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := other.Mint(ctx, orgID, "sc://a/b/c")
	if err != nil {
		t.Fatal(err)
	}
	if kid(t, first.Raw) != kid(t, second.Raw) {
		t.Errorf("two issuers over one storage signed with different keys")
	}

	newKid, err := is.Rotate(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	third, _ := is.Mint(ctx, orgID, "sc://a/b/c")
	if kid(t, third.Raw) != newKid {
		t.Errorf("after Rotate the token is signed by %s, want %s", kid(t, third.Raw), newKid)
	}
	set, _ = is.JWKS(ctx, orgID)
	if len(set.Keys) != 2 || set.Keys[0].KeyID != newKid {
		t.Fatalf("JWKS after rotation = %d keys (first %v), want 2 with the active key first", len(set.Keys), set.Keys)
	}
	v := verifier(t, srv, clock)
	a, _ := federation.Parse(first.Raw)
	if err := v.Verify(ctx, a, federation.Expectation{Issuer: is.IssuerURL(orgID), Subject: "sc://a/b/c", Audience: oidc.Audience}); err != nil {
		t.Errorf("token of the previous key no longer verifies after rotation: %v", err)
	}
	if err := is.Retire(ctx, orgID, newKid); err == nil {
		t.Errorf("retiring the active key succeeded")
	}
	if err := is.Retire(ctx, orgID, kid(t, first.Raw)); err != nil {
		t.Fatal(err)
	}
	v = verifier(t, srv, clock)
	if err := v.Verify(ctx, a, federation.Expectation{Issuer: is.IssuerURL(orgID), Subject: "sc://a/b/c", Audience: oidc.Audience}); err == nil {
		t.Errorf("token of a retired key still verifies")
	}
}

func TestKeysAreSealedAndPerOrganization(t *testing.T) {
	st := identitytest.Open(t, "sqlite")
	clock := identitytest.NewClock(time.Unix(1_800_000_000, 0))
	is, srv := serve(t, st, clock)
	ctx := context.Background()
	const otherOrg = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	a, _ := is.Mint(ctx, orgID, "sc://x/y/z")
	b, _ := is.Mint(ctx, otherOrg, "sc://x/y/z")
	if kid(t, a.Raw) == kid(t, b.Raw) {
		t.Fatal("two organizations share a signing key")
	}
	// A token of one organization does not verify as the other's, even with the same subject.
	v := verifier(t, srv, clock)
	pa, _ := federation.Parse(a.Raw)
	err := v.Verify(ctx, pa, federation.Expectation{Issuer: is.IssuerURL(otherOrg), Subject: "sc://x/y/z", Audience: oidc.Audience})
	if err == nil {
		t.Error("a token of one organization verified for another organization's issuer")
	}
	// Private keys never reach the physical store in the clear.
	entries, err := st.Phys.List(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(string(e.Value), "pkcs8") || strings.Contains(string(e.Value), "kid") {
			t.Errorf("physical value at %s is not sealed", e.Key)
		}
	}
}

func TestConcurrentFirstMintCreatesOneKey(t *testing.T) {
	st := identitytest.Open(t, "sqlite")
	clock := identitytest.NewClock(time.Unix(1_800_000_000, 0))
	is, _ := serve(t, st, clock)
	ctx := context.Background()
	var wg sync.WaitGroup
	kids := make([]string, 4)
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := is.Mint(ctx, orgID, "sc://a/b/c")
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = kid(t, tok.Raw)
		}()
	}
	wg.Wait()
	for _, k := range kids[1:] {
		if k != kids[0] {
			t.Fatalf("concurrent first tokens were signed with different keys: %v", kids)
		}
	}
	set, _ := is.JWKS(ctx, orgID)
	if len(set.Keys) != 1 {
		t.Errorf("JWKS has %d keys after concurrent first tokens, want 1", len(set.Keys))
	}
}

func TestDiscovery(t *testing.T) {
	st := identitytest.Open(t, "sqlite")
	is, err := oidc.New(st, oidc.Config{ServerURL: "https://keystage.example:8443/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := is.Discovery(orgID)
	if d.Issuer != "https://keystage.example:8443/_oidc/"+orgID || d.JWKSURI != d.Issuer+"/.well-known/jwks" {
		t.Errorf("discovery = %+v", d)
	}
	if diff := cmp.Diff([]string{"RS256"}, d.IDTokenSigningAlgValuesSupported); diff != "" {
		t.Error(diff)
	}
	for _, bad := range []string{"http://x", "", "https://", "https://x?q=1"} {
		if _, err := oidc.New(st, oidc.Config{ServerURL: bad}, nil); err == nil {
			t.Errorf("New accepted server URL %q", bad)
		}
	}
}

func kid(t testing.TB, raw string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(h, &m)
	s, _ := m["kid"].(string)
	return s
}
