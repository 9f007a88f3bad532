package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/server/servertest"
)

// armResource is the audience azcore's ARM clients request: "https://management.azure.com/"
// with "/.default" appended.
const armScope = "https://management.azure.com//.default"

// harness drives one in-process server: the administrator's credential, ARM calls to set
// vaults and principals up, and azsecrets clients.
type harness struct {
	t     *testing.T
	e     *servertest.Env
	admin datadir.AdminCredential
	cred  *azidentity.ClientSecretCredential // the administrator, an Owner
	sub   string

	groupOnce sync.Once
}

func newHarness(t *testing.T, e *servertest.Env) *harness {
	t.Helper()
	admin, err := datadir.ReadAdminCredential(e.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, e: e, admin: admin}
	h.cred, err = azidentity.NewClientSecretCredential(admin.TenantID, admin.ClientID, admin.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: h.clientOptions(), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var subs struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
		} `json:"value"`
	}
	h.arm("GET", "/subscriptions?api-version=2022-12-01", nil, &subs)
	if len(subs.Value) == 0 {
		t.Fatal("the server has no subscription")
	}
	h.sub = subs.Value[0].SubscriptionID
	return h
}

// clientOptions points an Azure SDK client at the server: its CA, its host names, and its
// identity provider as a custom cloud. Retries are off unless a test turns them on.
func (h *harness) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: h.e.URL + "/"},
		Transport: h.e.Client,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// secrets returns an azsecrets client for vault with cred, changing the options with edit.
func (h *harness) secrets(vault string, cred azcore.TokenCredential, edit func(*azsecrets.ClientOptions)) *azsecrets.Client {
	h.t.Helper()
	opts := &azsecrets.ClientOptions{ClientOptions: h.clientOptions()}
	if edit != nil {
		edit(opts)
	}
	c, err := azsecrets.NewClient(h.e.VaultURL(vault), cred, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// arm sends a management request as the administrator and decodes a 2xx answer into out.
func (h *harness) arm(method, path string, body, out any) {
	h.t.Helper()
	if code, raw := h.armStatus(method, path, body, out); code/100 != 2 {
		h.t.Fatalf("%s %s: status %d: %s", method, path, code, raw)
	}
}

func (h *harness) armStatus(method, path string, body, out any) (int, []byte) {
	h.t.Helper()
	tok, err := h.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{armScope}})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.call(method, h.e.URL+path, tok.Token, body, out)
}

// call sends one request with a bearer token and decodes a JSON answer into out.
func (h *harness) call(method, target, bearer string, body, out any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.e.Client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, target, err, raw)
		}
	}
	return resp.StatusCode, raw
}

func (h *harness) group() string {
	h.groupOnce.Do(func() {
		h.arm("PUT", "/subscriptions/"+h.sub+"/resourcegroups/kv?api-version=2021-04-01", map[string]any{"location": "westeurope"}, nil)
	})
	return "/subscriptions/" + h.sub + "/resourceGroups/kv"
}

// vaultSpec describes a vault to create.
type vaultSpec struct {
	rbac            bool
	retentionDays   int
	purgeProtection bool
	// policies maps object ids to secret permissions; the administrator always has all.
	policies map[string][]string
}

// vault creates a vault and returns its resource id.
func (h *harness) vault(name string, spec vaultSpec) string {
	h.t.Helper()
	policies := []map[string]any{policyEntry(h.admin.TenantID, h.admin.ObjectID, "all")}
	for oid, perms := range spec.policies {
		policies = append(policies, policyEntry(h.admin.TenantID, oid, perms...))
	}
	props := map[string]any{
		"tenantId": h.admin.TenantID, "sku": map[string]string{"family": "A", "name": "standard"},
		"accessPolicies": policies, "enableRbacAuthorization": spec.rbac,
	}
	if spec.retentionDays != 0 {
		props["softDeleteRetentionInDays"] = spec.retentionDays
	}
	if spec.purgeProtection {
		props["enablePurgeProtection"] = true
	}
	id := h.group() + "/providers/Microsoft.KeyVault/vaults/" + name
	h.arm("PUT", id+"?api-version=2023-07-01", map[string]any{"location": "westeurope", "properties": props}, nil)
	return id
}

func policyEntry(tenant, oid string, perms ...string) map[string]any {
	return map[string]any{"tenantId": tenant, "objectId": oid, "permissions": map[string]any{"secrets": perms}}
}

// assign gives principal the built-in role at scope.
func (h *harness) assign(scope, roleID, principal string) {
	h.t.Helper()
	h.arm("PUT", scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", map[string]any{
		"properties": map[string]any{
			"roleDefinitionId": "/subscriptions/" + h.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
			"principalId":      principal, "principalType": "ServicePrincipal",
		},
	}, nil)
}

// identity is a user-assigned managed identity with an identity-endpoint credential.
type identity struct {
	Name, ResourceID, PrincipalID, ClientID string
	Endpoint, Header                        string
}

// identity creates a user-assigned managed identity and issues it an identity-endpoint
// credential (IDENTITY_ENDPOINT / IDENTITY_HEADER).
func (h *harness) identity(name string) identity {
	h.t.Helper()
	id := h.group() + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
	var created struct {
		Properties struct {
			PrincipalID string `json:"principalId"`
			ClientID    string `json:"clientId"`
		} `json:"properties"`
	}
	h.arm("PUT", id+"?api-version=2023-01-31", map[string]any{"location": "westeurope"}, &created)
	var cred struct {
		IdentityEndpoint string `json:"identityEndpoint"`
		IdentityHeader   string `json:"identityHeader"`
	}
	h.arm("POST", id+"/issueIdentityEndpointCredential?api-version=2023-01-31", nil, &cred)
	return identity{Name: name, ResourceID: id, PrincipalID: created.Properties.PrincipalID, ClientID: created.Properties.ClientID,
		Endpoint: cred.IdentityEndpoint, Header: cred.IdentityHeader}
}

// token gets a token for resource from the identity endpoint, as App Service's does.
func (h *harness) token(id identity, resource string) string {
	h.t.Helper()
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {resource}, "client_id": {id.ClientID}}
	req, err := http.NewRequest("GET", id.Endpoint+"?"+q.Encode(), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("X-IDENTITY-HEADER", id.Header)
	resp, err := h.e.Client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || out.AccessToken == "" {
		h.t.Fatalf("identity endpoint: %d %s", resp.StatusCode, raw)
	}
	return out.AccessToken
}

// resource is the challenge resource of the server's vaults.
func (h *harness) resource() string {
	return fmt.Sprintf("https://%s:%d", h.e.VaultSuffix, h.e.Port)
}

// staticCredential hands out one token: for tests that need a specific principal's token
// without a process-wide environment; azsecrets still runs its challenge handshake.
type staticCredential string

func (s staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// ctx returns a context for one SDK call.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// code returns the status and error code of an SDK error.
func code(err error) (int, string) {
	var re *azcore.ResponseError
	if err == nil {
		return 200, ""
	}
	if !errors.As(err, &re) {
		return 0, err.Error()
	}
	return re.StatusCode, re.ErrorCode
}

func ptr[T any](v T) *T { return &v }

func lower(s string) string { return strings.ToLower(s) }

// recorder is a transport that records every exchange an SDK client makes.
type recorder struct {
	next policy.Transporter
	mu   sync.Mutex
	log  []exchange
}

type exchange struct {
	Method, Path, Query string
	BodyLen             int
	Status              int
	Challenge           string
	RetryAfter          string
	ErrorCode           string
	ErrorBody           string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	n := 0
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		n = len(b)
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := r.next.Do(req)
	ex := exchange{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, BodyLen: n}
	if resp != nil {
		ex.Status, ex.Challenge, ex.RetryAfter = resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Retry-After")
		if resp.StatusCode >= 400 {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(b, &e)
			ex.ErrorCode, ex.ErrorBody = e.Error.Code, string(b)
		}
	}
	r.mu.Lock()
	r.log = append(r.log, ex)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.log...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.log = nil
	r.mu.Unlock()
}

func asRE(err error, re **azcore.ResponseError) bool { return errors.As(err, re) }

// rawBody returns the body of the response behind an SDK error.
func rawBody(re *azcore.ResponseError) []byte {
	b, _ := runtime.Payload(re.RawResponse)
	return b
}

func policyScope(resource string) policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{resource + "/.default"}}
}

// newSecretCred is the administrator's client secret credential, configured for tenant.
func newSecretCred(h *harness, tenant string, additional []string) (*azidentity.ClientSecretCredential, error) {
	return azidentity.NewClientSecretCredential(tenant, h.admin.ClientID, h.admin.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: h.clientOptions(), DisableInstanceDiscovery: true, AdditionallyAllowedTenants: additional,
	})
}
