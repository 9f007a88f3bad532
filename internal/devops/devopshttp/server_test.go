package devopshttp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/operations"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelinepermissions"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/serviceendpoint"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/taskagent"

	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/devops/devopshttp"
	"github.com/keystage/keystage/internal/server/servertest"
)

// serverEnv is the real server with the administrator's credential.
type serverEnv struct {
	t     *testing.T
	e     *servertest.Env
	admin datadir.AdminCredential
	cred  azcore.TokenCredential
}

func newServerEnv(t *testing.T, e *servertest.Env) *serverEnv {
	t.Helper()
	admin := e.Admin
	cred, err := azidentity.NewClientSecretCredential(admin.TenantID, admin.ClientID, admin.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.URL + "/"}, Transport: e.Client},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &serverEnv{t: t, e: e, admin: admin, cred: cred}
}

// token gets an access token for scope from Keystage's identity provider.
func (s *serverEnv) token(scope string) string {
	s.t.Helper()
	tok, err := s.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.Token
}

func (s *serverEnv) do(method, path, auth string, body any, want int, out any) []byte {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.e.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	resp, err := s.e.Client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return raw
}

func (s *serverEnv) conn(orgURL, authorization string) *azuredevops.Connection {
	c := azuredevops.NewAnonymousConnection(orgURL)
	c.AuthorizationString = authorization
	c.TlsConfig = &tls.Config{RootCAs: s.e.CAPool}
	return c
}

func basicAuth(secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+secret))
}

func p[T any](v T) *T { return &v }

// TestServerGoClient drives the in-process server over HTTPS with the Azure DevOps Go
// API, on SQLite and PostgreSQL: devops.md §8 items 1–6, 11, 13 and 14.
func TestServerGoClient(t *testing.T) {
	servertest.Each(t, servertest.Options{}, func(t *testing.T, e *servertest.Env) {
		s := newServerEnv(t, e)
		ctx := context.Background()
		jwt := s.token(devopshttp.AzureDevOpsResource + "/.default")

		// The administrator creates the organization (Keystage's own API) …
		var org struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		s.do("POST", "/_apis/organizations", "Bearer "+jwt, map[string]any{"name": "Fabrikam"}, 201, &org)
		// … and a PAT for it (the PAT lifecycle API takes access tokens only).
		var pat struct {
			PatToken struct {
				Token string `json:"token"`
			} `json:"patToken"`
		}
		s.do("POST", "/fabrikam/_apis/tokens/pats", "Bearer "+jwt, map[string]string{"displayName": "go client"}, 200, &pat)
		orgURL := e.URL + "/FabriKAM" // §8.1: mixed case; the client lower-cases it

		// §8.3: PAT, Basic JWT and Bearer JWT all work; bad credentials are 401 JSON.
		for name, auth := range map[string]string{
			"pat": basicAuth(pat.PatToken.Token), "basic jwt": basicAuth(jwt), "bearer jwt": "Bearer " + jwt,
		} {
			client, err := core.NewClient(ctx, s.conn(orgURL, auth))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, err := client.GetProjects(ctx, core.GetProjectsArgs{}); err != nil {
				t.Fatalf("%s: GetProjects: %v", name, err)
			}
		}
		raw := s.do("GET", "/fabrikam/_apis/projects?api-version=7.1", "Bearer "+s.token("https://management.azure.com/.default"), nil, 401, nil)
		if !strings.Contains(string(raw), `"typeKey":"UnauthorizedRequestException"`) {
			t.Errorf("401 body %s", raw)
		}
		s.do("GET", "/fabrikam/_apis/projects?api-version=7.1", basicAuth(strings.Repeat("b", 52)), nil, 401, nil)

		// §8.2: OPTIONS lint.
		var locs struct {
			Count int                   `json:"count"`
			Value []devopshttp.Location `json:"value"`
		}
		s.do("OPTIONS", "/fabrikam/_apis", basicAuth(pat.PatToken.Token), nil, 200, &locs)
		if locs.Count != len(locs.Value) || locs.Count < 29 {
			t.Errorf("OPTIONS lists %d locations", locs.Count)
		}
		for _, l := range locs.Value {
			if l.MinVersion == "" || l.MaxVersion == "" || l.ReleasedVersion == "" || l.ResourceVersion < 1 {
				t.Errorf("location %s lacks a version field", l.ID)
			}
		}

		conn := s.conn(orgURL, basicAuth(pat.PatToken.Token))
		cc, err := core.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		// §8.4: not found is a value WrappedError with TypeKey and 404.
		_, err = cc.GetProject(ctx, core.GetProjectArgs{ProjectId: p("missing")})
		var we azuredevops.WrappedError
		if !errors.As(err, &we) || we.StatusCode == nil || *we.StatusCode != 404 || we.TypeKey == nil || *we.TypeKey == "" {
			t.Fatalf("GetProject(missing) = %#v", err)
		}
		// §8.5: create through an operation; capabilities on get.
		ops := operations.NewClient(ctx, conn)
		for _, name := range []string{"Website", "beta", "alpha"} {
			ref, err := cc.QueueCreateProject(ctx, core.QueueCreateProjectArgs{ProjectToCreate: &core.TeamProject{Name: p(name)}})
			if err != nil {
				t.Fatal(err)
			}
			op, err := ops.GetOperation(ctx, operations.GetOperationArgs{OperationId: ref.Id})
			if err != nil || *op.Status != operations.OperationStatusValues.Succeeded {
				t.Fatalf("operation = %+v, %v", op, err)
			}
		}
		web, err := cc.GetProject(ctx, core.GetProjectArgs{ProjectId: p("WEBSITE"), IncludeCapabilities: p(true)})
		if err != nil || (*web.Capabilities)["processTemplate"]["templateTypeId"] == "" {
			t.Fatalf("GetProject = %+v, %v", web, err)
		}
		// §8.6: integer continuation tokens.
		var names []string
		args := core.GetProjectsArgs{Top: p(2)}
		for i := 0; i < 4; i++ {
			page, err := cc.GetProjects(ctx, args)
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range page.Value {
				names = append(names, *pr.Name)
			}
			if page.ContinuationToken == "" {
				break
			}
			n, err := strconv.Atoi(page.ContinuationToken)
			if err != nil {
				t.Fatalf("token %q", page.ContinuationToken)
			}
			args.ContinuationToken = &n
		}
		if strings.Join(names, ",") != "alpha,beta,Website" {
			t.Errorf("paged projects %v", names)
		}

		// §8.11: service endpoint CRUD.
		se, err := serviceendpoint.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		refs := []serviceendpoint.ServiceEndpointProjectReference{{ProjectReference: &serviceendpoint.ProjectReference{Id: web.Id, Name: web.Name}}}
		created, err := se.CreateServiceEndpoint(ctx, serviceendpoint.CreateServiceEndpointArgs{Endpoint: &serviceendpoint.ServiceEndpoint{
			Name: p("kv-sc"), Type: p("azurerm"), Owner: p("library"),
			Authorization: &serviceendpoint.EndpointAuthorization{Scheme: p("WorkloadIdentityFederation"),
				Parameters: &map[string]string{"tenantid": s.admin.TenantID, "serviceprincipalid": s.admin.ClientID}},
			Data:                             &map[string]string{"subscriptionId": s.admin.SubscriptionID, "subscriptionName": "Default"},
			ServiceEndpointProjectReferences: &refs,
		}})
		if err != nil {
			t.Fatal(err)
		}
		params := *created.Authorization.Parameters
		if !*created.IsReady || params["workloadIdentityFederationIssuer"] != e.URL+"/_oidc/"+org.ID ||
			params["workloadIdentityFederationSubject"] != "sc://Fabrikam/Website/kv-sc" {
			t.Errorf("created endpoint %+v, parameters %v", created, params)
		}
		byName, err := se.GetServiceEndpointsByNames(ctx, serviceendpoint.GetServiceEndpointsByNamesArgs{Project: p("Website"), EndpointNames: &[]string{"kv-sc"}})
		if err != nil || len(*byName) != 1 {
			t.Fatalf("by name %v, %v", byName, err)
		}
		beta, err := cc.GetProject(ctx, core.GetProjectArgs{ProjectId: p("beta")})
		if err != nil {
			t.Fatal(err)
		}
		share := []serviceendpoint.ServiceEndpointProjectReference{{ProjectReference: &serviceendpoint.ProjectReference{Id: beta.Id, Name: beta.Name}, Name: p("kv-sc")}}
		if err := se.ShareServiceEndpoint(ctx, serviceendpoint.ShareServiceEndpointArgs{EndpointId: created.Id, EndpointProjectReferences: &share}); err != nil {
			t.Fatal(err)
		}
		got, err := se.GetServiceEndpointDetails(ctx, serviceendpoint.GetServiceEndpointDetailsArgs{Project: p("beta"), EndpointId: created.Id})
		if err != nil || !*got.IsShared {
			t.Fatalf("after share %+v, %v", got, err)
		}

		// §8.13: pipeline permissions and the legacy views agree.
		bc, err := build.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		def, err := bc.CreateDefinition(ctx, build.CreateDefinitionArgs{Project: p("Website"), Definition: &build.BuildDefinition{
			Name: p("ci"), Repository: &build.BuildRepository{Type: p("Git"), Url: p("https://example.com/r.git")},
			Process: map[string]any{"type": 2, "yamlFilename": "azure-pipelines.yml"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		pp, err := pipelinepermissions.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		perms, err := pp.GetPipelinePermissionsForResource(ctx, pipelinepermissions.GetPipelinePermissionsForResourceArgs{
			Project: p("Website"), ResourceType: p("endpoint"), ResourceId: p(created.Id.String())})
		if err != nil || len(*perms.Pipelines) != 0 {
			t.Fatalf("fresh permissions %+v, %v", perms, err)
		}
		if _, err := pp.UpdatePipelinePermisionsForResource(ctx, pipelinepermissions.UpdatePipelinePermisionsForResourceArgs{
			Project: p("Website"), ResourceType: p("endpoint"), ResourceId: p(created.Id.String()),
			ResourceAuthorization: &pipelinepermissions.ResourcePipelinePermissions{Pipelines: &[]pipelinepermissions.PipelinePermission{{Id: def.Id, Authorized: p(true)}}},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.AuthorizeProjectResources(ctx, build.AuthorizeProjectResourcesArgs{Project: p("Website"),
			Resources: &[]build.DefinitionResourceReference{{Type: p("endpoint"), Id: p(created.Id.String()), Authorized: p(true)}}}); err != nil {
			t.Fatal(err)
		}
		perms, err = pp.GetPipelinePermissionsForResource(ctx, pipelinepermissions.GetPipelinePermissionsForResourceArgs{
			Project: p("Website"), ResourceType: p("endpoint"), ResourceId: p(created.Id.String())})
		if err != nil || perms.AllPipelines == nil || !*perms.AllPipelines.Authorized || len(*perms.Pipelines) != 1 {
			t.Fatalf("permissions after both updates %+v, %v", perms, err)
		}
		defRes, err := bc.GetDefinitionResources(ctx, build.GetDefinitionResourcesArgs{Project: p("Website"), DefinitionId: def.Id})
		if err != nil || len(*defRes) != 1 || !*(*defRes)[0].Authorized {
			t.Fatalf("definition resources %+v, %v", defRes, err)
		}

		// §8.14: pools and queues (agents register through the agent protocol).
		ta, err := taskagent.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		pools, err := ta.GetAgentPools(ctx, taskagent.GetAgentPoolsArgs{})
		if err != nil || len(*pools) != 2 {
			t.Fatalf("pools %+v, %v", pools, err)
		}
		queues, err := ta.GetAgentQueues(ctx, taskagent.GetAgentQueuesArgs{Project: p("Website")})
		if err != nil || len(*queues) != 2 || (*queues)[0].Pool == nil || (*queues)[0].Pool.Id == nil {
			t.Fatalf("queues %+v, %v", queues, err)
		}

		// §8.11 end: delete from both projects, then GET answers 200 null.
		if err := se.DeleteServiceEndpoint(ctx, serviceendpoint.DeleteServiceEndpointArgs{EndpointId: created.Id,
			ProjectIds: &[]string{web.Id.String(), beta.Id.String()}}); err != nil {
			t.Fatal(err)
		}
		gone, err := se.GetServiceEndpointDetails(ctx, serviceendpoint.GetServiceEndpointDetailsArgs{Project: p("Website"), EndpointId: created.Id})
		if err != nil || gone.Id != nil {
			t.Fatalf("after delete %+v, %v", gone, err)
		}
		// Deleting the project goes through an operation and takes its definitions.
		ref, err := cc.QueueDeleteProject(ctx, core.QueueDeleteProjectArgs{ProjectId: web.Id})
		if err != nil {
			t.Fatal(err)
		}
		if ref.Id == nil || *ref.Id == uuid.Nil {
			t.Fatalf("delete operation %+v", ref)
		}
		if _, err := bc.GetDefinition(ctx, build.GetDefinitionArgs{Project: p(web.Id.String()), DefinitionId: def.Id}); err == nil {
			t.Error("the definition survived its project")
		}
	})
}
