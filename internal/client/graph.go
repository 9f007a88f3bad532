package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Graph calls the Graph-shaped directory API (applications, service principals). Paths are
// relative to its base ({server}/v1.0 unless configured), e.g. /applications?$filter=....
type Graph struct{ c *Client }

// Graph returns the directory API client.
func (c *Client) Graph() Graph { return Graph{c} }

func (g Graph) url(path string) (string, error) {
	if strings.HasPrefix(path, "https://") {
		base, err := url.Parse(g.c.cfg.GraphURL)
		if err != nil {
			return "", err
		}
		return path, checkHost(path, base.Host)
	}
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("client: graph path %q: want an absolute path", path)
	}
	base, query, _ := strings.Cut(path, "?")
	u := g.c.cfg.GraphURL + base
	if query != "" {
		// Re-encode the query so OData expressions with spaces and quotes are sent escaped.
		q, err := url.ParseQuery(query)
		if err != nil {
			return "", fmt.Errorf("client: graph query %q: %w", query, err)
		}
		u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return u, nil
}

// Do sends one directory request and returns the response body (nil for 204).
func (g Graph) Do(ctx context.Context, method, path string, body any) (json.RawMessage, error) {
	u, err := g.url(path)
	if err != nil {
		return nil, err
	}
	tok, err := g.c.cfg.Credential.Token(ctx, g.c.cfg.GraphResource)
	if err != nil {
		return nil, err
	}
	resp, err := g.c.send(ctx, request{method: method, url: u, body: body, token: tok.Value})
	if err != nil {
		return nil, err
	}
	return result(method, u, resp)
}

// List returns every element of the collection at path, following @odata.nextLink.
func (g Graph) List(ctx context.Context, path string) ([]json.RawMessage, error) {
	u, err := g.url(path)
	if err != nil {
		return nil, err
	}
	return collect(u, func(u string) ([]byte, error) { return g.Do(ctx, http.MethodGet, u, nil) })
}
