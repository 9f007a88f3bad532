package devopshttp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelinepermissions"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelines"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/pipelineschecks"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/taskagent"

	"github.com/keystage/keystage/internal/devops"
)

func TestPipelinesAndDefinitions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, hs *harness) {
		ctx := context.Background()
		hs.project("Website")
		conn := hs.conn()
		// The Go client cannot send the configuration: create with a raw body.
		var created pipelineJSON
		hs.do("POST", "/fabrikam/Website/_apis/pipelines?api-version=7.1-preview.1", basic(hs.OwnerPAT), map[string]any{
			"name": "ci", "folder": `\`,
			"configuration": map[string]any{"type": "yaml", "path": "/azure-pipelines.yml",
				"repository": map[string]any{"type": "git", "url": "https://example.com/r.git", "defaultBranch": "main"}},
		}, 200, &created)
		if created.Configuration == nil || created.Configuration.Path != "azure-pipelines.yml" || created.Revision != 1 {
			t.Fatalf("created = %+v", created)
		}
		r := hs.send("POST", "/fabrikam/Website/_apis/pipelines?api-version=7.1-preview.1", basic(hs.OwnerPAT),
			map[string]any{"name": "x", "configuration": map[string]any{"type": "yaml"}})
		if r.Status != 400 {
			t.Errorf("configuration without path = %d %s", r.Status, r.Body)
		}

		pc := pipelines.NewClient(ctx, conn)
		got, err := pc.GetPipeline(ctx, pipelines.GetPipelineArgs{Project: ptr("website"), PipelineId: &created.ID})
		if err != nil || *got.Name != "ci" || *got.Configuration.Type != pipelines.ConfigurationTypeValues.Yaml {
			t.Fatalf("GetPipeline = %+v, %v", got, err)
		}
		_, err = pc.GetPipeline(ctx, pipelines.GetPipelineArgs{Project: ptr("website"), PipelineId: ptr(999)})
		var we azuredevops.WrappedError
		if !errors.As(err, &we) || *we.StatusCode != 404 || *we.TypeKey != "DefinitionNotExistsException" {
			t.Errorf("missing pipeline: %#v", err)
		}

		bc, err := build.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		classic, err := bc.CreateDefinition(ctx, build.CreateDefinitionArgs{Project: ptr("Website"), Definition: &build.BuildDefinition{
			Name: ptr("classic"), Path: ptr(`\team`),
			Repository: &build.BuildRepository{Type: ptr("Git"), Url: ptr("https://example.com/r.git"), DefaultBranch: ptr("refs/heads/main")},
			Process: map[string]any{"type": 1, "phases": []any{map[string]any{
				"name": "Agent job 1", "refName": "Job_1",
				"target": map[string]any{"type": 1, "demands": []string{"Agent.OS -equals Linux"}},
				"steps": []any{
					map[string]any{"displayName": "Azure Key Vault", "enabled": true,
						"task":   map[string]any{"id": "1e244d32-2dd4-4165-96fb-b7441ca9331e", "versionSpec": "2.*", "definitionType": "task"},
						"inputs": map[string]string{"azureSubscription": "sc", "KeyVaultName": "kv", "SecretsFilter": "*", "RunAsPreJob": "false"}},
					map[string]any{"displayName": "Create file",
						"task":   map[string]any{"id": "d9bafed4-0b18-4f58-968d-86655b4d2ce9", "versionSpec": "2.*"},
						"inputs": map[string]string{"script": "echo $(s) > secret.txt"}},
				},
			}}},
			Variables: &map[string]build.BuildDefinitionVariable{"pw": {Value: ptr("hunter2"), IsSecret: ptr(true)}, "v": {Value: ptr("1")}},
			Triggers:  &[]any{map[string]any{"triggerType": "continuousIntegration", "settingsSourceType": 2}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if (*classic.Variables)["pw"].Value != nil || *(*classic.Variables)["v"].Value != "1" {
			t.Errorf("variables = %+v: a secret's value must come back null", *classic.Variables)
		}
		if classic.Queue == nil || *classic.Queue.Name != devops.DefaultHostedPoolName || classic.Queue.Pool == nil {
			t.Errorf("queue = %+v", classic.Queue)
		}
		if classic.Triggers == nil || len(*classic.Triggers) != 1 {
			t.Errorf("triggers not kept: %+v", classic.Triggers)
		}
		def, err := hs.svc.Definition(ctx, hs.org, classic.Project.Id.String(), *classic.Id)
		if err != nil {
			t.Fatal(err)
		}
		steps := def.Process.Phases[0].Steps
		if def.Kind != devops.DefinitionClassic || steps[0].Task.Name != "AzureKeyVault" || steps[1].Task.String() != "CmdLine@2" || !steps[1].Enabled {
			t.Errorf("stored classic process = %+v", def.Process)
		}

		// Update with the definition as read: the secret value is kept.
		full, err := bc.GetDefinition(ctx, build.GetDefinitionArgs{Project: ptr("Website"), DefinitionId: classic.Id})
		if err != nil {
			t.Fatal(err)
		}
		full.Description = ptr("edited")
		upd, err := bc.UpdateDefinition(ctx, build.UpdateDefinitionArgs{Project: ptr("Website"), DefinitionId: classic.Id, Definition: full})
		if err != nil || *upd.Revision != 2 {
			t.Fatalf("UpdateDefinition = %+v, %v", upd, err)
		}
		if def, _ := hs.svc.Definition(ctx, hs.org, def.ProjectID, def.ID); def.Variables["pw"].Value != "hunter2" {
			t.Errorf("secret lost on update: %+v", def.Variables)
		}
		if _, err := bc.UpdateDefinition(ctx, build.UpdateDefinitionArgs{Project: ptr("Website"), DefinitionId: classic.Id, Definition: full}); err == nil {
			t.Error("an update on a stale revision succeeded")
		}

		for i := 0; i < 3; i++ {
			if _, err := bc.CreateDefinition(ctx, build.CreateDefinitionArgs{Project: ptr("Website"), Definition: &build.BuildDefinition{
				Name: ptr(fmt.Sprintf("y%d", i)), Repository: &build.BuildRepository{Type: ptr("Local"), Url: ptr("/srv/repo")},
				Process: map[string]any{"type": 2, "yamlFilename": "ci.yml"},
			}}); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		args := build.GetDefinitionsArgs{Project: ptr("Website"), Top: ptr(2)}
		for i := 0; i < 5; i++ {
			page, err := bc.GetDefinitions(ctx, args)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Value {
				names = append(names, *d.Name)
			}
			if page.ContinuationToken == "" {
				break
			}
			args.ContinuationToken = &page.ContinuationToken
		}
		if fmt.Sprint(names) != "[ci classic y0 y1 y2]" {
			t.Errorf("definitions by path = %v", names)
		}
		yamlOnly, err := bc.GetDefinitions(ctx, build.GetDefinitionsArgs{Project: ptr("Website"), Name: ptr("Y*")})
		if err != nil || len(yamlOnly.Value) != 3 {
			t.Errorf("name filter = %d, %v", len(yamlOnly.Value), err)
		}
		list, err := pc.ListPipelines(ctx, pipelines.ListPipelinesArgs{Project: ptr("Website"), OrderBy: ptr("name desc")})
		if err != nil || len(*list) != 5 || *(*list)[0].Name != "y2" {
			t.Fatalf("ListPipelines = %+v, %v", list, err)
		}
		if err := bc.DeleteDefinition(ctx, build.DeleteDefinitionArgs{Project: ptr("Website"), DefinitionId: classic.Id}); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.GetDefinition(ctx, build.GetDefinitionArgs{Project: ptr("Website"), DefinitionId: classic.Id}); err == nil {
			t.Error("deleted definition still found")
		}
	})
}

// TestPipelinePermissions is devops.md §8.13: the new API and the legacy build views show
// one state.
func TestPipelinePermissions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, hs *harness) {
		ctx := context.Background()
		p := hs.project("Website")
		conn := hs.conn()
		bc, err := build.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		d, err := bc.CreateDefinition(ctx, build.CreateDefinitionArgs{Project: ptr("Website"), Definition: &build.BuildDefinition{
			Name: ptr("ci"), Repository: &build.BuildRepository{Type: ptr("Git"), Url: ptr("https://example.com/r.git")},
			Process: map[string]any{"type": 2, "yamlFilename": "azure-pipelines.yml"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		e, err := hs.svc.CreateEndpoint(ctx, hs.org, hs.org.CreatedBy, devops.EndpointInput{
			Name: "sc", Type: "AzureRM", Scheme: "WorkloadIdentityFederation",
			Parameters: map[string]string{"tenantid": testTenant, "serviceprincipalid": clientID},
			Data:       map[string]string{"subscriptionId": subscriptionID}, Projects: []devops.EndpointProjectInput{{Project: p.ID}},
		})
		if err != nil {
			t.Fatal(err)
		}
		pp, err := pipelinepermissions.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		get := func() *pipelinepermissions.ResourcePipelinePermissions {
			t.Helper()
			got, err := pp.GetPipelinePermissionsForResource(ctx, pipelinepermissions.GetPipelinePermissionsForResourceArgs{
				Project: ptr("Website"), ResourceType: ptr("endpoint"), ResourceId: ptr(e.ID),
			})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		fresh := get()
		if len(*fresh.Pipelines) != 0 || fresh.AllPipelines != nil || *fresh.Resource.Name != "sc" {
			t.Fatalf("fresh = %+v", fresh)
		}
		upd, err := pp.UpdatePipelinePermisionsForResource(ctx, pipelinepermissions.UpdatePipelinePermisionsForResourceArgs{
			Project: ptr("Website"), ResourceType: ptr("endpoint"), ResourceId: ptr(e.ID),
			ResourceAuthorization: &pipelinepermissions.ResourcePipelinePermissions{
				Pipelines: &[]pipelinepermissions.PipelinePermission{{Id: d.Id, Authorized: ptr(true)}},
			},
		})
		if err != nil || len(*upd.Pipelines) != 1 || !*(*upd.Pipelines)[0].Authorized || (*upd.Pipelines)[0].AuthorizedBy == nil {
			t.Fatalf("per-pipeline update = %+v, %v", upd, err)
		}
		res, err := bc.GetDefinitionResources(ctx, build.GetDefinitionResourcesArgs{Project: ptr("Website"), DefinitionId: d.Id})
		if err != nil || len(*res) != 1 || *(*res)[0].Id != e.ID || !*(*res)[0].Authorized {
			t.Fatalf("definition resources = %+v, %v", res, err)
		}
		if _, err := pp.UpdatePipelinePermisionsForResource(ctx, pipelinepermissions.UpdatePipelinePermisionsForResourceArgs{
			Project: ptr("Website"), ResourceType: ptr("endpoint"), ResourceId: ptr(e.ID),
			ResourceAuthorization: &pipelinepermissions.ResourcePipelinePermissions{AllPipelines: &pipelinepermissions.Permission{Authorized: ptr(true)}},
		}); err != nil {
			t.Fatal(err)
		}
		both := get()
		if both.AllPipelines == nil || !*both.AllPipelines.Authorized || len(*both.Pipelines) != 1 {
			t.Fatalf("GET reflects both: %+v", both)
		}
		projRes, err := bc.GetProjectResources(ctx, build.GetProjectResourcesArgs{Project: ptr("Website"), Type: ptr("endpoint"), Id: ptr(e.ID)})
		if err != nil || len(*projRes) != 1 || !*(*projRes)[0].Authorized {
			t.Fatalf("project resources = %+v, %v", projRes, err)
		}
		// The legacy toggle changes the same state.
		if _, err := bc.AuthorizeProjectResources(ctx, build.AuthorizeProjectResourcesArgs{Project: ptr("Website"), Resources: &[]build.DefinitionResourceReference{
			{Type: ptr("endpoint"), Id: ptr(e.ID), Authorized: ptr(false)},
		}}); err != nil {
			t.Fatal(err)
		}
		if after := get(); *after.AllPipelines.Authorized {
			t.Errorf("allPipelines after the legacy revoke = %+v", after.AllPipelines)
		}
		if _, err := bc.AuthorizeDefinitionResources(ctx, build.AuthorizeDefinitionResourcesArgs{Project: ptr("Website"), DefinitionId: d.Id,
			Resources: &[]build.DefinitionResourceReference{{Type: ptr("endpoint"), Id: ptr(e.ID), Authorized: ptr(false)}}}); err != nil {
			t.Fatal(err)
		}
		if after := get(); *(*after.Pipelines)[0].Authorized {
			t.Errorf("pipeline entry after the legacy revoke = %+v", (*after.Pipelines)[0])
		}
		// Batch through the collection route.
		queues, _ := hs.svc.Queues(ctx, hs.org, p.ID)
		batch, err := pp.UpdatePipelinePermisionsForResources(ctx, pipelinepermissions.UpdatePipelinePermisionsForResourcesArgs{
			Project: ptr("Website"), ResourceAuthorizations: &[]pipelinepermissions.ResourcePipelinePermissions{
				{Resource: resourceRef("queue", strconv.Itoa(queues[0].ID)), AllPipelines: &pipelinepermissions.Permission{Authorized: ptr(true)}},
				{Resource: resourceRef("environment", "7"), Pipelines: &[]pipelinepermissions.PipelinePermission{{Id: d.Id, Authorized: ptr(true)}}},
			},
		})
		if err != nil || len(*batch) != 2 || *(*batch)[0].Resource.Name != queues[0].Name {
			t.Fatalf("batch = %+v, %v", batch, err)
		}
	})
}

// TestPoolsAndQueues is devops.md §8.14 as far as registration goes (agents register
// through the orchestrator's protocol; here through the domain).
func TestPoolsAndQueues(t *testing.T) {
	forEachBackend(t, func(t *testing.T, hs *harness) {
		ctx := context.Background()
		p := hs.project("Website")
		hosted, err := hs.svc.PoolByName(ctx, hs.org, devops.DefaultHostedPoolName)
		if err != nil {
			t.Fatal(err)
		}
		a, err := hs.svc.RegisterAgent(ctx, hs.org, hosted.ID, devops.AgentRegistration{
			Name: "agent-1", Version: "4.0.0", SystemCapabilities: map[string]string{"Agent.OS": "Linux"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hs.svc.SetAgentStatus(ctx, hs.org, hosted.ID, a.ID, true); err != nil {
			t.Fatal(err)
		}
		ta, err := taskagent.NewClient(ctx, hs.conn())
		if err != nil {
			t.Fatal(err)
		}
		pools, err := ta.GetAgentPools(ctx, taskagent.GetAgentPoolsArgs{})
		if err != nil || len(*pools) != 2 {
			t.Fatalf("pools = %+v, %v", pools, err)
		}
		byName, err := ta.GetAgentPools(ctx, taskagent.GetAgentPoolsArgs{PoolName: ptr("azure pipelines")})
		if err != nil || len(*byName) != 1 || *(*byName)[0].Size != 1 || !*(*byName)[0].IsHosted {
			t.Fatalf("pool by name = %+v, %v", byName, err)
		}
		agents, err := ta.GetAgents(ctx, taskagent.GetAgentsArgs{PoolId: &hosted.ID, IncludeCapabilities: ptr(true)})
		if err != nil || len(*agents) != 1 {
			t.Fatalf("agents = %+v, %v", agents, err)
		}
		ag := (*agents)[0]
		if *ag.Status != taskagent.TaskAgentStatusValues.Online || (*ag.SystemCapabilities)["Agent.OS"] != "Linux" {
			t.Errorf("agent = %+v", ag)
		}
		if none, _ := ta.GetAgents(ctx, taskagent.GetAgentsArgs{PoolId: &hosted.ID, Demands: &[]string{"Agent.OS -equals Windows_NT"}}); len(*none) != 0 {
			t.Errorf("demand filter kept %d agents", len(*none))
		}
		if linux, err := ta.GetAgents(ctx, taskagent.GetAgentsArgs{PoolId: &hosted.ID, Demands: &[]string{"agent.os -equals linux"}}); err != nil || len(*linux) != 1 {
			t.Errorf("case-insensitive demand: %v agents, %v", linux, err)
		}
		// An operator the dispatcher does not know is an error, not an empty list.
		if _, err := ta.GetAgents(ctx, taskagent.GetAgentsArgs{PoolId: &hosted.ID, Demands: &[]string{"Agent.Version -gtVersion 2.0"}}); err == nil {
			t.Error("an unsupported demand operator was accepted")
		}
		one, err := ta.GetAgent(ctx, taskagent.GetAgentArgs{PoolId: &hosted.ID, AgentId: &a.ID})
		if err != nil || *one.Name != "agent-1" || one.SystemCapabilities != nil {
			t.Fatalf("GetAgent = %+v, %v", one, err)
		}
		queues, err := ta.GetAgentQueues(ctx, taskagent.GetAgentQueuesArgs{Project: ptr("Website")})
		if err != nil || len(*queues) != 2 {
			t.Fatalf("queues = %+v, %v", queues, err)
		}
		for _, q := range *queues {
			if q.Pool == nil || q.Pool.Id == nil || q.ProjectId == nil || q.ProjectId.String() != p.ID {
				t.Errorf("queue = %+v", q)
			}
		}
		q, err := ta.GetAgentQueue(ctx, taskagent.GetAgentQueueArgs{Project: ptr(p.ID), QueueId: (*queues)[1].Id})
		if err != nil || *q.Name != *(*queues)[1].Name {
			t.Fatalf("GetAgentQueue = %+v, %v", q, err)
		}
		if _, err := ta.GetAgentPool(ctx, taskagent.GetAgentPoolArgs{PoolId: ptr(999)}); err == nil {
			t.Error("missing pool found")
		}
	})
}

func resourceRef(typ, id string) *pipelineschecks.Resource {
	return &pipelineschecks.Resource{Type: &typ, Id: &id}
}
