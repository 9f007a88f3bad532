package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// OIDCAPIVersion is the api-version tasks send to the OIDC token endpoint.
const OIDCAPIVersion = "7.1"

// OIDCError is the OIDC token endpoint's refusal (an Azure DevOps error body).
type OIDCError struct {
	StatusCode int
	Message    string
	TypeKey    string
}

func (e *OIDCError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("the OIDC token request failed (HTTP %d): %s", e.StatusCode, msg)
}

// JobAssertion returns an AssertionFunc that asks a job's OIDC token endpoint
// (System.OidcRequestUri) for a token of connectionID, authenticated by the job access
// token (System.AccessToken), as tasks and azidentity's AzurePipelinesCredential do.
func JobAssertion(client *http.Client, requestURI, jobToken, connectionID string) (AssertionFunc, error) {
	if client == nil {
		client = http.DefaultClient
	}
	u, err := url.Parse(requestURI)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("credential: System.OidcRequestUri %q must be an https URL", requestURI)
	}
	if jobToken == "" {
		return nil, errors.New("credential: the job access token (System.AccessToken) is missing")
	}
	if connectionID == "" {
		return nil, errors.New("credential: the service connection id is missing")
	}
	q := u.Query()
	q.Set("api-version", OIDCAPIVersion)
	q.Set("serviceConnectionId", connectionID)
	u.RawQuery = q.Encode()
	target := u.String()
	return func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader("{}"))
		if err != nil {
			return "", fmt.Errorf("credential: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+jobToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("credential: OIDC token request: %w", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		if err != nil {
			return "", fmt.Errorf("credential: read OIDC token response: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			e := &OIDCError{StatusCode: resp.StatusCode}
			var b struct {
				Message string `json:"message"`
				TypeKey string `json:"typeKey"`
			}
			if json.Unmarshal(body, &b) == nil {
				e.Message, e.TypeKey = b.Message, b.TypeKey
			}
			return "", e
		}
		var r struct {
			OIDCToken string `json:"oidcToken"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.OIDCToken == "" {
			return "", errors.New("credential: the OIDC token response has no oidcToken")
		}
		return r.OIDCToken, nil
	}, nil
}
