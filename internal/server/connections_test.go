package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"

	"github.com/keystage/keystage/internal/devops/oidc/oidctest"
	"github.com/keystage/keystage/internal/listener"
	"github.com/keystage/keystage/internal/server/servertest"
	"github.com/keystage/keystage/internal/task"
)

// tutorialServer drives tutorial-flow.md against the real server over HTTPS: ARM for the
// group, vault, managed identity, federated credential, access policy and role assignment;
// the vault data plane for the secret; the DevOps surface for the connection, its
// verification, the pipeline, its permission and its runs; an in-process agent.
type tutorialServer struct {
	t    *testing.T
	e    *servertest.Env
	pat  string
	pipe int
	sub  string
	arm  string // bearer token for ARM
	kv   string // bearer token for the vault
}

func newTutorialServer(t *testing.T) *tutorialServer {
	t.Helper()
	e := servertest.Start(t, servertest.Options{})
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "azure-pipelines.yml"), []byte(oidctest.TutorialPipeline("kv-connection", "kv-tutorial")), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := &tutorialServer{t: t, e: e, sub: e.Admin.SubscriptionID}
	ts.pat = setUp(t, e, repo, &ts.pipe)
	cred, err := azidentity.NewClientSecretCredential(e.Admin.TenantID, e.Admin.ClientID, e.Admin.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL + "/"}, Transport: e.Client},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		scope string
		out   *string
	}{{"https://management.azure.com//.default", &ts.arm}, {"https://vault.azure.net/.default", &ts.kv}} {
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{x.scope}})
		if err != nil {
			t.Fatal(err)
		}
		*x.out = "Bearer " + tok.Token
	}
	// The agent's AzureKeyVault@2 reaches vault host names through the test's client.
	tasks := task.Builtins()
	for i, tk := range tasks {
		if _, ok := tk.(task.AzureKeyVault); ok {
			tasks[i] = task.AzureKeyVault{Client: e.Client}
		}
	}
	l, err := listener.New(listener.Config{URL: e.URL + "/fabrikam", Pool: "Azure Pipelines", Token: ts.pat, Name: "hosted-1",
		WorkDir: t.TempDir(), Tasks: tasks, HTTPClient: e.Client})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ts
}

// call sends a JSON request to url (absolute, or a path on the server) and decodes the
// answer into out; it fails the test unless the status is want (any 2xx when want is 0).
func (ts *tutorialServer) call(method, url, auth string, body, out any, want int) {
	ts.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = ts.e.URL + url
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.e.Client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want && (want != 0 || resp.StatusCode/100 != 2) {
		ts.t.Fatalf("%s %s = %d %s", method, url, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			ts.t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

func (ts *tutorialServer) rg() string { return "/subscriptions/" + ts.sub + "/resourcegroups/rg" }

// vaultWithSecret creates group rg, vault kv-tutorial and the secret SECRET-NAME.
func (ts *tutorialServer) vaultWithSecret(value string) {
	ts.t.Helper()
	ts.call("PUT", ts.rg()+"?api-version=2021-04-01", ts.arm, map[string]any{"location": "westeurope"}, nil, 0)
	ts.call("PUT", ts.rg()+"/providers/Microsoft.KeyVault/vaults/kv-tutorial?api-version=2023-07-01", ts.arm, map[string]any{
		"location": "westeurope", "properties": map[string]any{"tenantId": ts.e.Admin.TenantID, "sku": map[string]string{"family": "A", "name": "standard"},
			"accessPolicies": []any{map[string]any{"tenantId": ts.e.Admin.TenantID, "objectId": ts.e.Admin.ObjectID,
				"permissions": map[string][]string{"secrets": {"get", "list", "set"}}}}},
	}, nil, 0)
	ts.call("PUT", ts.e.VaultURL("kv-tutorial")+"secrets/SECRET-NAME?api-version=7.4", ts.kv, map[string]string{"value": value}, nil, 0)
}

// identity creates user-assigned identity name and returns its client and principal ids.
func (ts *tutorialServer) identity(name string) (clientID, principalID string) {
	ts.t.Helper()
	var mi struct {
		Properties struct {
			ClientID    string `json:"clientId"`
			PrincipalID string `json:"principalId"`
		} `json:"properties"`
	}
	ts.call("PUT", ts.rg()+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"+name+"?api-version=2023-01-31", ts.arm,
		map[string]any{"location": "westeurope"}, &mi, 0)
	return mi.Properties.ClientID, mi.Properties.PrincipalID
}

// policy sets the access policy of principal on kv-tutorial to secret permissions perms.
func (ts *tutorialServer) policy(principal string, perms ...string) {
	ts.t.Helper()
	ts.call("PUT", ts.rg()+"/providers/Microsoft.KeyVault/vaults/kv-tutorial/accessPolicies/replace?api-version=2023-07-01", ts.arm, map[string]any{
		"properties": map[string]any{"accessPolicies": []any{
			map[string]any{"tenantId": ts.e.Admin.TenantID, "objectId": ts.e.Admin.ObjectID, "permissions": map[string][]string{"secrets": {"get", "list", "set"}}},
			map[string]any{"tenantId": ts.e.Admin.TenantID, "objectId": principal, "permissions": map[string][]string{"secrets": perms}},
		}},
	}, nil, 0)
}

// reader assigns Reader on the subscription to principal.
func (ts *tutorialServer) reader(principal string) {
	ts.t.Helper()
	ts.call("PUT", "/subscriptions/"+ts.sub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", ts.arm, map[string]any{
		"properties": map[string]string{
			"roleDefinitionId": "/subscriptions/" + ts.sub + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
			"principalId":      principal, "principalType": "ServicePrincipal",
		},
	}, nil, 0)
}

// connection creates service connection kv-connection and returns it.
func (ts *tutorialServer) connection(scheme string, params map[string]string) (id string, shown map[string]string) {
	ts.t.Helper()
	p := map[string]string{"tenantid": ts.e.Admin.TenantID}
	for k, v := range params {
		p[k] = v
	}
	var ep struct {
		ID            string `json:"id"`
		Authorization struct {
			Parameters map[string]string `json:"parameters"`
		} `json:"authorization"`
	}
	var proj struct {
		ID string `json:"id"`
	}
	ts.call("GET", "/fabrikam/_apis/projects/webapp?api-version=7.1", basic(ts.pat), nil, &proj, 200)
	ts.call("POST", "/fabrikam/_apis/serviceendpoint/endpoints?api-version=7.1", basic(ts.pat), map[string]any{
		"name": "kv-connection", "type": "AzureRM", "url": "https://management.azure.com/",
		"authorization":                    map[string]any{"scheme": scheme, "parameters": p},
		"data":                             map[string]string{"subscriptionId": ts.sub, "subscriptionName": "Keystage", "environment": "AzureCloud", "scopeLevel": "Subscription", "creationMode": "Manual"},
		"serviceEndpointProjectReferences": []any{map[string]any{"projectReference": map[string]string{"id": proj.ID, "name": "webapp"}, "name": "kv-connection"}},
	}, &ep, 200)
	return ep.ID, ep.Authorization.Parameters
}

// verify runs "Verify and save" and returns statusCode and errorMessage.
func (ts *tutorialServer) verify(id string) (string, string) {
	ts.t.Helper()
	var res struct {
		StatusCode   string `json:"statusCode"`
		ErrorMessage string `json:"errorMessage"`
	}
	ts.call("POST", "/fabrikam/webapp/_apis/serviceendpoint/endpointproxy?endpointId="+id+"&api-version=7.1-preview.1", basic(ts.pat), map[string]any{
		"dataSourceDetails": map[string]string{"dataSourceName": "TestConnection"}, "resultTransformationDetails": map[string]any{},
	}, &res, 200)
	return res.StatusCode, res.ErrorMessage
}

func (ts *tutorialServer) build(id int) *build.Build {
	ts.t.Helper()
	ctx := context.Background()
	bc, err := build.NewClient(ctx, devopsConn(ts.e, ts.pat))
	if err != nil {
		ts.t.Fatal(err)
	}
	b, err := bc.GetBuild(ctx, build.GetBuildArgs{Project: ptr("webapp"), BuildId: &id})
	if err != nil {
		ts.t.Fatal(err)
	}
	return b
}

func (ts *tutorialServer) logs(id int) string {
	ts.t.Helper()
	ctx := context.Background()
	bc, _ := build.NewClient(ctx, devopsConn(ts.e, ts.pat))
	list, err := bc.GetBuildLogs(ctx, build.GetBuildLogsArgs{Project: ptr("webapp"), BuildId: &id})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, l := range *list {
		lines, err := bc.GetBuildLogLines(ctx, build.GetBuildLogLinesArgs{Project: ptr("webapp"), BuildId: &id, LogId: l.Id})
		if err == nil {
			b.WriteString(strings.Join(*lines, "\n") + "\n")
		}
	}
	return b.String()
}

func (ts *tutorialServer) finish(id int) *build.Build {
	ts.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		b := ts.build(id)
		if *b.Status == build.BuildStatusValues.Completed {
			return b
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("run %d did not complete (status %s)\n%s", id, *b.Status, ts.logs(id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTutorialOnServer walks tutorial-flow.md §1–§5 on the real server with both
// identity alternatives: a user-assigned managed identity used directly, then the same
// identity federated with the connection (workload identity federation).
func TestTutorialOnServer(t *testing.T) {
	const secret = "tutorial-Secret-value-42"
	ts := newTutorialServer(t)
	ts.vaultWithSecret(secret)
	clientID, principalID := ts.identity("pipeline")
	ts.policy(principalID, "get", "list")

	t.Run("managed identity", func(t *testing.T) {
		id, _ := ts.connection("ManagedServiceIdentity", map[string]string{"serviceprincipalid": clientID})
		if status, msg := ts.verify(id); status == "ok" || !strings.Contains(msg, "grant the identity Reader on the subscription") {
			t.Errorf("verify without Reader = %s %q", status, msg)
		}
		ts.reader(principalID)
		if status, msg := ts.verify(id); status != "ok" {
			t.Fatalf("verify = %s %q", status, msg)
		}
		// The first run waits for the pipeline's permission; Permit sends this PATCH.
		run := queue(t, ts.e, ts.pat, ts.pipe, nil)
		time.Sleep(500 * time.Millisecond)
		if b := ts.build(run); *b.Status != build.BuildStatusValues.NotStarted {
			t.Fatalf("run status before the permission = %s, want notStarted", *b.Status)
		}
		ts.call("PATCH", "/fabrikam/webapp/_apis/pipelines/pipelinePermissions/endpoint/"+id+"?api-version=7.1-preview.1", basic(ts.pat),
			map[string]any{"pipelines": []any{map[string]any{"id": ts.pipe, "authorized": true}}}, nil, 200)
		b := ts.finish(run)
		logs := ts.logs(run)
		if *b.Result != build.BuildResultValues.Succeeded || !strings.Contains(logs, "echo *** > secret.txt") || strings.Contains(logs, secret) {
			t.Fatalf("run: %s\n%s", *b.Result, logs)
		}
		ts.call("DELETE", "/fabrikam/_apis/serviceendpoint/endpoints/"+id+"?projectIds=webapp&api-version=7.1", basic(ts.pat), nil, nil, 204)
	})

	t.Run("workload identity federation", func(t *testing.T) {
		id, shown := ts.connection("WorkloadIdentityFederation", map[string]string{"serviceprincipalid": clientID})
		issuer, subject := shown["workloadIdentityFederationIssuer"], shown["workloadIdentityFederationSubject"]
		if !strings.HasPrefix(issuer, ts.e.URL+"/_oidc/") || subject != "sc://fabrikam/webapp/kv-connection" {
			t.Fatalf("shown issuer %q subject %q", issuer, subject)
		}
		if status, msg := ts.verify(id); status == "ok" || !strings.Contains(msg, "The identity has no federated credentials: add one with issuer") {
			t.Errorf("verify without a federated credential = %s %q", status, msg)
		}
		ts.call("PUT", ts.rg()+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pipeline/federatedIdentityCredentials/devops?api-version=2023-01-31", ts.arm,
			map[string]any{"properties": map[string]any{"issuer": issuer, "subject": subject, "audiences": []string{"api://AzureADTokenExchange"}}}, nil, 0)
		if status, msg := ts.verify(id); status != "ok" {
			t.Fatalf("verify = %s %q", status, msg)
		}
		ts.call("PATCH", "/fabrikam/webapp/_apis/pipelines/pipelinePermissions/endpoint/"+id+"?api-version=7.1-preview.1", basic(ts.pat),
			map[string]any{"allPipelines": map[string]any{"authorized": true}}, nil, 200)
		run := queue(t, ts.e, ts.pat, ts.pipe, nil)
		b := ts.finish(run)
		logs := ts.logs(run)
		if *b.Result != build.BuildResultValues.Succeeded || !strings.Contains(logs, "Downloading secret value for: SECRET-NAME.") || strings.Contains(logs, secret) {
			t.Fatalf("run: %s\n%s", *b.Result, logs)
		}

		// §5: without the List permission the task fails with the service's 403 and the hint.
		ts.policy(principalID, "get")
		run = queue(t, ts.e, ts.pat, ts.pipe, nil)
		b = ts.finish(run)
		logs = ts.logs(run)
		if *b.Result != build.BuildResultValues.Failed || !strings.Contains(logs, "does not have secrets list permission on key vault") ||
			!strings.Contains(logs, "The specified Azure service connection needs to have Get, List secret management permissions on the selected key vault.") {
			t.Fatalf("run without list: %s\n%s", *b.Result, logs)
		}
	})
}
