// Package token issues Keystage's RS256 access tokens and is the one verifier every
// Keystage API uses to accept them.
package token

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Values of Claims.AppIDACR: how the client authenticated.
const (
	ACRSecret    = "1" // client secret
	ACRAssertion = "2" // certificate or federated assertion; also managed identities
)

// Claims are the claims of a Keystage access token: the v1 shape Entra gives app-only
// tokens for Key Vault and ARM (identity.md §2.4). A *Claims returned by the Verifier is
// shared with its cache and must not be modified.
type Claims struct {
	Audience  string `json:"aud"`
	Issuer    string `json:"iss"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	AppID     string `json:"appid"`
	AppIDACR  string `json:"appidacr"`
	IDType    string `json:"idtyp"`
	ObjectID  string `json:"oid"`
	Subject   string `json:"sub"`
	TenantID  string `json:"tid"`
	UTI       string `json:"uti"`
	Version   string `json:"ver"`
	// ManagedIdentityResourceID is the ARM resource id of a user-assigned managed
	// identity (Entra's xms_mirid); empty for applications.
	ManagedIdentityResourceID string `json:"xms_mirid,omitempty"`
}

// ExpiresOn returns exp as a time.
func (c *Claims) ExpiresOn() time.Time { return time.Unix(c.Expiry, 0) }

// NotBeforeTime returns nbf as a time.
func (c *Claims) NotBeforeTime() time.Time { return time.Unix(c.NotBefore, 0) }

// IssuedAtTime returns iat as a time.
func (c *Claims) IssuedAtTime() time.Time { return time.Unix(c.IssuedAt, 0) }

// NormalizeAuthority checks that authority is an https origin (optionally with a path) and
// returns it without a trailing slash.
func NormalizeAuthority(authority string) (string, error) {
	u, err := url.Parse(authority)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("token: authority %q must be an https URL without query or fragment", authority)
	}
	return strings.TrimRight(authority, "/"), nil
}

// IssuerURL returns the v1 issuer of tenantID's tokens: "{authority}/{tenantID}/", the
// counterpart of Entra's "https://sts.windows.net/{tid}/". authority has no trailing slash.
func IssuerURL(authority, tenantID string) string {
	return authority + "/" + tenantID + "/"
}

// validTenantID reports whether s is a lower-case GUID, the only form tenant ids take in
// Keystage's storage and tokens.
func validTenantID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
