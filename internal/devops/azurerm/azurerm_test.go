package azurerm_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/devops/azurerm"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

const (
	planID = "b7bbd0ba-8c7f-4c5a-9e84-d56fb52cf1b1"
	jobID  = "0d8ec07e-1f5a-44e5-a3b8-4f1e5e6e9a17"
)

func (w *world) jobContext(steps ...plan.Step) orchestrator.JobContext {
	return orchestrator.JobContext{
		Project:  orchestrator.Project{OrgID: w.org.ID, OrgName: w.org.Name, ID: w.proj.ID, Name: w.proj.Name},
		Pipeline: orchestrator.PipelineRef{ID: w.def.ID, Name: w.def.Name},
		RunID:    12, PlanID: planID, JobID: jobID, Stage: "__default", Job: "Job",
		Request: &job.Request{RunName: "20260301.1", Job: plan.Job{Name: "Job", Steps: steps},
			Variables: []job.Variable{{Name: "conn", Value: "sp-conn"}, {Name: "hidden", Value: "sp-conn", Secret: true}}},
	}
}

func kvStep(input, value string) plan.Step {
	return plan.Step{DisplayName: "Azure Key Vault", Task: plan.Task{Name: "AzureKeyVault", Version: 2}, Enabled: true,
		Inputs: map[string]string{input: value, "KeyVaultName": "kv"}}
}

func TestJobEndpoints(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	app, secret := w.app("sp")
	sp := w.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret}, nil)
	wif := w.connection("wif-conn", "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID}, nil)
	w.connection("mi-conn", "ManagedServiceIdentity", map[string]string{"serviceprincipalid": "3e0f6d5a-56c4-4b7b-95e3-2e8d9d4a4c33",
		"scope": "/subscriptions/" + subscriptionID + "/resourcegroups/rg"}, map[string]string{"scopeLevel": "ResourceGroup"})
	w.permit(sp.ID)
	w.permit(wif.ID)

	jc := w.jobContext(kvStep("azureSubscription", "$(conn)"), kvStep("ConnectedServiceName", wif.ID), kvStep("azureSubscription", "SP-CONN"))
	original := jc.Request.Job.Steps[0].Inputs["azureSubscription"]
	eps, err := w.arm.JobEndpoints(ctx, jc)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].ID != sp.ID || eps[1].ID != wif.ID {
		t.Fatalf("endpoints = %+v, want sp then wif once each", eps)
	}
	for i, want := range []string{sp.ID, wif.ID, sp.ID} {
		in := jc.Request.Job.Steps[i].Inputs
		if got := in["azureSubscription"] + in["ConnectedServiceName"]; got != want {
			t.Errorf("step %d input = %q, want the connection id %s", i, got, want)
		}
	}
	if original != "$(conn)" {
		t.Fatal("test setup")
	}
	spEP := eps[0]
	wantData := map[string]string{
		"subscriptionId": subscriptionID, "subscriptionName": "Keystage Subscription", "environment": "AzureCloud",
		"scopeLevel": "Subscription", "creationMode": "Manual",
		"activeDirectoryAuthority": w.URL + "/", "environmentAuthorityUrl": w.URL + "/", "resourceManagerUrl": w.URL + "/",
		"AzureKeyVaultDnsSuffix": "vault.localhost:8443", "AzureKeyVaultServiceEndpointResourceId": "https://vault.localhost:8443",
	}
	if diff := cmp.Diff(wantData, spEP.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	wantParams := map[string]string{"tenantid": w.tenant, "serviceprincipalid": app.AppID, "authenticationType": "spnKey",
		"identityEndpoint": w.URL + "/fabrikam/" + w.proj.ID + "/_apis/distributedtask/hubs/build/plans/" + planID + "/jobs/" + jobID + "/serviceconnections/" + sp.ID + "/token?api-version=7.1"}
	if diff := cmp.Diff(wantParams, spEP.Parameters); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	// No variable carries the service principal key.
	vars := map[string]string{}
	for _, v := range jc.Request.Variables {
		if strings.Contains(v.Value, secret) {
			t.Errorf("variable %s carries the service principal key", v.Name)
		}
		vars[v.Name] = v.Value
	}
	if vars["ENDPOINT_URL_"+sp.ID] != w.URL+"/" || vars["ENDPOINT_AUTH_SCHEME_"+wif.ID] != "WorkloadIdentityFederation" ||
		vars["ENDPOINT_DATA_"+sp.ID+"_AZUREKEYVAULTDNSSUFFIX"] != "vault.localhost:8443" {
		t.Errorf("ENDPOINT_* variables missing: %v", vars)
	}
	var auth struct {
		Parameters map[string]string `json:"parameters"`
		Scheme     string            `json:"scheme"`
	}
	if err := json.Unmarshal([]byte(vars["ENDPOINT_AUTH_"+sp.ID]), &auth); err != nil || auth.Scheme != "ServicePrincipal" || auth.Parameters["tenantid"] != w.tenant {
		t.Errorf("ENDPOINT_AUTH_ = %q", vars["ENDPOINT_AUTH_"+sp.ID])
	}

	recs, _, err := w.arm.Executions(ctx, w.org, w.proj.ID, sp.ID, 0, 0, nil)
	if err != nil || len(recs) != 1 || recs[0].ID != 12 || recs[0].DefinitionName != "ci" || recs[0].RunName != "20260301.1" {
		t.Errorf("execution history = %+v, %v", recs, err)
	}

	tests := []struct {
		name string
		step plan.Step
		code string
		msg  string
	}{
		{"not authorized", kvStep("azureSubscription", "mi-conn"), "ResourceNotAuthorizedException",
			"Job Job: Step Azure Key Vault input azureSubscription references service connection mi-conn which has not been authorized for use by pipeline ci."},
		{"unknown", kvStep("azureSubscription", "nope"), "ResourceNotAuthorizedException",
			"Job Job: Step Azure Key Vault input azureSubscription references service connection nope which could not be found."},
		{"secret variable", kvStep("azureSubscription", "$(hidden)"), "InvalidServiceEndpointReference", "variable hidden is not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.arm.JobEndpoints(ctx, w.jobContext(tc.step))
			fe, ok := fault.As(err)
			if !ok || fe.Code != tc.code || !strings.Contains(fe.Message, tc.msg) {
				t.Fatalf("error = %v, want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
}

func TestJobTokenBroker(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	app, secret := w.app("sp")
	sp := w.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret}, nil)
	mi, err := w.idp.CreateManagedIdentity(ctx, w.tenant, "/subscriptions/"+subscriptionID+"/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pipeline")
	if err != nil {
		t.Fatal(err)
	}
	msi := w.connection("mi-conn", "ManagedServiceIdentity", map[string]string{"serviceprincipalid": mi.ClientID}, nil)
	wif := w.connection("wif-conn", "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID}, nil)
	locked := w.connection("locked", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret}, nil)
	for _, id := range []string{sp.ID, msi.ID, wif.ID} {
		w.permit(id)
	}
	w.jobs.add("job-token", oidc.Job{OrgID: w.org.ID, ProjectID: w.proj.ID, DefinitionID: w.def.ID, RunID: 1, PlanID: planID, JobID: jobID})
	req := func(conn string) azurerm.JobTokenRequest {
		return azurerm.JobTokenRequest{Org: w.org, ProjectID: w.proj.ID, PlanID: planID, JobID: jobID, ConnectionID: conn,
			JobToken: "job-token", Resource: "https://vault.azure.net"}
	}
	for name, c := range map[string]struct {
		conn  string
		appID string
	}{"service principal": {sp.ID, app.AppID}, "managed identity": {msi.ID, mi.ClientID}} {
		t.Run(name, func(t *testing.T) {
			for range 2 { // the managed identity's header is created once, then reused
				tok, err := w.arm.JobToken(ctx, req(c.conn))
				if err != nil {
					t.Fatal(err)
				}
				claims, err := w.idp.Verifier().Verify(ctx, tok.Raw, token.Expect{Audiences: []string{"https://vault.azure.net"}, TenantID: w.tenant})
				if err != nil || claims.AppID != c.appID {
					t.Fatalf("token claims %+v, %v; want appid %s", claims, err, c.appID)
				}
			}
		})
	}
	creds, err := w.idp.IdentityEndpointCredentials(ctx)
	if err != nil || len(creds) != 1 {
		t.Errorf("identity endpoint credentials = %d, %v; want one, reused", len(creds), err)
	}

	tests := []struct {
		name   string
		change func(r *azurerm.JobTokenRequest)
		kind   fault.Kind
	}{
		{"ended job", func(r *azurerm.JobTokenRequest) { r.JobToken = "stale" }, fault.Unauthorized},
		{"other job", func(r *azurerm.JobTokenRequest) { r.JobID = "9e4b0a8f-77ad-4f6a-9d1f-3f3c1d3a5b00" }, fault.Forbidden},
		{"not authorized", func(r *azurerm.JobTokenRequest) { r.ConnectionID = locked.ID }, fault.Forbidden},
		{"federated connection", func(r *azurerm.JobTokenRequest) { r.ConnectionID = wif.ID }, fault.BadRequest},
		{"unknown connection", func(r *azurerm.JobTokenRequest) { r.ConnectionID = "4f1a7e6b-67d5-4c8c-a6f4-3f9eae5b5d44" }, fault.NotFound},
		{"other identity", func(r *azurerm.JobTokenRequest) { r.ConnectionID, r.ClientID = msi.ID, app.AppID }, fault.BadRequest},
		{"no resource", func(r *azurerm.JobTokenRequest) { r.Resource = "" }, fault.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := req(sp.ID)
			tc.change(&r)
			_, err := w.arm.JobToken(ctx, r)
			if !fault.Is(err, tc.kind) {
				t.Fatalf("error = %v, want kind %d", err, tc.kind)
			}
		})
	}
	// After the job ends its token gets nothing.
	w.jobs.end("job-token")
	if _, err := w.arm.JobToken(ctx, req(sp.ID)); !fault.Is(err, fault.Unauthorized) {
		t.Errorf("token of an ended job: %v", err)
	}
}

func TestReferences(t *testing.T) {
	steps := []plan.Step{
		{Task: plan.Task{Name: "CmdLine", Version: 2}, Enabled: true, Inputs: map[string]string{"azureSubscription": "x"}},
		{Task: plan.Task{Name: "AzureKeyVault", Version: 2}, Enabled: false, Inputs: map[string]string{"azureSubscription": "disabled"}},
		{Name: "kv", Task: plan.Task{Name: "azurekeyvault", Version: 2}, Enabled: true, Inputs: map[string]string{"ConnectedServiceName": "a", "azureSubscription": " $(Env)-conn "}},
		{Task: plan.Task{Name: "AzureCLI", Version: 2}, Enabled: true, Inputs: map[string]string{"connectedServiceNameARM": "cli"}},
		{Task: plan.Task{Name: "AzureKeyVault", Version: 2}, Enabled: true, Inputs: map[string]string{"KeyVaultName": "kv"}},
	}
	got, err := azurerm.References(steps, map[string]string{"env": "prod"})
	if err != nil {
		t.Fatal(err)
	}
	want := []azurerm.Reference{
		{Step: 2, StepName: "kv", Input: "azureSubscription", Value: "prod-conn"},
		{Step: 3, StepName: "AzureCLI@2 (step 4)", Input: "connectedServiceNameARM", Value: "cli"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("references (-want +got):\n%s", diff)
	}
	if _, err := azurerm.References(steps, nil); err == nil {
		t.Error("an undefined variable was accepted")
	}
	// Macros are read as the agent reads them: "$( env )" names the variable " env ".
	steps[2].Inputs["azureSubscription"] = "$( env )-conn"
	if _, err := azurerm.References(steps, map[string]string{"env": "prod"}); err == nil || !strings.Contains(err.Error(), "variable  env  is not defined") {
		t.Errorf("References($( env )-conn) = %v, want the variable \" env \" undefined", err)
	}
}

func FuzzReferences(f *testing.F) {
	for _, s := range []string{"conn", "$(a)", "$(a)-$(b)", "$()", "$(a", "x$(A)y", "$((a))", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		steps := []plan.Step{{Task: plan.Task{Name: "AzureKeyVault", Version: 2}, Enabled: true, Inputs: map[string]string{"azureSubscription": value}}}
		refs, err := azurerm.References(steps, map[string]string{"a": "A", "b": "B"})
		if err != nil {
			if !fault.Is(err, fault.BadRequest) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for _, r := range refs {
			if r.Value != strings.TrimSpace(r.Value) || r.Value == "" && strings.TrimSpace(value) != "" && !strings.Contains(value, "$(") {
				t.Fatalf("reference value %q from %q", r.Value, value)
			}
		}
	})
}

// TestJobTokenBrokerConcurrentFirstUse: the parallel jobs of a run ask for their first
// managed identity tokens at once; every request gets a token, and the connection's
// identity ends up with one identity-endpoint credential.
func TestJobTokenBrokerConcurrentFirstUse(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mi, err := w.idp.CreateManagedIdentity(ctx, w.tenant, "/subscriptions/"+subscriptionID+"/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pipeline")
	if err != nil {
		t.Fatal(err)
	}
	msi := w.connection("mi-conn", "ManagedServiceIdentity", map[string]string{"serviceprincipalid": mi.ClientID}, nil)
	w.permit(msi.ID)
	w.jobs.add("job-token", oidc.Job{OrgID: w.org.ID, ProjectID: w.proj.ID, DefinitionID: w.def.ID, RunID: 1, PlanID: planID, JobID: jobID})
	id := &countingIdentity{Service: w.idp}
	svc, err := azurerm.New(w.st, w.devops, id, w.issuer, w.jobs, azurerm.Config{
		ServerURL: w.URL, VaultSuffix: "vault.localhost", VaultPort: 8443, HTTPClient: w.Client,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const callers = 8
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.JobToken(ctx, azurerm.JobTokenRequest{Org: w.org, ProjectID: w.proj.ID, PlanID: planID, JobID: jobID,
				ConnectionID: msi.ID, JobToken: "job-token", Resource: "https://vault.azure.net"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("JobToken = %v", err)
		}
	}
	if n := id.created.Load(); n != 1 {
		t.Errorf("%d identity-endpoint credentials created, want one, shared", n)
	}
	creds, err := w.idp.IdentityEndpointCredentials(ctx)
	if err != nil || len(creds) != 1 {
		t.Fatalf("identity endpoint credentials = %d, %v; want one, shared", len(creds), err)
	}
	// A revoked credential is replaced on the next request.
	if err := w.idp.DeleteIdentityEndpointCredential(ctx, creds[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JobToken(ctx, azurerm.JobTokenRequest{Org: w.org, ProjectID: w.proj.ID, PlanID: planID, JobID: jobID,
		ConnectionID: msi.ID, JobToken: "job-token", Resource: "https://vault.azure.net"}); err != nil {
		t.Errorf("JobToken after the credential was revoked = %v", err)
	}
	if n := id.created.Load(); n != 2 {
		t.Errorf("%d identity-endpoint credentials created, want a second one after the revocation", n)
	}
}

// countingIdentity counts the identity-endpoint credentials azurerm creates.
type countingIdentity struct {
	*identity.Service
	created atomic.Int32
}

func (c *countingIdentity) CreateIdentityEndpointCredential(ctx context.Context, ids []identity.IdentityRef) (identity.NewIdentityEndpointCredential, error) {
	c.created.Add(1)
	return c.Service.CreateIdentityEndpointCredential(ctx, ids)
}
