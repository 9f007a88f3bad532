package armhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/server/servertest"
)

// newServerEnv wraps a real in-process server: tokens come from Keystage's identity provider
// through azidentity's ClientSecretCredential, and principals are registered through the
// Graph API as the administrator.
func newServerEnv(t *testing.T, e *servertest.Env) *sdkEnv {
	t.Helper()
	admin := e.Admin
	env := &sdkEnv{URL: e.URL, Client: e.Client, TenantID: admin.TenantID, Subscription: admin.SubscriptionID, AdminID: admin.ObjectID}
	env.Admin = secretCredential(t, e, admin.TenantID, admin.ClientID, admin.ClientSecret)
	if svc, ok := any(e.Server).(interface{ ARM() *arm.Service }); ok {
		env.Service = svc.ARM()
	}
	env.NewPrincipal = func(t *testing.T) (azcore.TokenCredential, string) {
		t.Helper()
		app := graphCall(t, env, http.MethodPost, "/v1.0/applications", map[string]any{"displayName": "sdk-test"})
		pw := graphCall(t, env, http.MethodPost, "/v1.0/applications/"+app["id"].(string)+"/addPassword", map[string]any{})
		sp := graphCall(t, env, http.MethodPost, "/v1.0/servicePrincipals", map[string]any{"appId": app["appId"]})
		return secretCredential(t, e, admin.TenantID, app["appId"].(string), pw["secretText"].(string)), sp["id"].(string)
	}
	return env
}

func secretCredential(t *testing.T, e *servertest.Env, tenant, clientID, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL + "/"}, Transport: e.Client},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// graphCall sends one Graph request as the administrator and decodes the answer.
func graphCall(t *testing.T, e *sdkEnv, method, path string, body any) map[string]any {
	t.Helper()
	ctx := context.Background()
	tok, err := e.Admin.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, method, e.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("Graph %s %s = %d %v (%v)", method, path, resp.StatusCode, out, err)
	}
	return out
}

// TestIdentityEndpointCredential mints an identity-endpoint credential for a user-assigned
// identity through the Keystage-only ARM action, then uses it as a workload would: an
// unmodified azidentity ManagedIdentityCredential reading IDENTITY_ENDPOINT and
// IDENTITY_HEADER gets a token for the identity, and ARM authorizes that token by the
// identity's role assignments.
func TestIdentityEndpointCredential(t *testing.T) {
	servertest.Each(t, servertest.Options{}, func(t *testing.T, se *servertest.Env) {
		e := newServerEnv(t, se)
		ctx := context.Background()
		createGroup(t, e, "mi-cred-rg")
		ic, _ := armmsi.NewUserAssignedIdentitiesClient(e.Subscription, e.Admin, e.options())
		id, err := ic.CreateOrUpdate(ctx, "mi-cred-rg", "workload", armmsi.Identity{Location: ptr("westeurope")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.Admin.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+*id.ID+"/issueIdentityEndpointCredential?api-version=2023-01-31", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := e.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var cred struct {
			IdentityEndpoint, IdentityHeader, ClientID, PrincipalID string
		}
		err = json.NewDecoder(resp.Body).Decode(&cred)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || cred.IdentityHeader == "" || cred.ClientID != *id.Properties.ClientID {
			t.Fatalf("issueIdentityEndpointCredential = %d %+v, %v", resp.StatusCode, cred, err)
		}
		t.Setenv("IDENTITY_ENDPOINT", cred.IdentityEndpoint)
		t.Setenv("IDENTITY_HEADER", cred.IdentityHeader)
		mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ClientOptions: policy.ClientOptions{Transport: e.Client}, ID: azidentity.ClientID(cred.ClientID),
		})
		if err != nil {
			t.Fatal(err)
		}
		gc, _ := armresources.NewResourceGroupsClient(e.Subscription, mi, e.options())
		_, err = gc.Get(ctx, "mi-cred-rg", nil)
		wantError(t, err, http.StatusForbidden, "AuthorizationFailed")
		assign(t, e, cred.PrincipalID, authz.ReaderRoleID, "/subscriptions/"+e.Subscription+"/resourceGroups/mi-cred-rg")
		if _, err := gc.Get(ctx, "mi-cred-rg", nil); err != nil {
			t.Fatalf("the identity, now a Reader of the group, cannot read it: %v", err)
		}

		// A principal that may not assign the identity cannot mint credentials for it.
		stranger, _ := e.NewPrincipal(t)
		st, _ := stranger.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, e.URL+*id.ID+"/issueIdentityEndpointCredential?api-version=2023-01-31", nil)
		req.Header.Set("Authorization", "Bearer "+st.Token)
		resp, err = e.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a stranger minting a credential got %d, want 403", resp.StatusCode)
		}
	})
}
