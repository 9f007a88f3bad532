package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DevOpsResource is the token audience of the Azure-DevOps-shaped API: Azure DevOps'
// application id, as az devops asks Entra for it.
const DevOpsResource = "499b84ac-1321-427f-aa17-267ca6975798"

// DevOpsAPIVersion is the api-version DevOps requests carry unless their path has one.
const DevOpsAPIVersion = "7.1"

// DevOps calls the Azure-DevOps-shaped API: organizations, projects, service
// connections, pipelines, runs, logs, artifacts, permissions and agent pools. Paths are
// relative to the server root and start with the organization (/{org}/{project}/_apis/…),
// except the server-level /_apis/organizations. Results are the server's JSON, unchanged.
// Organization and project arguments are names (or ids); they are escaped here.
type DevOps struct {
	c   *Client
	pat string
}

// DevOps returns the DevOps API client; it authenticates with the client's credential
// (tokens for DevOpsResource).
func (c *Client) DevOps() DevOps { return DevOps{c: c} }

// WithPAT returns a DevOps client that authenticates with a personal access token (as
// Basic ":PAT", like az devops with AZURE_DEVOPS_EXT_PAT) instead of access tokens.
func (d DevOps) WithPAT(pat string) DevOps { d.pat = pat; return d }

// devopsURL returns the absolute URL of path (a server-root path with an optional query)
// with api-version set unless path has one.
func (d DevOps) devopsURL(path string) (string, error) {
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("client: path %q: %w", path, err)
	}
	version := DevOpsAPIVersion
	if u.Query().Has("api-version") {
		version = ""
	}
	return withAPIVersion(d.c.base, path, version)
}

// authorize sets the request's credentials.
func (d DevOps) authorize(ctx context.Context, h http.Header) error {
	if d.pat != "" {
		h.Set("Authorization", basicPAT(d.pat))
		return nil
	}
	tok, err := d.c.cfg.Credential.Token(ctx, DevOpsResource)
	if err != nil {
		return err
	}
	h.Set("Authorization", "Bearer "+tok.Value)
	return nil
}

// Do sends one request and returns the response body (nil for 204 and empty bodies).
func (d DevOps) Do(ctx context.Context, method, path string, body any) (json.RawMessage, error) {
	resp, err := d.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNoContent || len(resp.body) == 0 {
		return nil, nil
	}
	return json.RawMessage(resp.body), nil
}

// send sends one request; an answer of 300 or more is a *ResponseError.
func (d DevOps) send(ctx context.Context, method, path string, body any) (*response, error) {
	u, err := d.devopsURL(path)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	if err := d.authorize(ctx, h); err != nil {
		return nil, err
	}
	// The Authorization header travels in header, not token: PATs are Basic.
	resp, err := d.c.send(ctx, request{method: method, url: u, body: body, header: h})
	if err != nil {
		return nil, err
	}
	if resp.status >= 300 {
		return nil, newDevOpsError(method, u, resp.status, resp.body)
	}
	return resp, nil
}

// List returns every element of the {"count","value"} collection at path, following
// X-MS-ContinuationToken headers (sent back as ?continuationToken=).
func (d DevOps) List(ctx context.Context, path string) ([]json.RawMessage, error) {
	all := []json.RawMessage{}
	next := path
	seen := map[string]bool{}
	for {
		resp, err := d.send(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(resp.body, &page); err != nil {
			return nil, fmt.Errorf("client: list %s: %w", redactURL(next), err)
		}
		all = append(all, page.Value...)
		token := resp.header.Get("X-MS-ContinuationToken")
		if token == "" {
			return all, nil
		}
		if seen[token] {
			return nil, fmt.Errorf("client: list %s: the continuation token repeats", redactURL(path))
		}
		seen[token] = true
		if next, err = withQuery(path, "continuationToken", token); err != nil {
			return nil, err
		}
	}
}

// Open sends a GET with the given Accept header and returns the response body unread, for
// zips, text logs and streams; the caller closes it. Unlike Do it has no overall time
// limit (a followed log lasts as long as its step); ctx bounds it.
func (d DevOps) Open(ctx context.Context, path, accept string) (io.ReadCloser, error) {
	u, err := d.devopsURL(path)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if err := d.authorize(ctx, req.Header); err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "keystage-cli")
	hc := *d.c.hc
	hc.Timeout = 0
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: GET %s: %w", redactURL(u), err)
	}
	d.c.log.Debug("http", "method", http.MethodGet, "url", redactURL(u), "status", resp.StatusCode,
		"duration", time.Since(start).Round(time.Millisecond), "stream", true)
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, newDevOpsError(http.MethodGet, u, resp.StatusCode, body)
	}
	return resp.Body, nil
}

// withQuery returns path with query parameter key set to value.
func withQuery(path, key, value string) (string, error) {
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("client: path %q: %w", path, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// basicPAT is the Authorization value of a personal access token: Basic with an empty user.
func basicPAT(pat string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+pat))
}

// newDevOpsError builds the error of a failed DevOps call from Azure DevOps'
// WrappedException body ({"message","typeKey",…}); the message is what az devops prints.
// Code stays empty: az devops shows the message alone.
func newDevOpsError(method, u string, status int, body []byte) *ResponseError {
	e := &ResponseError{StatusCode: status, Method: method, URL: redactURL(u), Body: body}
	var we struct {
		Message string `json:"message"`
		// ASP.NET's shape for some answers: {"count":1,"value":{"Message":"…"}}.
		Value *struct {
			Message string `json:"Message"`
		} `json:"value"`
	}
	if json.Unmarshal(body, &we) == nil {
		switch {
		case we.Message != "":
			e.Message = we.Message
		case we.Value != nil && we.Value.Message != "":
			e.Message = we.Value.Message
		}
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("%s %s: %d %s", method, e.URL, status, http.StatusText(status))
	}
	return e
}

// segment escapes one path segment (an organization, project or resource name).
func segment(s string) string { return url.PathEscape(s) }

// orgPath returns /{org}/_apis/{rest}; projPath /{org}/{project}/_apis/{rest}.
func orgPath(org, rest string) string { return "/" + segment(org) + "/_apis/" + rest }

func projPath(org, project, rest string) string {
	return "/" + segment(org) + "/" + segment(project) + "/_apis/" + rest
}

// isTerminalOperation reports whether an Operation status is final.
func isTerminalOperation(status string) bool {
	switch strings.ToLower(status) {
	case "succeeded", "failed", "cancelled", "canceled":
		return true
	}
	return false
}
