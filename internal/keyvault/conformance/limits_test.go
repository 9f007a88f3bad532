package conformance

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keystage/keystage/internal/keyvault/kvhttp"
	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/server/servertest"
)

// TestThrottling is conformance case 15: past the vault's limit the SDK gets 429 with
// Retry-After and code Throttled, waits, retries and succeeds.
func TestThrottling(t *testing.T) {
	opts := servertest.Options{Config: func(c *server.Config) {
		c.KeyVaultThrottle = kvhttp.Throttle{Transactions: 1000, Creates: 2, Window: 2 * time.Second}
	}}
	servertest.Each(t, opts, func(t *testing.T, e *servertest.Env) {
		h := newHarness(t, e)
		h.vault("throttled", vaultSpec{})
		rec := &recorder{next: e.Client}
		c := h.secrets("throttled", h.cred, func(o *azsecrets.ClientOptions) {
			o.Transport = rec
			o.Retry = policy.RetryOptions{MaxRetries: 5, RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 3 * time.Second}
		})
		for i := range 4 {
			if _, err := c.SetSecret(ctx(t), "s", azsecrets.SetSecretParameters{Value: ptr("v")}, nil); err != nil {
				t.Fatalf("set %d: %v", i, err)
			}
		}
		throttled := 0
		for _, ex := range rec.exchanges() {
			if ex.Status == 429 {
				throttled++
				if ex.RetryAfter == "" {
					t.Error("429 without Retry-After")
				}
				if ex.ErrorCode != "Throttled" {
					t.Errorf("429 with code %q", ex.ErrorCode)
				}
			}
		}
		if throttled == 0 {
			t.Errorf("no request was throttled: %+v", rec.exchanges())
		}
	})
}

// TestTokenValidation is conformance case 16: expired tokens, tokens for another audience,
// tokens of another issuer and tampered tokens get 401 with a fresh challenge; after a 401
// on a later request the SDK challenges again and recovers; a valid token without
// permission gets 403 with an innererror.
func TestTokenValidation(t *testing.T) {
	var clk *clock // the running server's: each backend's server gets a fresh one
	opts := servertest.Options{Config: func(c *server.Config) {
		clk = &clock{t: time.Now()}
		c.Now = clk.Now
	}}
	other := newHarness(t, servertest.Start(t, servertest.Options{}))
	servertest.Each(t, opts, func(t *testing.T, e *servertest.Env) {
		h := newHarness(t, e)
		stranger := h.identity("stranger")
		h.vault("tokens", vaultSpec{})
		base := strings.TrimSuffix(e.VaultURL("tokens"), "/")
		valid := h.clientToken(h.resource())
		if status, body := h.call("GET", base+"/secrets?api-version=7.6", valid, nil, nil); status != 200 {
			t.Fatalf("valid token: %d %s", status, body)
		}
		clk.Add(2 * time.Hour)
		tampered := valid[:len(valid)-6] + strings.Repeat("A", 6)
		if tampered == valid {
			tampered = valid[:len(valid)-6] + strings.Repeat("B", 6)
		}
		for name, tok := range map[string]string{
			"expired":         valid,
			"ARM audience":    h.clientToken("https://management.azure.com/"),
			"other issuer":    other.clientToken(other.resource()),
			"bad signature":   tampered,
			"not a token":     "abc",
			"vault.azure.net": "",
		} {
			if name == "vault.azure.net" {
				// Tokens for Azure's own audience are accepted: not a failure case.
				if status, body := h.call("GET", base+"/secrets?api-version=7.6", h.clientToken(kvhttp.AzureResource), nil, nil); status != 200 {
					t.Errorf("vault.azure.net audience: %d %s", status, body)
				}
				continue
			}
			status, challenge, code := h.rawChallenge(base+"/secrets?api-version=7.6", tok)
			if status != 401 || code != "Unauthorized" || !strings.Contains(challenge, `authorization="`+e.URL+"/"+h.admin.TenantID+`"`) {
				t.Errorf("%s: %d %s %q", name, status, code, challenge)
			}
		}

		// A later 401 (the cached token expired on the server's clock) makes azsecrets
		// challenge again and fetch a new token.
		var fetched atomic.Int32
		cred := credentialFunc(func() string { fetched.Add(1); return h.clientToken(h.resource()) })
		rec := &recorder{next: e.Client}
		c := h.secrets("tokens", cred, func(o *azsecrets.ClientOptions) { o.Transport = rec })
		if _, err := c.SetSecret(ctx(t), "s", azsecrets.SetSecretParameters{Value: ptr("v")}, nil); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Hour)
		rec.reset()
		if _, err := c.GetSecret(ctx(t), "s", "", nil); err != nil {
			t.Fatalf("after the server expired the token: %v", err)
		}
		var statuses []int
		for _, ex := range rec.exchanges() {
			statuses = append(statuses, ex.Status)
		}
		if len(statuses) != 2 || statuses[0] != 401 || statuses[1] != 200 || fetched.Load() != 2 {
			t.Errorf("statuses %v after %d token fetches, want [401 200] after 2", statuses, fetched.Load())
		}

		_, err := h.secrets("tokens", staticCredential(h.token(stranger, h.resource())), nil).GetSecret(ctx(t), "s", "", nil)
		var re *azcore.ResponseError
		if status, ec := code(err); status != 403 || ec != "Forbidden" || !asRE(err, &re) || !strings.Contains(string(rawBody(re)), `"innererror":{"code":"AccessDenied"}`) {
			t.Errorf("no permission: %d %s", status, ec)
		}
	})
}

// rawChallenge sends GET target with bearer tok and returns the status, the challenge and
// the error code.
func (h *harness) rawChallenge(target, tok string) (int, string, string) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := h.e.Client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body.Error.Code
}

// clientToken gets a fresh token for resource with the administrator's client secret,
// straight from the token endpoint (no client-side cache).
func (h *harness) clientToken(resource string) string {
	h.t.Helper()
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {h.admin.ClientID}, "client_secret": {h.admin.ClientSecret},
		"scope": {resource + "/.default"},
	}
	resp, err := h.e.Client.PostForm(h.e.URL+"/"+h.admin.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		h.t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

// credentialFunc is a TokenCredential that fetches a new token on every call.
type credentialFunc func() string

func (f credentialFunc) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: f(), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// clock is a settable clock for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
