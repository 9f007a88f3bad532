package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/keystage/keystage/internal/client"
	"github.com/keystage/keystage/internal/datadir"
)

// API versions the CLI sends.
const (
	apiSubscriptions = "2022-12-01"
	apiResources     = "2022-09-01"
	apiKeyVault      = "2024-11-01"
	apiIdentity      = "2023-01-31"
	apiAuthorization = "2022-04-01"
	apiMetadata      = "2022-09-01"
)

// defaultVaultSuffix is the server's default vault DNS suffix.
const defaultVaultSuffix = "vault.localhost"

// signedIn returns the API client of the signed-in principal.
func (a *app) signedIn() (*client.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	p, err := a.st.loadProfile()
	if err != nil {
		return nil, err
	}
	var cred secretCredential
	if err := a.st.read(credentialsFile, &cred); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errorf("Please run 'keystage login' to setup account.")
		}
		return nil, err
	}
	c, err := a.newClient(p, cred, &fileTokenCache{s: a.st})
	if err != nil {
		return nil, err
	}
	a.prof, a.client = &p, c
	return c, nil
}

// newClient builds the API client for a profile and its credential.
func (a *app) newClient(p profile, cred secretCredential, cache client.TokenCache) (*client.Client, error) {
	caFile := p.CAFile
	if caFile == "" {
		caFile = a.env.getenv("SSL_CERT_FILE")
	}
	suffix := p.VaultSuffix
	if suffix == "" {
		suffix = defaultVaultSuffix
	}
	hc, err := client.NewHTTPClient(client.TransportConfig{CAFile: caFile, ServerURL: p.Server, VaultSuffix: suffix})
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{
		URL:         p.Server,
		HTTPClient:  hc,
		VaultSuffix: suffix,
		Logger:      a.logger(),
		Credential: &client.ClientSecretCredential{
			Authority: p.Server, Tenant: p.TenantID, ClientID: cred.ClientID, Secret: cred.Secret,
			HTTPClient: hc, Cache: cache,
		},
	})
}

// subscriptionID returns the subscription a command works in: --subscription (a name or
// id of a subscription in the profile), else the default one.
func (a *app) subscriptionID() (string, error) {
	if _, err := a.signedIn(); err != nil {
		return "", err
	}
	s, err := a.findSubscription(a.subscription)
	if err != nil {
		return "", err
	}
	return s.ID, nil
}

func (a *app) findSubscription(nameOrID string) (subscription, error) {
	for _, s := range a.prof.Subscriptions {
		if nameOrID == "" && s.IsDefault {
			return s, nil
		}
		if nameOrID != "" && (strings.EqualFold(s.ID, nameOrID) || strings.EqualFold(s.Name, nameOrID)) {
			return s, nil
		}
	}
	if nameOrID == "" {
		return subscription{}, errorf("No subscription is selected. Run 'keystage account list' and 'keystage account set --subscription ID'.")
	}
	return subscription{}, errorf("The subscription of '%s' doesn't exist in cloud 'Keystage'.", nameOrID)
}

// defaultOf returns a value given on the command line, else `config set defaults.KEY`.
func (a *app) defaultOf(given, key string) string {
	if given != "" {
		return given
	}
	return a.cfg.get("defaults", key)
}

// requireGroup returns the resource group of a command: -g, else defaults.group.
func (a *app) requireGroup(given string) (string, error) {
	if g := a.defaultOf(given, "group"); g != "" {
		return g, nil
	}
	return "", requiredError("--resource-group/-g")
}

// login signs in with a client secret and records the principal's subscriptions.
func (a *app) login(ctx context.Context, p profile, cred secretCredential, allowNoSubscriptions bool) (any, error) {
	if p.CAFile != "" {
		abs, err := filepath.Abs(p.CAFile)
		if err != nil {
			return nil, err
		}
		p.CAFile = abs
	}
	c, err := a.newClient(p, cred, &client.MemoryCache{})
	if err != nil {
		return nil, err
	}
	tok, err := clientCredentialToken(ctx, c)
	if err != nil {
		return nil, err
	}
	p.User = profileUser{Name: cred.ClientID, Type: "servicePrincipal"}
	p.ObjectID = tokenObjectID(tok.Value)
	if p.VaultSuffix == "" {
		p.VaultSuffix = a.discoverVaultSuffix(ctx, c)
	}
	items, err := c.ARM().List(ctx, "/subscriptions", apiSubscriptions)
	if err != nil {
		return nil, err
	}
	var previous string
	if old, err := a.st.loadProfile(); err == nil && strings.EqualFold(old.Server, p.Server) {
		for _, s := range old.Subscriptions {
			if s.IsDefault {
				previous = s.ID
			}
		}
	}
	p.Subscriptions = nil
	for _, raw := range items {
		var s struct {
			SubscriptionID string `json:"subscriptionId"`
			DisplayName    string `json:"displayName"`
			State          string `json:"state"`
			TenantID       string `json:"tenantId"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("decode subscription: %w", err)
		}
		if s.TenantID == "" {
			s.TenantID = p.TenantID
		}
		p.Subscriptions = append(p.Subscriptions, subscription{
			CloudName: "Keystage", HomeTenantID: s.TenantID, ID: s.SubscriptionID, ManagedByTenants: []any{},
			Name: s.DisplayName, State: s.State, TenantID: s.TenantID, User: p.User,
		})
	}
	if len(p.Subscriptions) == 0 && !allowNoSubscriptions {
		return nil, errorf("No subscriptions found for %s. If you need to access the tenant without subscriptions, use --allow-no-subscriptions.", cred.ClientID)
	}
	def := 0
	for i, s := range p.Subscriptions {
		if s.ID == previous {
			def = i
		}
	}
	if len(p.Subscriptions) > 0 {
		p.Subscriptions[def].IsDefault = true
	}
	if err := a.st.write(credentialsFile, cred); err != nil {
		return nil, err
	}
	if err := a.st.write(profileFile, p); err != nil {
		return nil, err
	}
	_ = a.st.remove(tokensFile)
	out := make([]any, 0, len(p.Subscriptions))
	for _, s := range p.Subscriptions {
		out = append(out, s)
	}
	return toGeneric(out)
}

// clientCredentialToken proves the credential by getting a management token.
func clientCredentialToken(ctx context.Context, c *client.Client) (client.Token, error) {
	cred := c.Credential()
	return cred.Token(ctx, client.DefaultARMResource)
}

// tokenObjectID reads the oid claim of an access token without verifying it (the CLI
// only displays it; the server verifies tokens).
func tokenObjectID(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		OID string `json:"oid"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.OID
}

// discoverVaultSuffix asks the server's cloud metadata (ARM's /metadata/endpoints) for
// the vault DNS suffix, falling back to the default when the server does not serve it.
func (a *app) discoverVaultSuffix(ctx context.Context, c *client.Client) string {
	if s := a.env.getenv("KEYSTAGE_VAULT_SUFFIX"); s != "" {
		return s
	}
	body, err := c.Anonymous(ctx, http.MethodGet, "/metadata/endpoints?api-version="+apiMetadata)
	if err == nil {
		if s := vaultSuffixFromMetadata(body); s != "" {
			return s
		}
	}
	return defaultVaultSuffix
}

// vaultSuffixFromMetadata reads suffixes.keyVaultDns of ARM's cloud metadata: a list of
// clouds (api-version 2019-05-01 and later) or one object (older versions). It returns ""
// when there is none.
func vaultSuffixFromMetadata(body []byte) string {
	type cloud struct {
		Suffixes struct {
			KeyVaultDNS string `json:"keyVaultDns"`
		} `json:"suffixes"`
	}
	var clouds []cloud
	if json.Unmarshal(body, &clouds) != nil {
		var one cloud
		if json.Unmarshal(body, &one) == nil {
			clouds = []cloud{one}
		}
	}
	for _, cl := range clouds {
		if s := strings.Trim(cl.Suffixes.KeyVaultDNS, "."); s != "" {
			return strings.ToLower(s)
		}
	}
	return ""
}

// localLogin reads the administrator credential the server wrote to its data directory.
func (a *app) localLogin(dataDir string) (profile, secretCredential, error) {
	if dataDir == "" {
		dataDir = datadir.Default(a.env.getenv)
	}
	admin, err := datadir.ReadAdminCredential(dataDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return profile{}, secretCredential{}, errorf("No local Keystage administrator credential in %s: start the server with 'keystage serve' on this machine, pass --data-dir, or sign in with --service-principal.", dataDir)
		}
		if errors.Is(err, fs.ErrPermission) {
			return profile{}, secretCredential{}, errorf("Cannot read %s: it is readable only by the user running the server.", filepath.Join(dataDir, datadir.AdminFile))
		}
		return profile{}, secretCredential{}, err
	}
	caFile := admin.CAFile
	if caFile == "" {
		caFile = filepath.Join(dataDir, datadir.CAFile)
	}
	if _, err := os.Stat(caFile); err != nil {
		caFile = ""
	}
	p := profile{Server: admin.URL, CAFile: caFile, DataDir: dataDir, TenantID: admin.TenantID}
	return p, secretCredential{ClientID: admin.ClientID, Secret: admin.ClientSecret}, nil
}

// toGeneric turns a Go value into the generic JSON values the output layer works on.
func toGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}
