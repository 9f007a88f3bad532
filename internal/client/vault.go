package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// VaultAPIVersion is the Key Vault api-version the client sends.
const VaultAPIVersion = "7.6"

// Vault calls one vault's Key Vault data plane (https://NAME.{suffix}:{port}). Like the
// Azure SDK it learns the token resource and tenant from the vault's 401 challenge, checks
// that the challenge belongs to the vault's host and to the credential's tenant, and only
// then sends a token.
type Vault struct {
	c    *Client
	base *url.URL
}

// Vault returns the data plane client of the vault called name.
func (c *Client) Vault(name string) (Vault, error) {
	if c.cfg.VaultSuffix == "" {
		return Vault{}, errors.New("client: no vault DNS suffix configured")
	}
	host := strings.ToLower(name) + "." + c.cfg.VaultSuffix
	if p := c.base.Port(); p != "" && p != "443" {
		host += ":" + p
	}
	return Vault{c: c, base: &url.URL{Scheme: "https", Host: host}}, nil
}

// VaultAt returns the data plane client of the vault at baseURL (https://host[:port]).
func (c *Client) VaultAt(baseURL string) (Vault, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return Vault{}, fmt.Errorf("client: vault URL %q: want https://host[:port]", baseURL)
	}
	return Vault{c: c, base: &url.URL{Scheme: "https", Host: strings.ToLower(u.Host)}}, nil
}

// URL returns the vault's base URL without a trailing slash.
func (v Vault) URL() string { return v.base.String() }

// challenge is what a vault's 401 told the client.
type challenge struct {
	resource string
	tenant   string
}

// vaultChallenges caches challenges per vault host.
type vaultChallenges struct {
	mu sync.Mutex
	m  map[string]challenge
}

func (vc *vaultChallenges) get(host string) (challenge, bool) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	ch, ok := vc.m[host]
	return ch, ok
}

func (vc *vaultChallenges) put(host string, ch challenge) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.m == nil {
		vc.m = map[string]challenge{}
	}
	vc.m[host] = ch
}

// Do sends one data-plane request (path like /secrets/NAME; api-version is added) and
// returns the response body, nil for 204.
func (v Vault) Do(ctx context.Context, method, path string, body any) (json.RawMessage, error) {
	u, err := withAPIVersion(v.base, path, VaultAPIVersion)
	if err != nil {
		return nil, err
	}
	return v.do(ctx, method, u, body)
}

func (v Vault) do(ctx context.Context, method, u string, body any) (json.RawMessage, error) {
	if err := checkHost(u, v.base.Host); err != nil {
		return nil, err
	}
	ch, ok := v.c.kv.get(v.base.Host)
	if !ok {
		// Like the SDK: the first request goes without a token and without a body.
		resp, err := v.c.send(ctx, request{method: method, url: u})
		if err != nil {
			return nil, err
		}
		if resp.status != http.StatusUnauthorized {
			if resp.status >= 300 {
				return nil, newResponseError(method, u, resp)
			}
			return nil, fmt.Errorf("client: vault %s answered %d without an authentication challenge", v.base.Host, resp.status)
		}
		if ch, err = v.accept(resp.header.Get("WWW-Authenticate")); err != nil {
			return nil, err
		}
		v.c.kv.put(v.base.Host, ch)
	}
	tok, err := v.c.cfg.Credential.Token(ctx, ch.resource)
	if err != nil {
		return nil, err
	}
	resp, err := v.c.send(ctx, request{method: method, url: u, body: body, token: tok.Value})
	if err != nil {
		return nil, err
	}
	return result(method, u, resp)
}

// accept parses and checks a vault's challenge: the resource's host must be a parent
// domain of the vault host (port included), and the tenant that of the credential.
func (v Vault) accept(header string) (challenge, error) {
	params, err := ParseChallenge(header)
	if err != nil {
		return challenge{}, fmt.Errorf("client: vault %s: %w", v.base.Host, err)
	}
	resource := params["resource"]
	if resource == "" {
		resource = strings.TrimSuffix(params["scope"], "/.default")
	}
	ru, err := url.Parse(resource)
	if resource == "" || err != nil || ru.Host == "" {
		return challenge{}, fmt.Errorf("client: vault %s: challenge has no usable resource", v.base.Host)
	}
	if !strings.HasSuffix(v.base.Host, "."+strings.ToLower(ru.Host)) {
		return challenge{}, fmt.Errorf("client: vault %s: challenge resource %s does not match the vault's host", v.base.Host, resource)
	}
	au, err := url.Parse(params["authorization"])
	if err != nil {
		return challenge{}, fmt.Errorf("client: vault %s: challenge authorization: %w", v.base.Host, err)
	}
	tenant, _, _ := strings.Cut(strings.TrimPrefix(au.Path, "/"), "/")
	if tenant == "" {
		return challenge{}, fmt.Errorf("client: vault %s: challenge names no tenant", v.base.Host)
	}
	if want := v.c.cfg.Credential.TenantID(); !strings.EqualFold(tenant, want) {
		return challenge{}, fmt.Errorf("client: vault %s belongs to tenant %s, but you are signed in to tenant %s", v.base.Host, tenant, want)
	}
	return challenge{resource: resource, tenant: tenant}, nil
}

// List returns every item of the collection at path (such as /secrets), following nextLink.
func (v Vault) List(ctx context.Context, path string) ([]json.RawMessage, error) {
	u, err := withAPIVersion(v.base, path, VaultAPIVersion)
	if err != nil {
		return nil, err
	}
	return collect(u, func(u string) ([]byte, error) { return v.do(ctx, http.MethodGet, u, nil) })
}

// ParseChallenge parses a WWW-Authenticate header of the Bearer scheme into its
// parameters (keys lower-cased, quotes removed): Bearer authorization="…", resource="…".
func ParseChallenge(header string) (map[string]string, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, fmt.Errorf("challenge: want the Bearer scheme, got %q", truncate(scheme, 40))
	}
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, fmt.Errorf("challenge: parameter %q has no value", truncate(key, 40))
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if key == "" || strings.ContainsAny(key, " \t\",") {
			return nil, fmt.Errorf("challenge: bad parameter name %q", truncate(key, 40))
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				return nil, errors.New("challenge: unterminated quoted value")
			}
			val, rest = after[1:1+end], after[2+end:]
		} else {
			val, rest, _ = strings.Cut(after, ",")
			val = strings.TrimSpace(val)
			rest = "," + rest
		}
		rest = strings.TrimSpace(rest)
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("challenge: want a comma after %s", key)
			}
			rest = rest[1:]
		}
		params[key] = val
	}
	if len(params) == 0 {
		return nil, errors.New("challenge: no parameters")
	}
	return params, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
