package idphttp_test

// Integration tests with the real azidentity credentials over real HTTPS. They run against
// the identity handler served by httptest (fixture_test.go); server_integration_test.go
// runs the same flows against the full in-process server.

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/token"
)

// clientOptions points an azidentity credential at p as a custom cloud.
func (p *idp) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: p.url + "/"},
		Transport: p.client,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// getToken acquires a token for resource with cred and verifies it.
func (p *idp) getToken(t *testing.T, cred azcore.TokenCredential, resource string) *token.Claims {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{resource + "/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if !at.ExpiresOn.After(time.Now()) {
		t.Errorf("ExpiresOn = %s", at.ExpiresOn)
	}
	c, err := p.svc.Verifier().Verify(ctx, at.Token, token.Expect{Audiences: []string{resource}, TenantID: p.tenant.ID})
	if err != nil {
		t.Fatalf("the token azidentity received does not verify: %v", err)
	}
	return c
}

func TestAzidentityCredentials(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		p := newIDP(t, st)
		ctx := context.Background()

		t.Run("ClientSecretCredential", func(t *testing.T) {
			app, secret := p.app(t)
			cred, err := azidentity.NewClientSecretCredential(p.tenant.ID, app.AppID, secret, &azidentity.ClientSecretCredentialOptions{
				ClientOptions: p.clientOptions(), DisableInstanceDiscovery: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			c := p.getToken(t, cred, vaultRes)
			if c.ObjectID != app.ServicePrincipalID || c.AppIDACR != token.ACRSecret {
				t.Errorf("claims = %+v", c)
			}
			// ARM's resource keeps its trailing slash.
			if c := p.getToken(t, cred, armRes); c.Audience != armRes {
				t.Errorf("ARM aud = %q", c.Audience)
			}
			// A wrong secret surfaces Entra's error through azidentity.
			bad, _ := azidentity.NewClientSecretCredential(p.tenant.ID, app.AppID, secret+"x", &azidentity.ClientSecretCredentialOptions{
				ClientOptions: p.clientOptions(), DisableInstanceDiscovery: true,
			})
			_, err = bad.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultRes + "/.default"}})
			if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
				t.Errorf("wrong secret: %v", err)
			}
		})

		t.Run("ClientAssertionCredential", func(t *testing.T) {
			const sub = "sc://org/project/connection"
			app := p.federatedApp(t, p.issuer.URL(), sub)
			calls := 0
			cred, err := azidentity.NewClientAssertionCredential(p.tenant.ID, app.AppID, func(context.Context) (string, error) {
				calls++
				return p.issuer.Assertion(t, sub), nil
			}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: p.clientOptions(), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			c := p.getToken(t, cred, vaultRes)
			if c.ObjectID != app.ServicePrincipalID || c.AppIDACR != token.ACRAssertion || calls == 0 {
				t.Errorf("claims = %+v, assertion callbacks = %d", c, calls)
			}
		})

		t.Run("WorkloadIdentityCredential", func(t *testing.T) {
			const sub = "system:serviceaccount:build:runner"
			mi, err := p.svc.CreateManagedIdentity(ctx, p.tenant.ID, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/wi")
			if err != nil {
				t.Fatal(err)
			}
			p.addFIC(t, mi.ClientID, p.issuer.URL(), sub)
			file := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(file, []byte(p.issuer.Assertion(t, sub)), 0o600); err != nil {
				t.Fatal(err)
			}
			cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions: p.clientOptions(), DisableInstanceDiscovery: true,
				TenantID: p.tenant.ID, ClientID: mi.ClientID, TokenFilePath: file,
			})
			if err != nil {
				t.Fatal(err)
			}
			c := p.getToken(t, cred, vaultRes)
			if c.ObjectID != mi.PrincipalID || c.ManagedIdentityResourceID != mi.ResourceID {
				t.Errorf("claims = %+v", c)
			}
		})

		t.Run("ManagedIdentityCredential", func(t *testing.T) {
			mi, header := p.identityHeader(t, "mic")
			t.Setenv("IDENTITY_ENDPOINT", p.url+"/msi/token")
			t.Setenv("IDENTITY_HEADER", header)
			for name, id := range map[string]azidentity.ManagedIDKind{
				"only identity": nil,
				"client id":     azidentity.ClientID(mi.ClientID),
				"object id":     azidentity.ObjectID(mi.PrincipalID),
				"resource id":   azidentity.ResourceID(mi.ResourceID),
			} {
				cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: p.clientOptions(), ID: id})
				if err != nil {
					t.Fatal(err)
				}
				// MSAL Go caches managed identity tokens process-wide, keyed by resource and
				// selector: without a selector only the resource tells two servers apart,
				// so that case asks for this server's own URL.
				resource := map[string]string{"only identity": p.url, "client id": armRes, "object id": "https://graph.microsoft.com", "resource id": vaultRes}[name]
				t.Run(name, func(t *testing.T) {
					c := p.getToken(t, cred, resource)
					if c.ObjectID != mi.PrincipalID || c.AppID != mi.ClientID {
						t.Errorf("claims = %+v", c)
					}
				})
			}
		})

		t.Run("DefaultAzureCredentialFromEnvironment", func(t *testing.T) {
			mi, header := p.identityHeader(t, "dac")
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw}), 0o644); err != nil {
				t.Fatal(err)
			}
			raw := runDefaultAzureCredential(t, []string{
				"IDENTITY_ENDPOINT=" + p.url + "/msi/token",
				"IDENTITY_HEADER=" + header,
				"SSL_CERT_FILE=" + caFile,
			}, vaultRes+"/.default")
			c, err := p.svc.Verifier().Verify(ctx, raw, token.Expect{Audiences: []string{vaultRes}, TenantID: p.tenant.ID})
			if err != nil {
				t.Fatalf("token from the child process: %v", err)
			}
			if c.ObjectID != mi.PrincipalID {
				t.Errorf("claims = %+v", c)
			}
		})
	})
}

// identityHeader creates a managed identity and an identity header bound to it alone. The
// identity's resource id is unique per call, since MSAL caches tokens by it process-wide.
func (p *idp) identityHeader(t *testing.T, name string) (identity.ManagedIdentity, string) {
	t.Helper()
	ctx := context.Background()
	rid := fmt.Sprintf("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s-%d", name, time.Now().UnixNano())
	mi, err := p.svc.CreateManagedIdentity(ctx, p.tenant.ID, rid)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := p.svc.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: mi.TenantID, ClientID: mi.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	return mi, cred.Header
}

// childEnv marks the re-executed test binary that plays an unmodified Azure SDK app.
const childEnv = "KEYSTAGE_TEST_DAC_CHILD_SCOPE"

// runDefaultAzureCredential re-executes this test binary with only env (plus PATH and
// HOME) so azidentity reads a real process environment, and returns the token it got.
func runDefaultAzureCredential(t *testing.T, env []string, scope string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDefaultAzureCredentialChild$", "-test.count=1")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), childEnv + "=" + scope}, env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if tok, ok := strings.CutPrefix(line, "TOKEN "); ok {
			return tok
		}
	}
	t.Fatalf("child printed no token:\n%s", out)
	return ""
}

// TestDefaultAzureCredentialChild is the child side of runDefaultAzureCredential: an app
// that calls azidentity.NewDefaultAzureCredential(nil) and nothing else.
func TestDefaultAzureCredentialChild(t *testing.T) {
	scope := os.Getenv(childEnv)
	if scope == "" {
		t.Skip("only runs as the child of TestAzidentityCredentials")
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("TOKEN " + at.Token)
}
