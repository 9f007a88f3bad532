package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds what is read of an identity provider's answer.
const maxResponseBytes = 1 << 20

// clientCredentials exchanges a client secret or a federated assertion for tokens at
// {authority}/{tenant}/oauth2/v2.0/token (identity.md §1.4).
type clientCredentials struct {
	client    *http.Client
	tokenURL  string
	clientID  string
	secret    string
	assertion AssertionFunc
}

func newClientCredentials(client *http.Client, authority string, conn Connection) (*clientCredentials, error) {
	if !validTenant(conn.TenantID) {
		return nil, fmt.Errorf("credential: the tenant id %q is invalid", conn.TenantID)
	}
	if conn.ClientID == "" {
		return nil, errors.New("credential: the service principal id (serviceprincipalid) is missing")
	}
	return &clientCredentials{
		client:    client,
		tokenURL:  strings.TrimRight(authority, "/") + "/" + url.PathEscape(conn.TenantID) + "/oauth2/v2.0/token",
		clientID:  conn.ClientID,
		secret:    conn.Secret,
		assertion: conn.Assertion,
	}, nil
}

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9.-]{1,256}$`)

func validTenant(t string) bool { return tenantPattern.MatchString(t) }

// Token implements Credential.
func (c *clientCredentials) Token(ctx context.Context, resource string) (Token, error) {
	form := url.Values{
		"grant_type": {"client_credentials"},
		"client_id":  {c.clientID},
		"scope":      {Scope(resource)},
	}
	if c.secret != "" {
		form.Set("client_secret", c.secret)
	} else {
		a, err := c.assertion(ctx)
		if err != nil {
			return Token{}, err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("credential: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("credential: token request to %s: %w", c.tokenURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return Token{}, fmt.Errorf("credential: read token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Token{}, parseEntraError(resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return Token{}, errors.New("credential: the token response has no access_token")
	}
	secs, err := strconv.ParseInt(strings.Trim(string(tr.ExpiresIn), `"`), 10, 64)
	if err != nil || secs <= 0 {
		secs = 3600
	}
	return Token{Value: tr.AccessToken, ExpiresOn: time.Now().Add(time.Duration(secs) * time.Second)}, nil
}

// EntraError is an identity provider's refusal of a token request.
type EntraError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the OAuth error ("invalid_client").
	Code string
	// Description is error_description without the trace lines Entra appends.
	Description string
	// AADSTS is the first of error_codes (700213), or 0.
	AADSTS int
}

func (e *EntraError) Error() string {
	if e.Description != "" {
		return e.Description
	}
	if e.Code != "" {
		return fmt.Sprintf("the identity provider refused the token request: %s (HTTP %d)", e.Code, e.StatusCode)
	}
	return fmt.Sprintf("the identity provider refused the token request (HTTP %d)", e.StatusCode)
}

var aadstsPattern = regexp.MustCompile(`AADSTS(\d+)`)

// parseEntraError decodes Entra's error body (identity.md §1.4). Bodies that are not JSON
// keep only the status.
func parseEntraError(status int, body []byte) *EntraError {
	e := &EntraError{StatusCode: status}
	var b struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if json.Unmarshal(body, &b) != nil {
		return e
	}
	e.Code = b.Error
	desc, _, _ := strings.Cut(b.Description, "\r\nTrace ID:")
	desc, _, _ = strings.Cut(desc, "\nTrace ID:")
	e.Description = strings.TrimSpace(desc)
	if len(b.Codes) > 0 {
		e.AADSTS = b.Codes[0]
	} else if m := aadstsPattern.FindStringSubmatch(e.Description); m != nil {
		e.AADSTS, _ = strconv.Atoi(m[1])
	}
	return e
}
