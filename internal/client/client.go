// Package client is Keystage's Go client for its public HTTP APIs: tokens from the identity
// provider, the ARM-shaped management API, the Graph-shaped directory API and the Key Vault
// data plane; it returns the server's JSON as is.
package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default token audiences: the resources Azure clients ask tokens for.
const (
	DefaultARMResource   = "https://management.azure.com/"
	DefaultGraphResource = "https://graph.microsoft.com"
	DefaultVaultResource = "https://vault.azure.net"
)

// Config configures a Client. URL and Credential are required.
type Config struct {
	// URL is the server's base URL, e.g. https://localhost:8443.
	URL string
	// Credential gets access tokens; see ClientSecretCredential.
	Credential Credential
	// HTTPClient sends every request; nil means one from NewHTTPClient with the system
	// roots and no vault dialer.
	HTTPClient *http.Client
	// ARMResource and GraphResource are the token audiences of the management and directory
	// APIs; empty means DefaultARMResource and DefaultGraphResource.
	ARMResource   string
	GraphResource string
	// GraphURL is the base of the directory API; empty means {URL}/v1.0.
	GraphURL string
	// VaultSuffix is the DNS suffix of vault host names (vault.localhost); vault NAME is
	// https://NAME.{VaultSuffix}:{port of URL}.
	VaultSuffix string
	// PollInterval is the wait between polls of a long-running operation when the server
	// sends no Retry-After; zero means one second.
	PollInterval time.Duration
	// Logger, when set, receives one debug line per request and response (method, URL,
	// status, duration; never headers or bodies).
	Logger *slog.Logger
}

// Client calls Keystage's APIs. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	log  *slog.Logger
	kv   vaultChallenges
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("client: no server URL")
	}
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q: want https://host[:port]", cfg.URL)
	}
	if cfg.Credential == nil {
		return nil, errors.New("client: no credential")
	}
	if cfg.ARMResource == "" {
		cfg.ARMResource = DefaultARMResource
	}
	if cfg.GraphResource == "" {
		cfg.GraphResource = DefaultGraphResource
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = u.String() + "/v1.0"
	}
	cfg.GraphURL = strings.TrimRight(cfg.GraphURL, "/")
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	c := &Client{cfg: cfg, base: u, hc: cfg.HTTPClient, log: cfg.Logger}
	if c.hc == nil {
		if c.hc, err = NewHTTPClient(TransportConfig{}); err != nil {
			return nil, err
		}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// URL returns the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// request is one HTTP call with an optional JSON body and bearer token.
type request struct {
	method string
	url    string
	body   any // nil, []byte (sent as is) or a value marshalled as JSON
	token  string
	header http.Header
}

// response is a buffered HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// maxBody bounds what the client reads of one response.
const maxBody = 64 << 20

func (c *Client) send(ctx context.Context, r request) (*response, error) {
	var body io.Reader
	var isJSON bool
	switch b := r.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case url.Values:
		body = strings.NewReader(b.Encode())
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("client: encode request: %w", err)
		}
		body = bytes.NewReader(data)
		isJSON = true
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if _, ok := r.body.(url.Values); ok {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "keystage-cli")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, redactURL(r.url), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read response: %w", r.method, redactURL(r.url), err)
	}
	c.log.Debug("http", "method", r.method, "url", redactURL(r.url), "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond), "requestId", resp.Header.Get("x-ms-request-id"))
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// redactURL drops the query, which may carry skip tokens; paths carry no secrets.
func redactURL(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}

// withAPIVersion returns path (relative to base, with an optional query) as an absolute URL
// with api-version set.
func withAPIVersion(base *url.URL, path, apiVersion string) (string, error) {
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("client: path %q: %w", path, err)
	}
	if !u.IsAbs() {
		if !strings.HasPrefix(u.Path, "/") {
			return "", fmt.Errorf("client: path %q: want an absolute path", path)
		}
		u = base.ResolveReference(&url.URL{Path: base.Path + u.Path, RawPath: escapedPath(base, u), RawQuery: u.RawQuery})
	}
	if apiVersion != "" {
		q := u.Query()
		q.Set("api-version", apiVersion)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

func escapedPath(base *url.URL, u *url.URL) string {
	if u.RawPath == "" {
		return ""
	}
	return base.EscapedPath() + u.RawPath
}

// Credential returns the credential the client gets tokens with.
func (c *Client) Credential() Credential { return c.cfg.Credential }

// Anonymous sends an unauthenticated request to path on the server (for public metadata
// such as /metadata/endpoints) and returns the body.
func (c *Client) Anonymous(ctx context.Context, method, path string) (json.RawMessage, error) {
	u, err := withAPIVersion(c.base, path, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, request{method: method, url: u})
	if err != nil {
		return nil, err
	}
	return result(method, u, resp)
}

// result returns a response's body (nil when empty or 204), or its *ResponseError when the
// status is 300 or more.
func result(method, u string, resp *response) (json.RawMessage, error) {
	if resp.status >= 300 {
		return nil, newResponseError(method, u, resp)
	}
	if resp.status == http.StatusNoContent || len(resp.body) == 0 {
		return nil, nil
	}
	return json.RawMessage(resp.body), nil
}

// collect returns the elements of a paged collection: the value arrays of the pages get
// fetches, from first on, following each page's nextLink (ARM, Key Vault; null or absent
// on the last page) or @odata.nextLink (Graph). get must refuse links to other hosts.
func collect(first string, get func(u string) ([]byte, error)) ([]json.RawMessage, error) {
	all := []json.RawMessage{}
	for u := first; u != ""; {
		body, err := get(u)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value     []json.RawMessage `json:"value"`
			NextLink  string            `json:"nextLink"`
			ODataNext string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("client: list %s: %w", redactURL(u), err)
		}
		all = append(all, page.Value...)
		next := cmp.Or(page.NextLink, page.ODataNext)
		if next == u {
			return nil, fmt.Errorf("client: list %s: nextLink repeats the page", redactURL(u))
		}
		u = next
	}
	return all, nil
}

// checkHost refuses to send a token to a URL the server handed back (nextLink, Location,
// Azure-AsyncOperation) unless it is https on the expected host: a token is for this
// server only.
func checkHost(raw, host string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("client: server sent a bad link: %w", err)
	}
	if u.Scheme != "https" || !SameHost(u.Host, host) {
		return fmt.Errorf("client: server sent a link to %s://%s, not to %s; not following it", u.Scheme, u.Host, host)
	}
	return nil
}

// SameHost reports whether two host[:port] values (URL hosts) name the same host and
// port, case-insensitively, an absent port meaning 443.
func SameHost(a, b string) bool {
	norm := func(h string) string {
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.Trim(h, "[]"), "443"
		}
		return strings.ToLower(net.JoinHostPort(host, port))
	}
	return norm(a) == norm(b)
}
