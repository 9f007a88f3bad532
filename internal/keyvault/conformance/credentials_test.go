package conformance

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keystage/keystage/internal/identity/federation/fedtest"
	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/server/servertest"
)

// TestCredentials is conformance case 18: every azidentity credential kind reaches a vault
// through azsecrets, each as its own principal, which the vault's access policy alone
// admits. The unmodified DefaultAzureCredential is TestZeroCodeChange.
func TestCredentials(t *testing.T) {
	issuer := fedtest.New(t)
	opts := servertest.Options{Config: func(c *server.Config) {
		c.TrustedIssuers = []string{issuer.URL()}
		c.IssuerRoots = issuer.CertPool()
	}}
	servertest.Each(t, opts, func(t *testing.T, e *servertest.Env) {
		h := newHarness(t, e)
		ids := map[string]identity{}
		policies := map[string][]string{}
		for _, name := range []string{"assertion", "workload", "managed"} {
			id := h.identity("cred-" + name)
			ids[name] = id
			policies[id.PrincipalID] = []string{"get", "set"}
		}
		h.vault("credentials", vaultSpec{policies: policies})
		for _, name := range []string{"assertion", "workload"} {
			h.arm("PUT", ids[name].ResourceID+"/federatedIdentityCredentials/pipeline?api-version=2023-01-31", map[string]any{
				"properties": map[string]any{"issuer": issuer.URL(), "subject": "ci:" + name, "audiences": []string{fedtest.Audience}},
			}, nil)
		}

		// roundTrip sets and reads a secret named for the credential.
		roundTrip := func(t *testing.T, cred azcore.TokenCredential, name string) {
			t.Helper()
			c := h.secrets("credentials", cred, nil)
			if _, err := c.SetSecret(ctx(t), name, azsecrets.SetSecretParameters{Value: ptr("from " + name)}, nil); err != nil {
				t.Fatalf("set: %v", err)
			}
			got, err := c.GetSecret(ctx(t), name, "", nil)
			if err != nil || *got.Value != "from "+name {
				t.Fatalf("get: %v", err)
			}
		}

		t.Run("ClientSecretCredential", func(t *testing.T) {
			roundTrip(t, h.cred, "client-secret")
		})

		t.Run("ClientAssertionCredential", func(t *testing.T) {
			id := ids["assertion"]
			calls := 0
			cred, err := azidentity.NewClientAssertionCredential(h.admin.TenantID, id.ClientID, func(context.Context) (string, error) {
				calls++
				return issuer.Assertion(t, "ci:assertion"), nil
			}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: h.clientOptions(), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, cred, "client-assertion")
			if calls == 0 {
				t.Error("the assertion callback was never called")
			}
		})

		t.Run("WorkloadIdentityCredential", func(t *testing.T) {
			id := ids["workload"]
			file := filepath.Join(t.TempDir(), "azure-identity-token")
			if err := os.WriteFile(file, []byte(issuer.Assertion(t, "ci:workload")), 0o600); err != nil {
				t.Fatal(err)
			}
			cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
				ClientOptions: h.clientOptions(), DisableInstanceDiscovery: true,
				TenantID: h.admin.TenantID, ClientID: id.ClientID, TokenFilePath: file,
			})
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, cred, "workload-identity")
		})

		t.Run("ManagedIdentityCredential", func(t *testing.T) {
			id := ids["managed"]
			t.Setenv("IDENTITY_ENDPOINT", id.Endpoint)
			t.Setenv("IDENTITY_HEADER", id.Header)
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
				ClientOptions: h.clientOptions(), ID: azidentity.ClientID(id.ClientID),
			})
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, cred, "managed-identity")
		})

		t.Run("a principal without a policy is refused", func(t *testing.T) {
			stranger := h.identity("cred-stranger")
			_, err := h.secrets("credentials", staticCredential(h.token(stranger, h.resource())), nil).GetSecret(ctx(t), "client-secret", "", nil)
			if status, ec := code(err); status != 403 || ec != "Forbidden" {
				t.Errorf("stranger: %d %s", status, ec)
			}
		})
	})
}
