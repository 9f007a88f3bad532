package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ManagedIdentityAPIVersion is the App Service managed identity protocol's version.
const ManagedIdentityAPIVersion = "2019-08-01"

// managedIdentity gets tokens from an App-Service-style endpoint:
// GET {endpoint}?api-version=2019-08-01&resource=…[&client_id=…] with X-IDENTITY-HEADER.
type managedIdentity struct {
	client   *http.Client
	endpoint *url.URL
	header   string
	clientID string
}

func newManagedIdentity(client *http.Client, conn Connection) (*managedIdentity, error) {
	if conn.IdentityEndpoint == "" || conn.IdentityHeader == "" {
		return nil, errors.New("credential: the managed identity endpoint of the connection is missing; the server must give the job one")
	}
	u, err := url.Parse(conn.IdentityEndpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("credential: the managed identity endpoint %q must be an https URL", conn.IdentityEndpoint)
	}
	return &managedIdentity{client: client, endpoint: u, header: conn.IdentityHeader, clientID: conn.ClientID}, nil
}

// Token implements Credential.
func (m *managedIdentity) Token(ctx context.Context, resource string) (Token, error) {
	u := *m.endpoint
	q := u.Query()
	if !q.Has("api-version") { // an endpoint URL that names its own version keeps it
		q.Set("api-version", ManagedIdentityAPIVersion)
	}
	q.Set("resource", resource)
	if m.clientID != "" {
		q.Set("client_id", m.clientID)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Token{}, fmt.Errorf("credential: %w", err)
	}
	req.Header.Set("X-IDENTITY-HEADER", m.header)
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("credential: managed identity request to %s: %w", m.endpoint.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Token{}, fmt.Errorf("credential: read managed identity response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := parseEntraError(resp.StatusCode, body)
		if e.Description == "" {
			// Not an OAuth error body: the job-scoped endpoint answers in the Azure DevOps
			// shape ({"message": …}).
			var d struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(body, &d) == nil {
				e.Description = d.Message
			}
		}
		return Token{}, &ManagedIdentityError{EntraError: *e}
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return Token{}, errors.New("credential: the managed identity response has no access_token")
	}
	exp := time.Now().Add(time.Hour)
	if n, err := strconv.ParseInt(strings.TrimSpace(tr.ExpiresOn), 10, 64); err == nil {
		exp = time.Unix(n, 0)
	}
	return Token{Value: tr.AccessToken, ExpiresOn: exp}, nil
}

// ManagedIdentityError is a managed identity endpoint's refusal.
type ManagedIdentityError struct {
	EntraError
}

func (e *ManagedIdentityError) Error() string {
	return fmt.Sprintf("Could not fetch access token for Managed Service Principal. Status code: %d, status message: %s",
		e.StatusCode, e.EntraError.Error())
}

// Unwrap exposes the underlying Entra error.
func (e *ManagedIdentityError) Unwrap() error { return &e.EntraError }
