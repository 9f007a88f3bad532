// Package credential obtains Microsoft Entra access tokens for an Azure Resource Manager
// service connection the way pipeline tasks do: a service principal's client secret, a
// workload identity federation assertion exchanged for a token, or a managed identity
// endpoint. The agent's tasks and the server's connection verification share it; it talks
// to the identity provider over HTTPS only.
//
// The OAuth exchange is written here rather than with azidentity because callers need
// Entra's error codes (AADSTS…) as data to explain failures, a connection is used for a
// handful of requests (azidentity's token cache buys nothing), and azidentity reads managed
// identity settings from the process environment, which a job's connection cannot set.
package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Authorization schemes of AzureRM service connections.
const (
	SchemeServicePrincipal           = "ServicePrincipal"
	SchemeWorkloadIdentityFederation = "WorkloadIdentityFederation"
	SchemeManagedServiceIdentity     = "ManagedServiceIdentity"
)

// DefaultAuthority is Entra's public authority, used when a connection names none.
const DefaultAuthority = "https://login.microsoftonline.com/"

// Token is an access token. Value is a bearer credential: never log it.
type Token struct {
	Value     string
	ExpiresOn time.Time
}

// String keeps the token out of formatted output.
func (t Token) String() string {
	return "access token (expires " + t.ExpiresOn.UTC().Format(time.RFC3339) + ")"
}

// LogValue keeps the token out of logs.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Credential gets access tokens for resources such as "https://vault.azure.net" or
// "https://management.azure.com/". Implementations are safe for concurrent use.
type Credential interface {
	Token(ctx context.Context, resource string) (Token, error)
}

// AssertionFunc returns a fresh federated assertion (an OIDC token) for each exchange.
type AssertionFunc func(ctx context.Context) (string, error)

// Connection is what a credential needs of a service connection.
type Connection struct {
	// Scheme is one of the Scheme* constants (matched case-insensitively).
	Scheme string
	// Authority is the identity provider's base URL ("https://host:port/"); empty means
	// DefaultAuthority.
	Authority string
	// TenantID is the directory the principal lives in.
	TenantID string
	// ClientID is the application (client) id of the service principal, app registration
	// or managed identity.
	ClientID string
	// Secret is the service principal's client secret (ServicePrincipal).
	Secret string
	// Assertion fetches federated assertions (WorkloadIdentityFederation).
	Assertion AssertionFunc
	// IdentityEndpoint and IdentityHeader are the App-Service-style managed identity
	// endpoint and the value of its X-IDENTITY-HEADER (ManagedServiceIdentity).
	IdentityEndpoint string
	IdentityHeader   string
}

// LogValue names the connection without its secrets.
func (c Connection) LogValue() slog.Value {
	return slog.GroupValue(slog.String("scheme", c.Scheme), slog.String("tenant", c.TenantID), slog.String("client", c.ClientID))
}

// New returns the credential for conn; client makes every HTTP request (nil means
// http.DefaultClient). It fails when conn lacks what its scheme needs.
func New(conn Connection, client *http.Client) (Credential, error) {
	if client == nil {
		client = http.DefaultClient
	}
	authority := conn.Authority
	if authority == "" {
		authority = DefaultAuthority
	}
	au, err := url.Parse(authority)
	if err != nil || au.Scheme != "https" || au.Host == "" {
		return nil, fmt.Errorf("credential: the authority %q must be an https URL", authority)
	}
	switch {
	case strings.EqualFold(conn.Scheme, SchemeServicePrincipal):
		if conn.Secret == "" {
			return nil, errors.New("credential: the service principal's key (serviceprincipalkey) is missing")
		}
		return newClientCredentials(client, authority, conn)
	case strings.EqualFold(conn.Scheme, SchemeWorkloadIdentityFederation):
		if conn.Assertion == nil {
			return nil, errors.New("credential: workload identity federation needs a source of OIDC tokens")
		}
		conn.Secret = ""
		return newClientCredentials(client, authority, conn)
	case strings.EqualFold(conn.Scheme, SchemeManagedServiceIdentity):
		return newManagedIdentity(client, conn)
	}
	return nil, fmt.Errorf("credential: the authorization scheme %q is not supported; use ServicePrincipal, WorkloadIdentityFederation or ManagedServiceIdentity", conn.Scheme)
}

// Scope returns the client-credentials scope of resource, "{resource}/.default", as tasks
// build it (ARM's "https://management.azure.com/" gives ".../" + "/.default", whose
// token audience keeps the trailing slash).
func Scope(resource string) string { return resource + "/.default" }
