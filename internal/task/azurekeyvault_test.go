package task_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/keyvault"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/task"
)

// kvHost is a task.Host with the job's endpoints (task.EndpointHost), recording output,
// variables and issues.
type kvHost struct {
	mu        sync.Mutex
	vars      map[string]job.Variable
	endpoints []job.Endpoint
	errors    []string
	out       []string
	partial   string
}

func newKVHost(vars map[string]string, eps ...job.Endpoint) *kvHost {
	h := &kvHost{vars: map[string]job.Variable{}, endpoints: eps}
	for k, v := range vars {
		h.vars[strings.ToLower(k)] = job.Variable{Name: k, Value: v}
	}
	return h
}

func (h *kvHost) Variable(name string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.vars[strings.ToLower(name)]
	return v.Value, ok
}
func (h *kvHost) Error(msg string)   { h.mu.Lock(); h.errors = append(h.errors, msg); h.mu.Unlock() }
func (h *kvHost) Warning(msg string) {}
func (h *kvHost) Debug(msg string)   {}
func (h *kvHost) SetVariable(name, value string, secret, output bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.vars[strings.ToLower(name)] = job.Variable{Name: name, Value: value, Secret: secret}
	return nil
}
func (h *kvHost) UploadArtifact(ctx context.Context, name, folder, path string) error { return nil }
func (h *kvHost) ProcessStarted(int)                                                  {}
func (h *kvHost) Endpoint(ref string) (job.Endpoint, bool) {
	for _, e := range h.endpoints {
		if strings.EqualFold(e.ID, ref) || strings.EqualFold(e.Name, ref) {
			return e, true
		}
	}
	return job.Endpoint{}, false
}

func (h *kvHost) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.partial + string(p)
	lines := strings.Split(s, "\n")
	h.partial = lines[len(lines)-1]
	h.out = append(h.out, lines[:len(lines)-1]...)
	return len(p), nil
}

func (h *kvHost) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.out)
}

func (h *kvHost) variable(t *testing.T, name string) job.Variable {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.vars[strings.ToLower(name)]
	if !ok {
		t.Fatalf("variable %s is not set", name)
	}
	return v
}

func (h *kvHost) has(name string) bool {
	_, ok := h.Variable(name)
	return ok
}

// run runs AzureKeyVault@2 with inputs in the given phase.
func runKV(t *testing.T, w *kvWorld, h *kvHost, inputs map[string]string, preJob bool) error {
	t.Helper()
	kv := task.AzureKeyVault{Client: w.client, RetryDelay: time.Millisecond}
	env := &task.Env{
		Inputs: kv.Definition().Resolve(inputs), Stdout: h, Stderr: h, Host: h,
		WorkingDirectory: t.TempDir(),
	}
	if preJob {
		return kv.RunPreJob(context.Background(), env)
	}
	return kv.Run(context.Background(), env)
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("output lacks line %q; output:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

func TestAzureKeyVaultAllSecrets(t *testing.T) {
	w := newKVWorld(t)
	appID, oid, secret := w.spApp("pipeline")
	w.vault("kv")
	w.grant(oid, authz.SecretGet, authz.SecretList)
	no, past, future := false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	w.setSecret("kv", "plain", "p1-value", keyvault.SetParams{})
	w.setSecret("kv", "my-secret", "dash-value", keyvault.SetParams{Expires: &future})
	w.setSecret("kv", "disabled", "never-downloaded", keyvault.SetParams{Enabled: &no})
	w.setSecret("kv", "expired", "never-downloaded", keyvault.SetParams{Expires: &past})
	w.setSecret("kv", "multiline", "line one\nline two\n", keyvault.SetParams{})
	w.setSecret("kv", "json", "{\n  \"b\": 1,\n  \"a\": [true, null]\n}", keyvault.SetParams{})
	w.setSecret("kv", "percent", "50%;]x", keyvault.SetParams{})
	for i := range 24 {
		w.setSecret("kv", fmt.Sprintf("bulk%02d", i), fmt.Sprintf("bulk-value-%02d", i), keyvault.SetParams{})
	}
	ep := w.endpoint("1c8d4b3e-34a2-4f5f-b3c1-0c6b7b2e2a11", "ServicePrincipal", map[string]string{"serviceprincipalid": appID, "serviceprincipalkey": secret})
	h := newKVHost(map[string]string{"Agent.BuildDirectory": t.TempDir()}, ep)
	if err := runKV(t, w, h, map[string]string{"azureSubscription": ep.Name, "KeyVaultName": "kv"}, false); err != nil {
		t.Fatalf("task failed: %v\n%s", err, strings.Join(h.lines(), "\n"))
	}
	port := strconv.Itoa(w.port)
	wantLines(t, h.lines(),
		"SubscriptionId: 9b0f2a34-8f5e-4d3c-9a1b-2c3d4e5f6a7b.",
		"Key vault name: kv.",
		"Downloading secrets using: https://kv.vault.localhost:"+port+"/secrets?maxresults=25&api-version=2016-10-01.",
		"Number of secrets found in kv: 31",
		"Number of enabled and unexpired secrets found in kv: 29",
		"Downloading secret value for: plain.",
		"Downloading secret value for: my-secret.",
		"##vso[task.setsecret]line one",
		"##vso[task.setsecret]line two",
		"Value of secret json has been converted to single line.",
	)
	for _, l := range h.lines() {
		if strings.Contains(l, "disabled.") || strings.Contains(l, "expired.") {
			t.Errorf("disabled or expired secret downloaded: %q", l)
		}
	}
	if n := w.requests["/secrets"]; n != 2 {
		t.Errorf("listing took %d requests, want 2 pages (maxresults=25 then nextLink)", n)
	}
	for name, want := range map[string]string{
		"plain": "p1-value", "my-secret": "dash-value", "multiline": "line one\nline two\n",
		"json": `{"b":1,"a":[true,null]}`, "percent": "50%;]x", "bulk23": "bulk-value-23",
	} {
		v := h.variable(t, name)
		if v.Value != want || !v.Secret {
			t.Errorf("variable %s = %q (secret %v), want %q as a secret", name, v.Value, v.Secret, want)
		}
	}
	if h.has("disabled") || h.has("expired") {
		t.Error("a disabled or expired secret became a variable")
	}
	if v := h.variable(t, "SYSTEM_UNSAFEALLOWMULTILINESECRET"); v.Value != "true" {
		t.Errorf("SYSTEM_UNSAFEALLOWMULTILINESECRET = %q", v.Value)
	}
	if v := h.variable(t, "DECODE_PERCENTS"); v.Value != "True" {
		t.Errorf("DECODE_PERCENTS = %q", v.Value)
	}
}

func TestAzureKeyVaultExplicitNames(t *testing.T) {
	w := newKVWorld(t)
	appID, oid, secret := w.spApp("pipeline")
	w.vault("kv")
	w.grant(oid, authz.SecretGet) // no list: explicit names never list
	no := false
	w.setSecret("kv", "alpha", "old-alpha", keyvault.SetParams{})
	ctx := context.Background()
	v, _ := w.vaults.Vault("kv")
	versions, err := w.vaults.Service.ListVersions(ctx, v, "alpha", keyvault.PageRequest{})
	if err != nil || len(versions.Items) != 1 {
		t.Fatal(err)
	}
	oldVersion := versions.Items[0].Version
	w.setSecret("kv", "alpha", "new-alpha", keyvault.SetParams{})
	w.setSecret("kv", "beta", "beta-value", keyvault.SetParams{})
	w.setSecret("kv", "off", "x", keyvault.SetParams{Enabled: &no})
	ep := w.endpoint("1c8d4b3e-34a2-4f5f-b3c1-0c6b7b2e2a11", "ServicePrincipal", map[string]string{"serviceprincipalid": appID, "serviceprincipalkey": secret})

	h := newKVHost(nil, ep)
	err = runKV(t, w, h, map[string]string{"ConnectedServiceName": ep.ID, "KeyVaultName": "kv", "SecretsFilter": " beta ,alpha/" + oldVersion + ",, "}, false)
	if err != nil {
		t.Fatalf("task failed: %v\n%s", err, strings.Join(h.lines(), "\n"))
	}
	if w.requests["/secrets"] != 0 {
		t.Error("explicit names listed the vault")
	}
	wantLines(t, h.lines(), "Downloading secret value for: beta.", "Downloading secret value for: alpha/"+oldVersion+".")
	if got := h.variable(t, "alpha").Value; got != "old-alpha" {
		t.Errorf("alpha = %q, want the named version's value", got)
	}
	if got := h.variable(t, "alpha/"+oldVersion).Value; got != "old-alpha" {
		t.Errorf("alpha/version = %q", got)
	}

	// A disabled secret named explicitly is fetched and fails with the service's 403,
	// which the task decorates with the permissions hint (as Azure's does).
	h = newKVHost(map[string]string{"Agent.BuildDirectory": t.TempDir()}, ep)
	err = runKV(t, w, h, map[string]string{"ConnectedServiceName": ep.ID, "KeyVaultName": "kv", "SecretsFilter": "off,missing-one,beta"}, false)
	want := "\noff: \"Operation get is not allowed on a disabled secret.. The specified Azure service connection needs to have Get, List secret management permissions on the selected key vault. To set these permissions, download the ProvisionKeyVaultPermissions.ps1 script from build/release logs and execute it, or set them from the Azure portal.\"\nmissing-one: \""
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %q, want it to start with %q", err, want)
	}
	if got := h.variable(t, "beta").Value; got != "beta-value" {
		t.Errorf("the other secrets are still set: beta = %q", got)
	}
	wantLines(t, h.lines(), "##vso[task.logissue type=error;code=Forbidden;]", "##vso[task.logissue type=error;code=SecretNotFound;]")
}

func TestAzureKeyVaultForbiddenHint(t *testing.T) {
	w := newKVWorld(t)
	appID, oid, secret := w.spApp("pipeline")
	w.vault("kv")
	w.grant(oid, authz.SecretGet) // list is missing
	w.setSecret("kv", "a", "v", keyvault.SetParams{})
	ep := w.endpoint("1c8d4b3e-34a2-4f5f-b3c1-0c6b7b2e2a11", "ServicePrincipal", map[string]string{"serviceprincipalid": appID, "serviceprincipalkey": secret})
	build := t.TempDir()
	h := newKVHost(map[string]string{"Agent.BuildDirectory": build}, ep)
	err := runKV(t, w, h, map[string]string{"ConnectedServiceName": ep.ID, "KeyVaultName": "kv"}, false)
	if err == nil {
		t.Fatal("task succeeded without list permission")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "Get secrets failed. Error: The user, group or application 'appid="+appID+";oid="+oid) ||
		!strings.Contains(msg, "does not have secrets list permission on key vault 'kv;location=westeurope'") ||
		!strings.HasSuffix(msg, ". The specified Azure service connection needs to have Get, List secret management permissions on the selected key vault. To set these permissions, download the ProvisionKeyVaultPermissions.ps1 script from build/release logs and execute it, or set them from the Azure portal..") {
		t.Errorf("error = %q", msg)
	}
	script := filepath.Join(build, "ProvisionKeyVaultPermissions.ps1")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "keystage keyvault set-policy --name kv --object-id $objectId --secret-permissions get list") {
		t.Errorf("script:\n%s", b)
	}
	wantLines(t, h.lines(), "##vso[task.logissue type=error;code=Forbidden;]", "Uploading "+script+" as attachment", "##vso[task.uploadfile]"+script)
}

func TestAzureKeyVaultRunAsPreJob(t *testing.T) {
	w := newKVWorld(t)
	appID, oid, secret := w.spApp("pipeline")
	w.vault("kv")
	w.grant(oid, authz.SecretGet, authz.SecretList)
	w.setSecret("kv", "a", "value-a", keyvault.SetParams{})
	ep := w.endpoint("1c8d4b3e-34a2-4f5f-b3c1-0c6b7b2e2a11", "ServicePrincipal", map[string]string{"serviceprincipalid": appID, "serviceprincipalkey": secret})
	for _, runAsPreJob := range []bool{false, true} {
		for _, preJob := range []bool{false, true} {
			t.Run(fmt.Sprintf("RunAsPreJob=%v/prejob=%v", runAsPreJob, preJob), func(t *testing.T) {
				h := newKVHost(nil, ep)
				err := runKV(t, w, h, map[string]string{"ConnectedServiceName": ep.ID, "KeyVaultName": "kv", "RunAsPreJob": strconv.FormatBool(runAsPreJob)}, preJob)
				if err != nil {
					t.Fatal(err)
				}
				skipped := "##vso[task.complete result=Skipped;]Skipped according to the task's configuration. RunAsPreJob: " + strconv.FormatBool(runAsPreJob)
				if runAsPreJob == preJob {
					if h.variable(t, "a").Value != "value-a" || slices.Contains(h.lines(), skipped) {
						t.Errorf("matching phase did not download: %v", h.lines())
					}
					return
				}
				if got := h.lines(); len(got) != 1 || got[0] != skipped {
					t.Errorf("output = %q, want only %q", got, skipped)
				}
				if h.has("a") {
					t.Error("the skipped phase set variables")
				}
			})
		}
	}
}

func TestAzureKeyVaultWorkloadIdentityFederation(t *testing.T) {
	w := newKVWorld(t)
	ctx := context.Background()
	app, err := w.idp.CreateApplication(ctx, w.tenant, "federated")
	if err != nil {
		t.Fatal(err)
	}
	connID := "2d9e5c4f-45b3-4a6a-84d2-1d7c8c3f3b22"
	w.conns.add(oidc.Connection{ID: connID, Name: "kv-conn", Scheme: "WorkloadIdentityFederation", OrgName: "fabrikam", ProjectName: "web"}, true)
	_, err = w.idp.CreateFederatedCredential(ctx, w.tenant, app.AppID, identity.FederatedCredential{
		Name: "pipeline", Issuer: w.issuer.IssuerURL(kvOrgID), Subject: "sc://fabrikam/web/kv-conn", Audiences: []string{oidc.Audience},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.vault("kv")
	w.grant(app.ServicePrincipalID, authz.SecretGet, authz.SecretList)
	w.setSecret("kv", "SECRET-NAME", "federated-value", keyvault.SetParams{})
	ep := w.endpoint(connID, "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID})
	vars := map[string]string{"System.AccessToken": kvJobToken, "System.OidcRequestUri": w.oidcRequestURI()}
	h := newKVHost(vars, ep)
	if err := runKV(t, w, h, map[string]string{"azureSubscription": connID, "KeyVaultName": "kv"}, false); err != nil {
		t.Fatalf("task failed: %v\n%s", err, strings.Join(h.lines(), "\n"))
	}
	if got := h.variable(t, "SECRET-NAME").Value; got != "federated-value" {
		t.Errorf("SECRET-NAME = %q", got)
	}

	// Not authorized for the pipeline: the OIDC endpoint refuses and the task says why.
	w.conns.add(oidc.Connection{ID: connID, Name: "kv-conn", Scheme: "WorkloadIdentityFederation", OrgName: "fabrikam", ProjectName: "web"}, false)
	h = newKVHost(vars, ep)
	err = runKV(t, w, h, map[string]string{"azureSubscription": connID, "KeyVaultName": "kv"}, false)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "is not authorized to use service connection kv-conn") {
		t.Fatalf("unauthorized pipeline: error %v", err)
	}
}

func TestAzureKeyVaultManagedIdentity(t *testing.T) {
	w := newKVWorld(t)
	ctx := context.Background()
	mi, err := w.idp.CreateManagedIdentity(ctx, w.tenant, "/subscriptions/9b0f2a34-8f5e-4d3c-9a1b-2c3d4e5f6a7b/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pipeline")
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := w.idp.CreateIdentityEndpointCredential(ctx, []identity.IdentityRef{{TenantID: w.tenant, ClientID: mi.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	w.vault("kv")
	w.grant(mi.PrincipalID, authz.SecretGet, authz.SecretList)
	w.setSecret("kv", "mi-secret", "mi-value", keyvault.SetParams{})
	ep := w.endpoint("3e0f6d5a-56c4-4b7b-95e3-2e8d9d4a4c33", "ManagedServiceIdentity", map[string]string{
		"serviceprincipalid": mi.ClientID, "identityEndpoint": w.url + "/msi/token", "identityHeader": hdr.Header,
	})
	h := newKVHost(nil, ep)
	if err := runKV(t, w, h, map[string]string{"azureSubscription": ep.ID, "KeyVaultName": "kv"}, false); err != nil {
		t.Fatalf("task failed: %v\n%s", err, strings.Join(h.lines(), "\n"))
	}
	if got := h.variable(t, "mi-secret").Value; got != "mi-value" {
		t.Errorf("mi-secret = %q", got)
	}
}

func TestAzureKeyVaultChallengeAndRetries(t *testing.T) {
	w := newKVWorld(t)
	appID, oid, secret := w.spApp("pipeline")
	w.vault("kv")
	w.grant(oid, authz.SecretGet, authz.SecretList)
	w.setSecret("kv", "a", "value-a", keyvault.SetParams{})
	ep := w.endpoint("1c8d4b3e-34a2-4f5f-b3c1-0c6b7b2e2a11", "ServicePrincipal", map[string]string{"serviceprincipalid": appID, "serviceprincipalkey": secret})
	// A token for the wrong resource is refused with a challenge naming the right one.
	ep.Data["AzureKeyVaultServiceEndpointResourceId"] = "https://management.azure.com/"
	w.failNext, w.failStatus = 2, 503
	h := newKVHost(nil, ep)
	if err := runKV(t, w, h, map[string]string{"azureSubscription": ep.ID, "KeyVaultName": "kv"}, false); err != nil {
		t.Fatalf("task failed: %v\n%s", err, strings.Join(h.lines(), "\n"))
	}
	wantLines(t, h.lines(), "Retrying with vault resource Id reterieved from response : https://vault.localhost:"+strconv.Itoa(w.port))
	if got := h.variable(t, "a").Value; got != "value-a" {
		t.Errorf("a = %q", got)
	}
	if n := w.requests["/secrets"]; n < 3 {
		t.Errorf("listing took %d requests, want the two 503s retried", n)
	}

	// Persistent 503s give up after five attempts.
	w.failNext, w.failStatus = 100, 503
	w.requests = map[string]int{}
	h = newKVHost(nil, ep)
	err := runKV(t, w, h, map[string]string{"azureSubscription": ep.ID, "KeyVaultName": "kv"}, false)
	if err == nil || err.Error() != "Get secrets failed. Error: injected 503." {
		t.Errorf("error = %v", err)
	}
	if n := w.requests["/secrets"]; n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
}

func TestAzureKeyVaultInputErrors(t *testing.T) {
	w := newKVWorld(t)
	ep := w.endpoint("1c8d4b3e-34a2-4f5f-b3c1-0c6b7b2e2a11", "ServicePrincipal", map[string]string{"serviceprincipalid": "c", "serviceprincipalkey": "k"})
	tests := []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"no connection", map[string]string{"KeyVaultName": "kv"}, "Input required: ConnectedServiceName"},
		{"unknown connection", map[string]string{"ConnectedServiceName": "nope", "KeyVaultName": "kv"}, "Endpoint not present: nope"},
		{"no vault", map[string]string{"ConnectedServiceName": ep.ID}, "Input required: KeyVaultName"},
		{"bad vault name", map[string]string{"ConnectedServiceName": ep.ID, "KeyVaultName": "kv/../x"}, "kv/../x is an invalid KeyVault name."},
		{"empty filter", map[string]string{"ConnectedServiceName": ep.ID, "KeyVaultName": "kv", "SecretsFilter": " , "}, "Input required: SecretsFilter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runKV(t, w, newKVHost(nil, ep), tc.inputs, false)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseSecretsFilter(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"*", []string{"*"}},
		{"", nil},
		{" a , b,,c ", []string{"a", "b", "c"}},
		{"a/1234", []string{"a/1234"}},
		{"*,a", []string{"*", "a"}},
	}
	for _, tc := range tests {
		if got := task.ParseSecretsFilter(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ParseSecretsFilter(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseSecretsFilter(f *testing.F) {
	for _, s := range []string{"*", "", "a,b", " a , ,b ", "name/version", ",,,", "\t*\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		names := task.ParseSecretsFilter(s)
		for _, n := range names {
			if n == "" || n != strings.TrimSpace(n) || strings.Contains(n, ",") {
				t.Fatalf("ParseSecretsFilter(%q) gave %q", s, n)
			}
		}
		// Joining the names again parses to the same names.
		if again := task.ParseSecretsFilter(strings.Join(names, ",")); !slices.Equal(again, names) {
			t.Fatalf("round trip %q -> %q -> %q", s, names, again)
		}
	})
}
