package task

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/credential"
	"github.com/keystage/keystage/internal/logcmd"
)

// keyVaultAPIVersion is the Key Vault REST version AzureKeyVault@2 speaks.
const keyVaultAPIVersion = "2016-10-01"

// Retry policy of the task's Key Vault client (azure-arm-keyvault.ts invokeRequest): up to
// five attempts on these statuses and on network errors, waiting 2s, then 2·w+2 seconds.
const keyVaultMaxAttempts = 5

var keyVaultRetryStatuses = []int{408, 409, 500, 502, 503, 504}

// vaultClient is AzureKeyVault@2's Key Vault client: bearer tokens from the service
// connection for a resource that a 401 challenge may correct once per request.
type vaultClient struct {
	http      *http.Client
	cred      credential.Credential
	vaultURL  string // https://{name}.{suffix}, no trailing slash
	firstWait time.Duration
	log       func(format string, args ...any)
	debug     func(msg string)

	mu       sync.Mutex
	resource string
	token    credential.Token
}

// vaultError is a failed Key Vault call: AzureServiceClientBase.ToError's fields.
type vaultError struct {
	StatusCode int
	Code       string
	Message    string
}

func (e *vaultError) Error() string { return e.Message }

// accessToken returns a token for the current resource, reusing one that has more than a
// minute left.
func (c *vaultClient) accessToken(ctx context.Context, refresh bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !refresh && c.token.Value != "" && time.Until(c.token.ExpiresOn) > time.Minute {
		return c.token.Value, nil
	}
	tok, err := c.cred.Token(ctx, c.resource)
	if err != nil {
		return "", err
	}
	c.token = tok
	return tok.Value, nil
}

// response is a completed call.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends GET target with the retry and challenge rules of the real task.
func (c *vaultClient) do(ctx context.Context, target string) (*response, error) {
	wait := c.firstWait
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, target, false)
		if err == nil && resp.status == http.StatusUnauthorized {
			if res := challengeResource(resp.header.Get("WWW-Authenticate")); res != "" {
				c.log("Retrying with vault resource Id reterieved from response : %s", res)
				c.mu.Lock()
				c.resource = res
				c.mu.Unlock()
				resp, err = c.send(ctx, target, true)
			}
		}
		retry := false
		switch {
		case err != nil && ctx.Err() == nil && !isCredentialError(err):
			retry = true
		case err == nil && slices.Contains(keyVaultRetryStatuses, resp.status):
			retry = true
		}
		if !retry || attempt >= keyVaultMaxAttempts {
			return resp, err
		}
		if err == nil {
			c.debug(fmt.Sprintf("Encountered a retriable status code: %d. Message: '%s'.", resp.status, http.StatusText(resp.status)))
		} else {
			c.debug(fmt.Sprintf("Encountered an error. Will retry. Error: %v.", err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = wait*2 + c.firstWait
	}
}

// isCredentialError reports errors of token acquisition, which are not retried here.
func isCredentialError(err error) bool {
	var ee *credential.EntraError
	var me *credential.ManagedIdentityError
	var oe *credential.OIDCError
	return errors.As(err, &ee) || errors.As(err, &me) || errors.As(err, &oe) || strings.HasPrefix(err.Error(), "credential: ")
}

func (c *vaultClient) send(ctx context.Context, target string, refresh bool) (*response, error) {
	tok, err := c.accessToken(ctx, refresh)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// challengeResource reads resource="…" from a WWW-Authenticate header the way the task
// does: pairs split on ",", each on "=", values trimmed and unquoted.
func challengeResource(h string) string {
	for _, pair := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		if strings.TrimSpace(k) == "resource" {
			return strings.ReplaceAll(strings.TrimSpace(v), `"`, "")
		}
	}
	return ""
}

// toError is AzureServiceClientBase.ToError: Key Vault's error code and message, with
// the logging command the task prints for service errors.
func (c *vaultClient) toError(r *response) *vaultError {
	e := &vaultError{StatusCode: r.status, Message: strings.TrimSpace(string(r.body))}
	var b struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(r.body, &b) == nil && b.Error != nil {
		e.Code, e.Message = b.Error.Code, b.Error.Message
		c.log("##vso[task.logissue type=error;code=%s;]", logcmd.EscapeProperty(e.Code))
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("%d %s", r.status, http.StatusText(r.status))
	}
	return e
}

// listedSecret is an item of a secrets listing.
type listedSecret struct {
	name    string
	enabled bool
	expires time.Time // zero when the secret has no expiry
}

// listSecrets lists every secret of the vault, following nextLink.
func (c *vaultClient) listSecrets(ctx context.Context) ([]listedSecret, error) {
	target := c.vaultURL + "/secrets?maxresults=25&api-version=" + keyVaultAPIVersion
	c.log("Downloading secrets using: %s.", target)
	var out []listedSecret
	for pages := 0; target != ""; pages++ {
		if pages > 100000 {
			return nil, errors.New("the vault's listing does not end (more than 100000 pages)")
		}
		r, err := c.do(ctx, target)
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusOK {
			return nil, c.toError(r)
		}
		var page struct {
			Value []struct {
				ID         string `json:"id"`
				Attributes struct {
					Enabled *bool  `json:"enabled"`
					Exp     *int64 `json:"exp"`
				} `json:"attributes"`
			} `json:"value"`
			NextLink *string `json:"nextLink"`
		}
		if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(&page); err != nil {
			return nil, fmt.Errorf("the vault answered a listing that is not valid JSON: %v", err)
		}
		for _, v := range page.Value {
			s := listedSecret{name: v.ID[strings.LastIndex(v.ID, "/")+1:], enabled: v.Attributes.Enabled != nil && *v.Attributes.Enabled}
			if v.Attributes.Exp != nil && *v.Attributes.Exp != 0 {
				s.expires = time.Unix(*v.Attributes.Exp, 0)
			}
			out = append(out, s)
		}
		target = ""
		if page.NextLink != nil {
			target = *page.NextLink
		}
	}
	return out, nil
}

// getSecret returns the current value of name (or "name/version").
func (c *vaultClient) getSecret(ctx context.Context, name string) (string, error) {
	r, err := c.do(ctx, c.vaultURL+"/secrets/"+secretPath(name)+"?api-version="+keyVaultAPIVersion)
	if err != nil {
		return "", err
	}
	switch r.status {
	case http.StatusOK:
		var b struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil {
			return "", fmt.Errorf("the vault answered a secret that is not valid JSON: %v", err)
		}
		return b.Value, nil
	case http.StatusBadRequest:
		return "", fmt.Errorf("Secret not found: %s. Secret name must be a string 1-127 characters in length containing only -, 0-9, a-z and A-Z.", name)
	}
	return "", c.toError(r)
}

// secretPath escapes a secret reference for the URL. The real task escapes "name/version"
// whole (the slash as %2F), which Azure's front end decodes; Keystage's vault keeps %2F
// inside a name, so each segment is escaped on its own and the slash is kept.
func secretPath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = encodeURIComponent(p)
	}
	return strings.Join(parts, "/")
}

// encodeURIComponent is JavaScript's encodeURIComponent: everything but letters, digits and
// - _ . ! ~ * ' ( ) is percent-encoded as UTF-8.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte("-_.!~*'()", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}
