package azurerm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelinepermissions"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/devops/oidc/oidctest"
	"github.com/keystage/keystage/internal/keyvault"
)

const tutorialSecret = "s3cr3t-Value-from-the-vault"

// TestTutorialWorkloadIdentityFederation walks tutorial-flow.md with an app registration
// federated with the connection: the first run waits for the pipeline's permission, then
// downloads the secret, masks it and publishes it; removing the access policy makes the
// next run fail with the Get/List hint.
func TestTutorialWorkloadIdentityFederation(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	app, _ := s.App(t, "pipeline")
	s.vaults.Create(s.World, "kv")
	s.vaults.Grant(app.ServicePrincipalID, authz.SecretGet, authz.SecretList)
	s.vaults.Set(t, "kv", "SECRET-NAME", tutorialSecret, keyvault.SetParams{})
	conn := s.connection("kv-connection", "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID})
	// The connection shows the issuer and subject to put on the federated credential.
	issuer, subject := s.devops.WorkloadIdentityIssuer(s.org), "sc://fabrikam/webapp/kv-connection"
	if got := s.Issuer.IssuerURL(s.org.ID); got != issuer {
		t.Fatalf("issuer shown %s, tokens signed as %s", issuer, got)
	}
	s.Federate(t, app.AppID, "kv-connection", issuer, subject)
	s.agent("Azure Pipelines", "agent-1")
	def := s.pipeline("tutorial", oidctest.TutorialPipeline("kv-connection", "kv"))

	id := s.queue(def.ID)
	// The run waits for permission, visibly.
	var waiting *build.TimelineRecord
	deadline := time.Now().Add(10 * time.Second)
	for waiting == nil && time.Now().Before(deadline) {
		for _, r := range s.timeline(id) {
			if r.Type != nil && *r.Type == "Checkpoint.Authorization" {
				r := r
				waiting = &r
			}
		}
		if waiting == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if waiting == nil {
		t.Fatalf("no Checkpoint.Authorization record; timeline: %+v", s.timeline(id))
	}
	if waiting.CurrentOperation == nil || !strings.HasPrefix(*waiting.CurrentOperation, "This pipeline needs permission to access a resource before this run can continue to ") {
		t.Errorf("checkpoint says %v", waiting.CurrentOperation)
	}
	if *waiting.State != build.TimelineRecordStateValues.InProgress {
		t.Errorf("checkpoint state = %v, want inProgress", *waiting.State)
	}
	if b := s.build(id); *b.Status != build.BuildStatusValues.NotStarted {
		t.Errorf("status while waiting = %s, want notStarted", *b.Status)
	}
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(s.logs(id), "Downloading secret value") {
		t.Fatal("the vault task ran before the pipeline was permitted")
	}

	// Permit: the pipelinePermissions PATCH the portal sends.
	pc, err := pipelinepermissions.NewClient(ctx, s.conn())
	if err != nil {
		t.Fatal(err)
	}
	_, err = pc.UpdatePipelinePermisionsForResource(ctx, pipelinepermissions.UpdatePipelinePermisionsForResourceArgs{
		Project: ptr("webapp"), ResourceType: ptr("endpoint"), ResourceId: ptr(conn.ID),
		ResourceAuthorization: &pipelinepermissions.ResourcePipelinePermissions{
			Pipelines: &[]pipelinepermissions.PipelinePermission{{Id: ptr(def.ID), Authorized: ptr(true)}},
		},
	})
	if err != nil {
		t.Fatalf("permit: %v", err)
	}
	b := s.wait(id, 60*time.Second, completed)
	logs := s.logs(id)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("run result %s\n%s", *b.Result, logs)
	}
	for _, want := range []string{
		"Number of secrets found in kv: 1",
		"Downloading secret value for: SECRET-NAME.",
		"echo *** > secret.txt",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, tutorialSecret) {
		t.Errorf("the secret appears in the logs:\n%s", logs)
	}
	if got := s.artifactFile(id, "drop", "secret.txt"); strings.TrimSpace(got) != tutorialSecret {
		t.Errorf("drop/secret.txt = %q, want the secret (artifacts are not masked)", got)
	}

	// Remembered: the next run does not wait.
	id2 := s.queue(def.ID)
	b = s.wait(id2, 60*time.Second, completed)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("second run: %s\n%s", *b.Result, s.logs(id2))
	}

	// Troubleshooting (§5): without the list permission the task fails with the hint.
	s.vaults.Grant(app.ServicePrincipalID, authz.SecretGet)
	id3 := s.queue(def.ID)
	b = s.wait(id3, 60*time.Second, completed)
	logs = s.logs(id3)
	if *b.Result != build.BuildResultValues.Failed {
		t.Fatalf("run without list permission: %s\n%s", *b.Result, logs)
	}
	if !strings.Contains(logs, "does not have secrets list permission on key vault 'kv;location=westeurope'") ||
		!strings.Contains(logs, "The specified Azure service connection needs to have Get, List secret management permissions on the selected key vault.") {
		t.Errorf("logs lack the permission hint:\n%s", logs)
	}
}
