package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is an access token. Value is a bearer credential: never log it.
type Token struct {
	Value     string    `json:"accessToken"`
	ExpiresOn time.Time `json:"expiresOn"`
}

// String keeps the bearer token out of formatted output.
func (t Token) String() string {
	return "token(expires " + t.ExpiresOn.UTC().Format(time.RFC3339) + ")"
}

// LogValue keeps the bearer token out of logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Credential gets access tokens for a resource (a token audience such as
// https://management.azure.com/).
type Credential interface {
	Token(ctx context.Context, resource string) (Token, error)
	// TenantID is the tenant tokens are issued in.
	TenantID() string
}

// TokenCache stores tokens between calls (and, for the CLI, between processes). Get
// returns false when it holds nothing for key. Implementations must be safe for
// concurrent use.
type TokenCache interface {
	Get(key string) (Token, bool)
	Put(key string, t Token)
}

// MemoryCache is a TokenCache in memory. The zero value is ready to use.
type MemoryCache struct {
	mu sync.Mutex
	m  map[string]Token
}

// Get implements TokenCache.
func (c *MemoryCache) Get(key string) (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[key]
	return t, ok
}

// Put implements TokenCache.
func (c *MemoryCache) Put(key string, t Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]Token{}
	}
	c.m[key] = t
}

// refreshMargin is how long before expiry a cached token is replaced.
const refreshMargin = 5 * time.Minute

// ClientSecretCredential gets app tokens with the OAuth client_credentials grant and a
// client secret from {Authority}/{TenantID}/oauth2/v2.0/token, caching each until five
// minutes before it expires.
type ClientSecretCredential struct {
	// Authority is the identity provider's base URL (the Keystage server URL).
	Authority string
	Tenant    string
	ClientID  string
	Secret    string
	// HTTPClient sends the token requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Cache holds issued tokens; nil means a private MemoryCache.
	Cache TokenCache
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	once sync.Once
	mu   sync.Mutex // one token request at a time
}

// LogValue keeps the secret out of logs.
func (c *ClientSecretCredential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", c.Tenant), slog.String("clientId", c.ClientID), slog.String("secret", "REDACTED"))
}

// TenantID implements Credential.
func (c *ClientSecretCredential) TenantID() string { return c.Tenant }

// Token implements Credential.
func (c *ClientSecretCredential) Token(ctx context.Context, resource string) (Token, error) {
	c.once.Do(func() {
		if c.Cache == nil {
			c.Cache = &MemoryCache{}
		}
		if c.Now == nil {
			c.Now = time.Now
		}
		if c.HTTPClient == nil {
			c.HTTPClient = http.DefaultClient
		}
	})
	key := strings.ToLower(c.Tenant + "|" + c.ClientID + "|" + resource)
	if t, ok := c.Cache.Get(key); ok && c.Now().Add(refreshMargin).Before(t.ExpiresOn) {
		return t, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.Cache.Get(key); ok && c.Now().Add(refreshMargin).Before(t.ExpiresOn) {
		return t, nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.ClientID},
		"client_secret": {c.Secret},
		"scope":         {resource + "/.default"},
	}
	t, err := requestToken(ctx, c.HTTPClient, c.Authority, c.Tenant, form, c.Now)
	if err != nil {
		return Token{}, err
	}
	c.Cache.Put(key, t)
	return t, nil
}

// requestToken posts form to the tenant's token endpoint and decodes the answer.
func requestToken(ctx context.Context, hc *http.Client, authority, tenant string, form url.Values, now func() time.Time) (Token, error) {
	if authority == "" || tenant == "" {
		return Token{}, errors.New("client: credential needs an authority URL and a tenant")
	}
	endpoint := strings.TrimRight(authority, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
	c := &Client{hc: hc, log: slog.New(slog.DiscardHandler)}
	resp, err := c.send(ctx, request{method: http.MethodPost, url: endpoint, body: form})
	if err != nil {
		return Token{}, err
	}
	if resp.status != http.StatusOK {
		return Token{}, newResponseError(http.MethodPost, endpoint, resp)
	}
	return decodeToken(resp.body, now())
}

// decodeToken reads an OAuth token response; expires_in and expires_on may be numbers or
// numeric strings, as Entra and the managed identity endpoint send them.
func decodeToken(body []byte, now time.Time) (Token, error) {
	var raw struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		ExpiresOn   json.RawMessage `json:"expires_on"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Token{}, fmt.Errorf("client: token response: %w", err)
	}
	if raw.AccessToken == "" {
		return Token{}, errors.New("client: token response has no access_token")
	}
	if n, ok := jsonInt(raw.ExpiresIn); ok {
		return Token{Value: raw.AccessToken, ExpiresOn: now.Add(time.Duration(n) * time.Second)}, nil
	}
	if n, ok := jsonInt(raw.ExpiresOn); ok {
		return Token{Value: raw.AccessToken, ExpiresOn: time.Unix(n, 0)}, nil
	}
	return Token{}, errors.New("client: token response has neither expires_in nor expires_on")
}

func jsonInt(m json.RawMessage) (int64, bool) {
	s := strings.Trim(string(m), `"`)
	if s == "" || s == "null" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
