package idphttp_test

// The identity provider inside the real server (internal/server, started in-process over
// HTTPS by servertest), driven with the real azidentity credentials; the principals and
// federated credentials are created through the server's own Graph and ARM APIs.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/federation/fedtest"
	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/server/servertest"
)

// live is a running server and its administrator.
type live struct {
	e     *servertest.Env
	admin datadir.AdminCredential
	cred  azcore.TokenCredential
}

func (l *live) options(authority string) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority + "/"},
		Transport: l.e.Client,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// call sends a JSON request to the server with the administrator's token for resource and
// decodes a JSON answer into out (when not nil).
func (l *live) call(t *testing.T, method, path, resource string, body, out any) {
	t.Helper()
	at, err := l.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{resource + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.e.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+at.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// verify checks a token the way an unrelated resource server would: go-oidc reading the
// tenant's v1 discovery document and JWKS from the server.
func (l *live) verify(t *testing.T, raw, aud string) *oidc.IDToken {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), l.e.Client)
	provider, err := oidc.NewProvider(ctx, l.e.URL+"/"+l.admin.TenantID+"/")
	if err != nil {
		t.Fatalf("discovery through the server: %v", err)
	}
	tok, err := provider.Verifier(&oidc.Config{ClientID: aud}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("token verification: %v", err)
	}
	return tok
}

func (l *live) token(t *testing.T, cred azcore.TokenCredential, resource string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{resource + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	return at.Token
}

// userAssignedIdentity creates a resource group and a user-assigned identity through ARM.
func (l *live) userAssignedIdentity(t *testing.T, name string) (id, clientID, principalID string) {
	t.Helper()
	rg := "/subscriptions/" + l.admin.SubscriptionID + "/resourcegroups/identity-tests"
	l.call(t, http.MethodPut, rg+"?api-version=2021-04-01", identity.ResourceARM, map[string]any{"location": "westeurope"}, nil)
	var mi struct {
		ID         string `json:"id"`
		Properties struct {
			ClientID    string `json:"clientId"`
			PrincipalID string `json:"principalId"`
		} `json:"properties"`
	}
	l.call(t, http.MethodPut, rg+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+name+"?api-version=2023-01-31",
		identity.ResourceARM, map[string]any{"location": "westeurope"}, &mi)
	return mi.ID, mi.Properties.ClientID, mi.Properties.PrincipalID
}

func TestServerIdentityProvider(t *testing.T) {
	issuer := fedtest.New(t)
	opts := servertest.Options{Config: func(c *server.Config) {
		c.TrustedIssuers = []string{issuer.URL()}
		c.IssuerRoots = issuer.CertPool()
	}}
	servertest.Each(t, opts, func(t *testing.T, e *servertest.Env) {
		admin := e.Admin
		l := &live{e: e, admin: admin}
		var err error
		l.cred, err = azidentity.NewClientSecretCredential(admin.TenantID, admin.ClientID, admin.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: l.options(e.URL), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		loopback := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Port))

		t.Run("ClientSecretCredential", func(t *testing.T) {
			// The administrator signs in through both authority host names the server
			// answers to; MSAL accepts the discovery document only if its issuer names the
			// host it asked.
			for _, authority := range []string{e.URL, loopback} {
				cred, err := azidentity.NewClientSecretCredential(admin.TenantID, admin.ClientID, admin.ClientSecret,
					&azidentity.ClientSecretCredentialOptions{ClientOptions: l.options(authority), DisableInstanceDiscovery: true})
				if err != nil {
					t.Fatal(err)
				}
				raw := l.token(t, cred, identity.ResourceARM)
				if tok := l.verify(t, raw, identity.ResourceARM); tok.Subject != admin.ObjectID || tok.Issuer != e.URL+"/"+admin.TenantID+"/" {
					t.Errorf("authority %s: sub %s iss %s", authority, tok.Subject, tok.Issuer)
				}
			}
			// The management plane accepts the token.
			var subs struct {
				Value []struct {
					SubscriptionID string `json:"subscriptionId"`
				} `json:"value"`
			}
			l.call(t, http.MethodGet, "/subscriptions?api-version=2022-12-01", identity.ResourceARM, nil, &subs)
			if len(subs.Value) == 0 {
				t.Error("the administrator sees no subscription")
			}
			// Entra's error shape survives the server's router and middleware.
			bad, _ := azidentity.NewClientSecretCredential(admin.TenantID, admin.ClientID, admin.ClientSecret+"x",
				&azidentity.ClientSecretCredentialOptions{ClientOptions: l.options(e.URL), DisableInstanceDiscovery: true})
			if _, err := bad.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{identity.ResourceKeyVault + "/.default"}}); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
				t.Errorf("wrong secret: %v", err)
			}
		})

		t.Run("TenantErrors", func(t *testing.T) {
			post := func(path string) (int, string) {
				resp, err := e.Client.Post(e.URL+path, "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if status, body := post("/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token"); status != 400 || !strings.Contains(body, `"error_codes":[90002]`) {
				t.Errorf("unknown tenant: %d %s", status, body)
			}
			// Non-GUID tenant segments are routed by the server (today to Azure DevOps
			// organizations); whoever answers, it is a client error.
			for _, path := range []string{"/common/oauth2/v2.0/token", "/..%2F/oauth2/v2.0/token", "/" + strings.Repeat("x", 3000) + "/oauth2/v2.0/token"} {
				if status, body := post(path); status < 400 || status >= 500 {
					t.Errorf("%.40s: %d %s", path, status, body)
				}
			}
		})

		t.Run("ClientAssertionCredential", func(t *testing.T) {
			var app struct {
				ID    string `json:"id"`
				AppID string `json:"appId"`
			}
			l.call(t, http.MethodPost, "/v1.0/applications", identity.ResourceGraph, map[string]any{"displayName": "federated app"}, &app)
			const sub = "repo:keystage/app:ref:refs/heads/main"
			l.call(t, http.MethodPost, "/v1.0/applications/"+app.ID+"/federatedIdentityCredentials", identity.ResourceGraph,
				map[string]any{"name": "github-main", "issuer": issuer.URL(), "subject": sub, "audiences": []string{fedtest.Audience}}, nil)
			cred, err := azidentity.NewClientAssertionCredential(admin.TenantID, app.AppID, func(context.Context) (string, error) {
				return issuer.Assertion(t, sub), nil
			}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: l.options(e.URL), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			tok := l.verify(t, l.token(t, cred, identity.ResourceKeyVault), identity.ResourceKeyVault)
			var claims struct {
				AppID    string `json:"appid"`
				AppIDACR string `json:"appidacr"`
			}
			if err := tok.Claims(&claims); err != nil || claims.AppID != app.AppID || claims.AppIDACR != "2" {
				t.Errorf("claims = %+v, %v", claims, err)
			}
		})

		t.Run("WorkloadIdentityCredential", func(t *testing.T) {
			id, clientID, principalID := l.userAssignedIdentity(t, "workload")
			const sub = "system:serviceaccount:ci:runner"
			l.call(t, http.MethodPut, id+"/federatedIdentityCredentials/k8s?api-version=2023-01-31", identity.ResourceARM,
				map[string]any{"properties": map[string]any{"issuer": issuer.URL(), "subject": sub, "audiences": []string{fedtest.Audience}}}, nil)
			file := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(file, []byte(issuer.Assertion(t, sub)), 0o600); err != nil {
				t.Fatal(err)
			}
			cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions: l.options(e.URL), DisableInstanceDiscovery: true, TenantID: admin.TenantID, ClientID: clientID, TokenFilePath: file,
			})
			if err != nil {
				t.Fatal(err)
			}
			if tok := l.verify(t, l.token(t, cred, identity.ResourceKeyVault), identity.ResourceKeyVault); tok.Subject != principalID {
				t.Errorf("sub = %s, want the identity's principal %s", tok.Subject, principalID)
			}
		})

		t.Run("ManagedIdentityAndDefaultAzureCredential", func(t *testing.T) {
			id, clientID, principalID := l.userAssignedIdentity(t, fmt.Sprintf("endpoint-%d", time.Now().UnixNano()))
			var ep struct {
				IdentityEndpoint string `json:"identityEndpoint"`
				IdentityHeader   string `json:"identityHeader"`
			}
			l.call(t, http.MethodPost, id+"/issueIdentityEndpointCredential?api-version=2023-01-31", identity.ResourceARM, nil, &ep)
			if ep.IdentityEndpoint != e.URL+"/msi/token" || ep.IdentityHeader == "" {
				t.Fatalf("identity endpoint credential = %+v", ep)
			}
			t.Setenv("IDENTITY_ENDPOINT", ep.IdentityEndpoint)
			t.Setenv("IDENTITY_HEADER", ep.IdentityHeader)
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
				ClientOptions: l.options(e.URL), ID: azidentity.ClientID(clientID),
			})
			if err != nil {
				t.Fatal(err)
			}
			if tok := l.verify(t, l.token(t, cred, identity.ResourceKeyVault), identity.ResourceKeyVault); tok.Subject != principalID {
				t.Errorf("managed identity sub = %s, want %s", tok.Subject, principalID)
			}
			// An unmodified DefaultAzureCredential in a process whose environment is all
			// the configuration it gets.
			raw := runDefaultAzureCredential(t, []string{
				"IDENTITY_ENDPOINT=" + ep.IdentityEndpoint, "IDENTITY_HEADER=" + ep.IdentityHeader, "SSL_CERT_FILE=" + e.CAFile,
			}, identity.ResourceARM+"/.default")
			if tok := l.verify(t, raw, identity.ResourceARM); tok.Subject != principalID {
				t.Errorf("DefaultAzureCredential sub = %s, want %s", tok.Subject, principalID)
			}
		})
	})
}
