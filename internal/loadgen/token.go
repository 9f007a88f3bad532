package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Challenge is what a vault's 401 challenge says: where to get a token and for what.
type Challenge struct {
	// Authorization is the authority with the tenant: https://{idp}/{tenant}.
	Authorization string
	// Resource is the token audience, https://{suffix}[:{port}].
	Resource string
}

// DiscoverChallenge sends one unauthenticated request to the vault, as Azure SDK clients
// do, and parses the WWW-Authenticate header of its 401.
func DiscoverChallenge(ctx context.Context, vaultURL, connect string, roots *x509.CertPool) (Challenge, error) {
	cfg := Config{VaultURL: vaultURL, Connect: connect}
	dial, err := dialer(cfg)
	if err != nil {
		return Challenge{}, err
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext:     dial,
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(vaultURL, "/")+"/secrets?api-version="+DefaultAPIVersion, nil)
	if err != nil {
		return Challenge{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Challenge{}, fmt.Errorf("loadgen: challenge: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return Challenge{}, fmt.Errorf("loadgen: challenge: status %d, want 401", resp.StatusCode)
	}
	return ParseChallenge(resp.Header.Get("WWW-Authenticate"))
}

// ParseChallenge parses `Bearer authorization="…", resource="…"` (scope= stands for
// resource, as in azsecrets).
func ParseChallenge(h string) (Challenge, error) {
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return Challenge{}, fmt.Errorf("loadgen: challenge %q is not a Bearer challenge", h)
	}
	var c Challenge
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "authorization", "authorization_uri":
			c.Authorization = v
		case "resource":
			c.Resource = v
		case "scope":
			if c.Resource == "" {
				c.Resource = strings.TrimSuffix(v, "/.default")
			}
		}
	}
	if c.Authorization == "" || c.Resource == "" {
		return Challenge{}, fmt.Errorf("loadgen: challenge %q lacks authorization or resource", h)
	}
	return c, nil
}

// ClientSecretToken returns a token source that gets tokens for the challenge's resource
// from its authority with the client-credentials grant, caching them until they expire.
func ClientSecretToken(c Challenge, clientID, clientSecret string, roots *x509.CertPool) func(context.Context) (string, error) {
	cc := clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     strings.TrimRight(c.Authorization, "/") + "/oauth2/v2.0/token",
		Scopes:       []string{c.Resource + "/.default"},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	httpClient := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}
	src := cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, httpClient))
	return func(ctx context.Context) (string, error) {
		t, err := src.Token()
		if err != nil {
			return "", err
		}
		if t.AccessToken == "" {
			return "", errors.New("loadgen: the token endpoint returned no access token")
		}
		return t.AccessToken, nil
	}
}

// StaticToken returns a token source for a token given on the command line.
func StaticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}
