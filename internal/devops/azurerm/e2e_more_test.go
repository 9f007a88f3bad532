package azurerm_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/serviceendpoint"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/keyvault"
)

// TestAzurePipelinesCredentialInJob runs a program that uses azidentity's
// AzurePipelinesCredential in a pipeline step: it reads SYSTEM_OIDCREQUESTURI, asks the
// job's OIDC endpoint for the connection's token and exchanges it at Keystage.
func TestAzurePipelinesCredentialInJob(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	bin := filepath.Join(t.TempDir(), "azpipelines")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/azpipelines")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := newStack(t)
	app, _ := s.App(t, "federated")
	conn := s.connection("kv-connection", "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID})
	s.permitAll(conn.ID)
	s.Federate(t, app.AppID, "pipeline", s.devops.WorkloadIdentityIssuer(s.org), "sc://fabrikam/webapp/kv-connection")
	s.agent("Default", "agent-1")
	def := s.pipeline("azidentity", `pool: Default
steps:
- bash: '`+bin+` `+s.URL+` `+s.Tenant+` `+app.AppID+` `+conn.ID+` https://vault.azure.net'
  env:
    SYSTEM_ACCESSTOKEN: $(System.AccessToken)
    SSL_CERT_FILE: `+s.CAFile+`
`)
	id := s.queue(def.ID)
	b := s.wait(id, 90*time.Second, completed)
	logs := s.logs(id)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("run: %s\n%s", *b.Result, logs)
	}
	i := strings.Index(logs, "AZPIPELINES_OK ")
	if i < 0 {
		t.Fatalf("the program printed no token:\n%s", logs)
	}
	line, _, _ := strings.Cut(logs[i+len("AZPIPELINES_OK "):], "\n")
	var claims map[string]any
	if err := json.Unmarshal([]byte(line), &claims); err != nil {
		t.Fatalf("claims %q: %v", line, err)
	}
	if claims["appid"] != app.AppID || claims["aud"] != "https://vault.azure.net" || claims["appidacr"] != "2" {
		t.Errorf("access token claims = %v", claims)
	}
}

// TestUntrustedStepOutput covers identity.md §5 item 48: logging commands printed by a
// step cannot unmask a secret, and cannot change another job.
func TestUntrustedStepOutput(t *testing.T) {
	s := newStack(t)
	app, secret := s.App(t, "sp")
	s.vaults.Create(s.World, "kv")
	s.vaults.Grant(app.ServicePrincipalID, authz.SecretGet, authz.SecretList)
	s.vaults.Set(t, "kv", "SECRET-NAME", tutorialSecret, keyvault.SetParams{})
	conn := s.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret})
	s.permitAll(conn.ID)
	s.agent("Default", "agent-1")
	def := s.pipeline("untrusted", `pool: Default
jobs:
- job: A
  steps:
  - task: AzureKeyVault@2
    inputs:
      azureSubscription: sp-conn
      KeyVaultName: kv
  - bash: |
      echo "##vso[task.setvariable variable=SECRET-NAME;issecret=false]$(SECRET-NAME)"
      echo "##vso[task.setvariable variable=copy;issecret=false]$(SECRET-NAME)"
      echo "##vso[task.prependpath]/tmp/untrusted-bin"
  - bash: |
      echo "a value=$(SECRET-NAME) copy=$(copy) env=$COPY"
      echo "a path=$PATH"
- job: B
  dependsOn: A
  steps:
  - bash: |
      echo "b value=$(SECRET-NAME) copy=$(copy)"
      echo "b path=$PATH"
`)
	id := s.queue(def.ID)
	b := s.wait(id, 60*time.Second, completed)
	logs := s.logs(id)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("run: %s\n%s", *b.Result, logs)
	}
	if strings.Contains(logs, tutorialSecret) {
		t.Fatalf("a logging command unmasked the secret:\n%s", logs)
	}
	// In job B the variables are unknown: the macros stay and bash runs them as commands.
	for _, want := range []string{"a value=*** copy=*** env=***", "b value= copy="} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if !strings.Contains(logs, "a path=/tmp/untrusted-bin:") {
		t.Errorf("prependpath did not apply within its job:\n%s", logs)
	}
	if i := strings.Index(logs, "b path="); i < 0 || strings.Contains(strings.SplitN(logs[i:], "\n", 2)[0], "untrusted-bin") {
		t.Errorf("job B's PATH was changed by job A's step:\n%s", logs)
	}
}

// TestVerifyWithGoClient verifies connections with ExecuteServiceEndpointRequest and
// lists their execution history, as the portal and terraform do.
func TestVerifyWithGoClient(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	app, secret := s.App(t, "sp")
	conn := s.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret})
	s.permitAll(conn.ID)
	sc, err := serviceendpoint.NewClient(ctx, s.conn())
	if err != nil {
		t.Fatal(err)
	}
	verify := func() *serviceendpoint.ServiceEndpointRequestResult {
		t.Helper()
		res, err := sc.ExecuteServiceEndpointRequest(ctx, serviceendpoint.ExecuteServiceEndpointRequestArgs{
			Project: ptr("webapp"), EndpointId: ptr(conn.ID),
			ServiceEndpointRequest: &serviceendpoint.ServiceEndpointRequest{
				DataSourceDetails: &serviceendpoint.DataSourceDetails{DataSourceName: ptr("TestConnection")},
				ServiceEndpointDetails: &serviceendpoint.ServiceEndpointDetails{
					Type: ptr("AzureRM"), Url: ptr(s.URL + "/"),
					Authorization: &serviceendpoint.EndpointAuthorization{Scheme: ptr("ServicePrincipal"),
						Parameters: &map[string]string{"tenantid": s.Tenant, "serviceprincipalid": app.AppID}},
					Data: &map[string]string{"subscriptionId": subscriptionID},
				},
			},
		})
		if err != nil {
			t.Fatalf("ExecuteServiceEndpointRequest: %v", err)
		}
		return res
	}
	res := verify()
	if !strings.EqualFold(*res.StatusCode, "ok") && !strings.Contains(*res.ErrorMessage, "grant the identity Reader on the subscription") {
		t.Fatalf("without Reader: %s %s", *res.StatusCode, *res.ErrorMessage)
	}
	s.armAPI.reader(app.ServicePrincipalID)
	res = verify()
	if !strings.EqualFold(*res.StatusCode, "ok") || *res.ErrorMessage != "" {
		t.Fatalf("with Reader: %s %q", *res.StatusCode, *res.ErrorMessage)
	}

	s.agent("Default", "agent-1")
	s.vaults.Create(s.World, "kv")
	s.vaults.Grant(app.ServicePrincipalID, authz.SecretGet, authz.SecretList)
	def := s.pipeline("history", `pool: Default
steps:
- task: AzureKeyVault@2
  inputs:
    azureSubscription: sp-conn
    KeyVaultName: kv
`)
	id := s.queue(def.ID)
	s.wait(id, 60*time.Second, completed)
	eid := uuid.MustParse(conn.ID)
	hist, err := sc.GetServiceEndpointExecutionRecords(ctx, serviceendpoint.GetServiceEndpointExecutionRecordsArgs{Project: ptr("webapp"), EndpointId: &eid})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Value) != 1 {
		t.Fatalf("execution records = %+v", hist.Value)
	}
	d := hist.Value[0].Data
	if *d.Owner.Id != id || *d.Definition.Name != "history" || *d.PlanType != "Build" || d.Result == nil || *d.Result != serviceendpoint.ServiceEndpointExecutionResultValues.Succeeded {
		t.Errorf("record = %+v", d)
	}
}

// TestApprovalsAPI permits a waiting run through the approvals API.
func TestApprovalsAPI(t *testing.T) {
	s := newStack(t)
	app, secret := s.App(t, "sp")
	s.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret})
	s.vaults.Create(s.World, "kv")
	s.vaults.Grant(app.ServicePrincipalID, authz.SecretGet, authz.SecretList)
	s.agent("Default", "agent-1")
	def := s.pipeline("approvals", `pool: Default
steps:
- task: AzureKeyVault@2
  inputs:
    azureSubscription: sp-conn
    KeyVaultName: kv
`)
	id := s.queue(def.ID)
	auth := basicAuth(s.pat)
	var list struct {
		Count int `json:"count"`
		Value []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"value"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for list.Count == 0 && time.Now().Before(deadline) {
		r := s.raw(t, http.MethodGet, s.orgURL+"/webapp/_apis/pipelines/approvals?api-version=7.1-preview.1", auth, "")
		if r.status != 200 {
			t.Fatalf("GET approvals: %d %s", r.status, r.body)
		}
		if err := json.Unmarshal([]byte(r.body), &list); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if list.Count != 1 || list.Value[0].Status != "pending" {
		t.Fatalf("approvals = %+v", list)
	}
	r := s.raw(t, http.MethodPatch, s.orgURL+"/webapp/_apis/pipelines/approvals?api-version=7.1-preview.1", auth,
		`[{"approvalId":"`+list.Value[0].ID+`","status":"approved","comment":"ok"}]`)
	if r.status != 200 || !strings.Contains(r.body, `"status":"approved"`) {
		t.Fatalf("PATCH approvals: %d %s", r.status, r.body)
	}
	b := s.wait(id, 60*time.Second, completed)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("run: %s\n%s", *b.Result, s.logs(id))
	}
}

func basicAuth(pat string) string {
	return "Basic " + base64Std(":"+pat)
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestMaskingMatrix covers identity.md §5 item 46 with a vault secret in a real job: which
// forms of the secret the step log masks (internal/mask documents the matrix).
func TestMaskingMatrix(t *testing.T) {
	const value = `matrix "S3cret"/with+plus&more:value`
	s := newStack(t)
	app, secret := s.App(t, "sp")
	s.vaults.Create(s.World, "kv")
	s.vaults.Grant(app.ServicePrincipalID, authz.SecretGet, authz.SecretList)
	s.vaults.Set(t, "kv", "matrix", value, keyvault.SetParams{})
	conn := s.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret})
	s.permitAll(conn.ID)
	s.agent("Default", "agent-1")
	def := s.pipeline("matrix", `pool: Default
steps:
- task: AzureKeyVault@2
  inputs:
    azureSubscription: sp-conn
    KeyVaultName: kv
- bash: |
    echo "plain=$S"
    echo "base64=$(printf %s "$S" | base64)"
    echo "json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$S")"
    echo "url=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$S")"
    echo "double=$(printf %s "$S" | base64 | tr -d '\n' | base64)"
    echo "hex=$(printf %s "$S" | od -An -tx1 | tr -d ' \n')"
    echo "substring=${S:7:12}"
    set -x
    echo "$S" > /dev/null
    set +x
  env:
    S: $(matrix)
`)
	id := s.queue(def.ID)
	b := s.wait(id, 60*time.Second, completed)
	logs := s.logs(id)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("run: %s\n%s", *b.Result, logs)
	}
	masked := []string{"plain=***", "base64=***", `json="***"`, "url=***", "+ echo '***'"}
	for _, want := range masked {
		if !strings.Contains(logs, want) {
			t.Errorf("%s: not masked:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, value) {
		t.Errorf("the value itself (plain or in the set -x trace) appears:\n%s", logs)
	}
	// Documented as not masked: transformations of transformations and fragments.
	for _, form := range []string{"double=", "hex=", "substring=\"S3cret\"/wit"} {
		if !strings.Contains(logs, form) || strings.Contains(logs, form+"***") {
			t.Errorf("%s: expected unmasked (as documented), logs:\n%s", form, logs)
		}
	}
}
