package azurerm_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/task"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/credential"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/keyvault"
)

// pausedJob is a running job that wrote its identity to files and waits for release.
type pausedJob struct {
	dir                       string
	token, planID, jobID      string
	projectID, oidcRequestURI string
}

// pausedYAML is a pipeline whose job writes System.AccessToken, System.PlanId,
// System.JobId and System.OidcRequestUri to dir, then waits until dir/release exists.
func pausedYAML(dir, connection string) string {
	return `pool: Default
steps:
- task: AzureKeyVault@2
  inputs:
    azureSubscription: ` + connection + `
    KeyVaultName: kv
    SecretsFilter: none-needed
  condition: false
- bash: |
    echo "$SYSTEM_ACCESSTOKEN" > ` + dir + `/token.tmp && mv ` + dir + `/token.tmp ` + dir + `/token
    echo "$(System.PlanId) $(System.JobId) $(System.TeamProjectId) $(System.OidcRequestUri)" > ` + dir + `/ids
    while [ ! -f ` + dir + `/release ]; do sleep 0.05; done
  env:
    SYSTEM_ACCESSTOKEN: $(System.AccessToken)
`
}

func waitPaused(t *testing.T, dir string) pausedJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		tok, err1 := os.ReadFile(filepath.Join(dir, "token"))
		ids, err2 := os.ReadFile(filepath.Join(dir, "ids"))
		if err1 == nil && err2 == nil && strings.HasSuffix(string(ids), "\n") {
			f := strings.Fields(string(ids))
			return pausedJob{dir: dir, token: strings.TrimSpace(string(tok)), planID: f[0], jobID: f[1], projectID: f[2], oidcRequestURI: f[3]}
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p pausedJob) release(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// createOidcToken calls the OIDC token endpoint with the Go client, as a job would.
func (s *stack) createOidcToken(ctx context.Context, jobToken, projectID, planID, jobID, connectionID string) (*task.TaskHubOidcToken, error) {
	conn := azuredevops.NewAnonymousConnection(s.orgURL)
	conn.AuthorizationString = "Bearer " + jobToken
	conn.TlsConfig = s.conn().TlsConfig
	tc := task.NewClient(ctx, conn)
	scope, plan, job := uuid.MustParse(projectID), uuid.MustParse(planID), uuid.MustParse(jobID)
	sc, err := uuid.Parse(connectionID)
	if err != nil {
		return nil, err
	}
	return tc.CreateOidcToken(ctx, task.CreateOidcTokenArgs{
		Claims: &map[string]string{}, ScopeIdentifier: &scope, HubName: ptr("build"), PlanId: &plan, JobId: &job, ServiceConnectionId: &sc,
	})
}

// TestOIDCTokenEndpoint covers identity.md §5 item 47 and the token's shape: a job's token
// gets OIDC tokens for the connections its pipeline may use, with Azure DevOps claims that
// the identity provider accepts; not for another connection, not through another job's
// URL, and not once the job has ended.
func TestOIDCTokenEndpoint(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	app, _ := s.App(t, "pipeline")
	conn := s.connection("kv-connection", "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID})
	locked := s.connection("locked", "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID})
	s.permitAll(conn.ID)
	subject := "sc://fabrikam/webapp/kv-connection"
	s.Federate(t, app.AppID, "pipeline", s.devops.WorkloadIdentityIssuer(s.org), subject)
	s.agent("Default", "agent-1")
	s.agent("Default", "agent-2")
	dir := t.TempDir()
	def := s.pipeline("paused", pausedYAML(dir, "kv-connection"))
	id := s.queue(def.ID)
	job := waitPaused(t, dir)
	if job.projectID != s.proj.ID || !strings.HasSuffix(job.oidcRequestURI, "/fabrikam/"+s.proj.ID+"/_apis/distributedtask/hubs/build/plans/"+job.planID+"/jobs/"+job.jobID+"/oidctoken") {
		t.Fatalf("job identity = %+v", job)
	}

	tok, err := s.createOidcToken(ctx, job.token, job.projectID, job.planID, job.jobID, conn.ID)
	if err != nil {
		t.Fatalf("CreateOidcToken: %v", err)
	}
	claims := decodeClaims(t, *tok.OidcToken)
	now := time.Now().Unix()
	if claims["iss"] != s.WorldIssuer() || claims["sub"] != subject || claims["aud"] != oidc.Audience || claims["jti"] == "" {
		t.Errorf("claims = %v", claims)
	}
	if exp := int64(claims["exp"].(float64)); exp-now < 240 || exp-now > 360 {
		t.Errorf("exp in %ds, want about 5 minutes", exp-now)
	}
	// Keystage's identity provider takes it for a federated credential with that issuer
	// and subject.
	cred, err := credential.New(credential.Connection{Scheme: "WorkloadIdentityFederation", Authority: s.URL, TenantID: s.Tenant, ClientID: app.AppID,
		Assertion: func(context.Context) (string, error) { return *tok.OidcToken, nil }}, s.Client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.Token(ctx, "https://vault.azure.net"); err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// Bodies: empty (azidentity) and null (the .NET agent) work like {}.
	for _, body := range []string{"", "null", "{}"} {
		r := s.raw(t, http.MethodPost, job.oidcRequestURI+"?api-version=7.1&serviceConnectionId="+conn.ID, "Bearer "+job.token, body)
		if r.status != 200 || !strings.Contains(r.body, `"oidcToken":"ey`) {
			t.Errorf("body %q: %d %s", body, r.status, r.body)
		}
	}
	// GET answers 405 as Azure DevOps does.
	r := s.raw(t, http.MethodGet, job.oidcRequestURI+"?api-version=7.1&serviceConnectionId="+conn.ID, "Bearer "+job.token, "")
	if r.status != 405 || r.body != `{"count":1,"value":{"Message":"The requested resource does not support http method 'GET'."}}` {
		t.Errorf("GET: %d %s", r.status, r.body)
	}

	refusals := []struct {
		name       string
		token      string
		job        string
		connection string
		status     int
		typeKey    string
	}{
		{"connection the pipeline may not use", job.token, job.jobID, locked.ID, 403, "ResourceNotAuthorizedException"},
		{"unknown connection", job.token, job.jobID, uuid.NewString(), 404, "ServiceEndpointNotFoundException"},
		{"another job's URL", job.token, uuid.NewString(), conn.ID, 403, "AccessCheckException"},
		{"not a job token", s.pat, job.jobID, conn.ID, 401, "UnauthorizedRequestException"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.createOidcToken(ctx, tc.token, job.projectID, job.planID, tc.job, tc.connection)
			var we azuredevops.WrappedError
			if !errors.As(err, &we) || we.StatusCode == nil || *we.StatusCode != tc.status || we.TypeKey == nil || *we.TypeKey != tc.typeKey {
				t.Fatalf("error = %#v, want %d %s", err, tc.status, tc.typeKey)
			}
			if strings.Contains(*we.Message, job.token) {
				t.Error("the error echoes the job token")
			}
		})
	}

	job.release(t)
	b := s.wait(id, 60*time.Second, completed)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("run: %s\n%s", *b.Result, s.logs(id))
	}
	if strings.Contains(s.logs(id), job.token) {
		t.Error("the job token appears in the logs")
	}
	// A job token is useless after its job (item 47).
	_, err = s.createOidcToken(ctx, job.token, job.projectID, job.planID, job.jobID, conn.ID)
	var we azuredevops.WrappedError
	if !errors.As(err, &we) || *we.StatusCode != 401 {
		t.Fatalf("token of an ended job: %v", err)
	}
	r = s.raw(t, http.MethodGet, s.orgURL+"/webapp/_apis/build/builds/"+strconv.Itoa(id), "Bearer "+job.token, "")
	if r.status != 401 {
		t.Errorf("ended job token on the builds API: %d %s", r.status, r.body)
	}
}

// WorldIssuer is the organization's issuer.
func (s *stack) WorldIssuer() string { return s.Issuer.IssuerURL(s.org.ID) }

func decodeClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type rawResponse struct {
	status int
	body   string
}

func (s *stack) raw(t *testing.T, method, url, authorization, body string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, string(b)}
}

// TestSchemesInJobs runs AzureKeyVault@2 through a service principal and a managed
// identity connection (their tokens come from the job-scoped token endpoint).
func TestSchemesInJobs(t *testing.T) {
	s := newStack(t)
	app, secret := s.App(t, "sp")
	mi := s.ManagedIdentity(t, "pipeline")
	s.vaults.Create(s.World, "kv")
	s.vaults.Grant(app.ServicePrincipalID, authz.SecretGet, authz.SecretList)
	s.vaults.Grant(mi.PrincipalID, authz.SecretGet)
	s.vaults.Set(t, "kv", "app-secret", "value-for-the-app", keyvault.SetParams{})
	sp := s.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret})
	msi := s.connection("mi-conn", "ManagedServiceIdentity", map[string]string{"serviceprincipalid": mi.ClientID})
	s.permitAll(sp.ID)
	s.permitAll(msi.ID)
	s.agent("Default", "agent-1")
	def := s.pipeline("schemes", `pool: Default
steps:
- task: AzureKeyVault@2
  inputs:
    azureSubscription: sp-conn
    KeyVaultName: kv
- task: AzureKeyVault@2
  inputs:
    azureSubscription: mi-conn
    KeyVaultName: kv
    SecretsFilter: app-secret
- task: AzureKeyVault@2
  displayName: Pre-job vault
  inputs:
    azureSubscription: mi-conn
    KeyVaultName: kv
    SecretsFilter: app-secret
    RunAsPreJob: true
- bash: echo "got $(app-secret)"
`)
	id := s.queue(def.ID)
	b := s.wait(id, 60*time.Second, completed)
	logs := s.logs(id)
	if *b.Result != build.BuildResultValues.Succeeded {
		t.Fatalf("run: %s\n%s", *b.Result, logs)
	}
	if !strings.Contains(logs, "got ***") || strings.Contains(logs, "value-for-the-app") {
		t.Errorf("secret not downloaded or not masked:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Error("the service principal key appears in the logs")
	}
	// A RunAsPreJob step downloads in its pre-job run, before checkout ("Pre-job: …"), and
	// its execution-phase run ends Skipped with Azure's message (task.complete
	// result=Skipped), as in Azure.
	results := map[string]string{}
	var order []string
	for _, r := range s.timeline(id) {
		if r.Name != nil && r.Result != nil && strings.Contains(*r.Name, "Pre-job vault") {
			results[*r.Name] = string(*r.Result)
		}
		if r.Name != nil && r.Type != nil && *r.Type == "Task" {
			order = append(order, *r.Name)
		}
	}
	if results["Pre-job: Pre-job vault"] != string(build.TaskResultValues.Succeeded) || results["Pre-job vault"] != string(build.TaskResultValues.Skipped) {
		t.Errorf("Pre-job vault records = %v, want the pre-job run Succeeded and the main run Skipped", results)
	}
	pre, checkout := slices.Index(order, "Pre-job: Pre-job vault"), slices.IndexFunc(order, func(n string) bool { return strings.HasPrefix(n, "Checkout") })
	if pre < 0 || checkout < 0 || pre > checkout {
		t.Errorf("task records in order %q; pre-job runs must come before checkout", order)
	}
}
