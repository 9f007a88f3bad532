package devops

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/fault"
)

func TestPipelinePermissionsAndLegacyViews(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	d1 := f.definition(t, org, p, "one")
	d2 := f.definition(t, org, p, "two")
	e, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("sc", p.ID))
	if err != nil {
		t.Fatal(err)
	}

	rp, err := f.svc.PipelinePermissions(ctx, org, p.ID, "Endpoint", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rp.ResourceType != ResourceEndpoint || rp.ResourceName != "sc" || rp.AllPipelines != nil || len(rp.Pipelines) != 0 || rp.Authorizes(d1.ID) {
		t.Fatalf("fresh permissions = %+v", rp)
	}

	rp, err = f.svc.UpdatePipelinePermissions(ctx, org, p.ID, ResourceEndpoint, e.ID, owner,
		PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: d1.ID, Authorized: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if !rp.Authorizes(d1.ID) || rp.Authorizes(d2.ID) || rp.Pipelines[0].AuthorizedBy != owner {
		t.Fatalf("after authorizing one: %+v", rp)
	}
	// The legacy per-definition view shows the same.
	refs, err := f.svc.DefinitionResources(ctx, org, p.ID, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []ResourceReference{{Type: ResourceEndpoint, ID: e.ID, Name: "sc", Authorized: true}}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("definition resources (-want +got):\n%s", diff)
	}
	if refs, _ := f.svc.DefinitionResources(ctx, org, p.ID, d2.ID); len(refs) != 0 {
		t.Errorf("d2 resources = %v", refs)
	}
	if refs, _ := f.svc.AuthorizedResources(ctx, org, p.ID, "", ""); len(refs) != 0 {
		t.Errorf("project resources before allPipelines = %v", refs)
	}

	// Legacy project authorization sets allPipelines, which wins for every pipeline.
	refs, err = f.svc.AuthorizeProjectResources(ctx, org, p.ID, admin, []ResourceReference{{Type: "endpoint", ID: e.ID, Authorized: true}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("authorize project resources (-want +got):\n%s", diff)
	}
	if ok, err := f.svc.IsPipelineAuthorized(ctx, org, p.ID, ResourceEndpoint, e.ID, d2.ID); err != nil || !ok {
		t.Errorf("d2 with allPipelines: %v, %v", ok, err)
	}
	rp, _ = f.svc.PipelinePermissions(ctx, org, p.ID, ResourceEndpoint, e.ID)
	if rp.AllPipelines == nil || !rp.AllPipelines.Authorized || rp.AllPipelines.AuthorizedBy != admin {
		t.Errorf("allPipelines = %+v", rp.AllPipelines)
	}
	if refs, _ := f.svc.AuthorizedResources(ctx, org, p.ID, "endpoint", e.ID); len(refs) != 1 || !refs[0].Authorized {
		t.Errorf("authorized resources = %v", refs)
	}

	// Revoking through the new API shows in the legacy view.
	no := false
	if _, err := f.svc.UpdatePipelinePermissions(ctx, org, p.ID, ResourceEndpoint, e.ID, owner, PermissionUpdate{AllPipelines: &no}); err != nil {
		t.Fatal(err)
	}
	if refs, _ := f.svc.AuthorizedResources(ctx, org, p.ID, "endpoint", ""); len(refs) != 1 || refs[0].Authorized {
		t.Errorf("after revoking: %v", refs)
	}
	if ok, _ := f.svc.IsPipelineAuthorized(ctx, org, p.ID, ResourceEndpoint, e.ID, d2.ID); ok {
		t.Error("d2 still authorized")
	}

	// Deleting a definition forgets its entries.
	if err := f.svc.DeleteDefinition(ctx, org, p.ID, d1.ID); err != nil {
		t.Fatal(err)
	}
	rp, _ = f.svc.PipelinePermissions(ctx, org, p.ID, ResourceEndpoint, e.ID)
	if len(rp.Pipelines) != 0 {
		t.Errorf("entries of a deleted pipeline: %+v", rp.Pipelines)
	}
}

func TestPipelinePermissionsValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	other := f.project(t, org, "other")
	d := f.definition(t, org, p, "ci")
	e, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("sc", other.ID))
	if err != nil {
		t.Fatal(err)
	}
	queues, _ := f.svc.Queues(ctx, org, p.ID)
	tests := []struct {
		name, typ, id string
		kind          fault.Kind
	}{
		{"unknown type", "securefile", "1", fault.BadRequest},
		{"endpoint of another project", "endpoint", e.ID, fault.NotFound},
		{"endpoint not a guid", "endpoint", "x", fault.NotFound},
		{"unknown queue", "queue", "999", fault.NotFound},
		{"queue not a number", "queue", "01", fault.NotFound},
		{"opaque id with slash", "environment", "a/b", fault.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.PipelinePermissions(ctx, org, p.ID, tc.typ, tc.id)
			wantKind(t, err, tc.kind, "")
		})
	}
	q := fmt.Sprint(queues[0].ID)
	rp, err := f.svc.UpdatePipelinePermissions(ctx, org, p.ID, "queue", q, owner, PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: d.ID, Authorized: true}}})
	if err != nil || rp.ResourceName != queues[0].Name {
		t.Fatalf("queue permissions: %+v, %v", rp, err)
	}
	if _, err := f.svc.UpdatePipelinePermissions(ctx, org, p.ID, "queue", q, owner, PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: 999}}}); !fault.Is(err, fault.NotFound) {
		t.Errorf("unknown pipeline: %v", err)
	}
	// A batch is all or nothing.
	yes := true
	_, err = f.svc.UpdatePipelinePermissionsBatch(ctx, org, p.ID, owner, []ResourcePermissionsUpdate{
		{ResourceType: "environment", ResourceID: "7", PermissionUpdate: PermissionUpdate{AllPipelines: &yes}},
		{ResourceType: "queue", ResourceID: "999", PermissionUpdate: PermissionUpdate{AllPipelines: &yes}},
	})
	if !fault.Is(err, fault.NotFound) {
		t.Fatalf("batch with a bad entry: %v", err)
	}
	if refs, _ := f.svc.AuthorizedResources(ctx, org, p.ID, "environment", ""); len(refs) != 0 {
		t.Errorf("partial batch was applied: %v", refs)
	}
	out, err := f.svc.UpdatePipelinePermissionsBatch(ctx, org, p.ID, owner, []ResourcePermissionsUpdate{
		{ResourceType: "environment", ResourceID: "7", PermissionUpdate: PermissionUpdate{AllPipelines: &yes}},
		{ResourceType: "repository", ResourceID: p.ID + ".abc", PermissionUpdate: PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: d.ID, Authorized: true}}}},
	})
	if err != nil || len(out) != 2 || out[0].ResourceName != "7" {
		t.Fatalf("batch = %+v, %v", out, err)
	}
}

func TestPoolsQueuesAgents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")

	pool, err := f.svc.PoolForVMImage(ctx, org, "Ubuntu-Latest")
	if err != nil || pool.Name != DefaultHostedPoolName {
		t.Fatalf("PoolForVMImage(ubuntu) = %+v, %v", pool, err)
	}
	if _, err := f.svc.PoolForVMImage(ctx, org, "windows-latest"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("vmImage mapped to a missing pool: %v", err)
	}
	win, err := f.svc.AddPool(ctx, org, admin, NewPool{Name: "Windows", AutoProvision: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.PoolForVMImage(ctx, org, "WINDOWS-latest"); err != nil || got.ID != win.ID {
		t.Fatalf("PoolForVMImage(windows) = %+v, %v", got, err)
	}
	if _, err := f.svc.QueueByName(ctx, org, p.ID, "windows"); err != nil {
		t.Errorf("auto-provisioned queue: %v", err)
	}
	if _, err := f.svc.AddPool(ctx, org, admin, NewPool{Name: "WINDOWS"}); !fault.Is(err, fault.Conflict) {
		t.Errorf("duplicate pool: %v", err)
	}
	if _, err := f.svc.AddPool(ctx, org, admin, NewPool{Name: "manual"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.QueueByName(ctx, org, p.ID, "manual"); !fault.Is(err, fault.NotFound) {
		t.Errorf("queue for a pool without auto-provisioning: %v", err)
	}

	reg := AgentRegistration{Name: "agent-1", Version: "4.0.0", SystemCapabilities: map[string]string{"Agent.OS": "Linux"}}
	a, err := f.svc.RegisterAgent(ctx, org, win.ID, reg)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != AgentOffline || !a.Enabled || a.MaxParallelism != 1 {
		t.Errorf("registered agent = %+v", a)
	}
	if _, err := f.svc.RegisterAgent(ctx, org, win.ID, reg); !fault.Is(err, fault.Conflict) {
		t.Errorf("duplicate agent: %v", err)
	}
	reg.Replace, reg.Version = true, "4.1.0"
	b, err := f.svc.RegisterAgent(ctx, org, win.ID, reg)
	if err != nil || b.ID != a.ID || b.Version != "4.1.0" {
		t.Fatalf("replace = %+v, %v", b, err)
	}
	f.clock.Advance(1)
	on, err := f.svc.SetAgentStatus(ctx, org, win.ID, a.ID, true)
	if err != nil || on.Status != AgentOnline || !on.StatusChangedOn.After(a.StatusChangedOn) {
		t.Fatalf("online = %+v, %v", on, err)
	}
	if again, _ := f.svc.SetAgentStatus(ctx, org, win.ID, a.ID, true); again.StatusChangedOn != on.StatusChangedOn {
		t.Error("a repeated status changed statusChangedOn")
	}
	got, err := f.svc.Pool(ctx, org, win.ID)
	if err != nil || got.Size != 1 {
		t.Errorf("pool size = %d, %v", got.Size, err)
	}
	if _, err := f.svc.Agents(ctx, org, 999); !fault.Is(err, fault.NotFound) {
		t.Errorf("agents of a missing pool: %v", err)
	}
	if _, err := f.svc.RegisterAgent(ctx, org, win.ID, AgentRegistration{Name: "a/b"}); !fault.Is(err, fault.BadRequest) {
		t.Errorf("bad agent name: %v", err)
	}

	if err := f.svc.DeletePool(ctx, org, pool.ID); !fault.Is(err, fault.BadRequest) {
		t.Errorf("deleting the hosted pool: %v", err)
	}
	if err := f.svc.DeletePool(ctx, org, win.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.QueueByName(ctx, org, p.ID, "windows"); !fault.Is(err, fault.NotFound) {
		t.Errorf("queue of a deleted pool: %v", err)
	}
	if _, err := f.svc.Agent(ctx, org, win.ID, a.ID); !fault.Is(err, fault.NotFound) {
		t.Errorf("agent of a deleted pool: %v", err)
	}
	// A pool of the same name can be added again, and the agent name is free.
	again, err := f.svc.AddPool(ctx, org, admin, NewPool{Name: "Windows"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegisterAgent(ctx, org, again.ID, AgentRegistration{Name: "agent-1"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteAgent(ctx, org, again.ID, 12345); !fault.Is(err, fault.NotFound) {
		t.Errorf("delete missing agent: %v", err)
	}
}

// TestPermissionsChangeHooks checks that every way of changing pipeline permissions tells
// the registered hooks (runs waiting for a permission resume on it), and a failed change
// does not.
func TestPermissionsChangeHooks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	d := f.definition(t, org, p, "one")
	e, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("sc", p.ID))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	f.svc.OnPermissionsChange(func() { calls++ })
	allow := PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: d.ID, Authorized: true}}}
	steps := []struct {
		name string
		fn   func() error
		want int
	}{
		{"single", func() error {
			_, err := f.svc.UpdatePipelinePermissions(ctx, org, p.ID, ResourceEndpoint, e.ID, owner, allow)
			return err
		}, 1},
		{"batch", func() error {
			_, err := f.svc.UpdatePipelinePermissionsBatch(ctx, org, p.ID, owner, []ResourcePermissionsUpdate{{ResourceEndpoint, e.ID, allow}})
			return err
		}, 2},
		{"legacy definition view", func() error {
			_, err := f.svc.AuthorizeDefinitionResources(ctx, org, p.ID, d.ID, owner, []ResourceReference{{Type: "endpoint", ID: e.ID, Authorized: true}})
			return err
		}, 3},
		{"failed update", func() error {
			_, err := f.svc.UpdatePipelinePermissions(ctx, org, p.ID, ResourceEndpoint, e.ID, owner,
				PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: 99999, Authorized: true}}})
			if err == nil {
				return errors.New("authorizing an unknown pipeline succeeded")
			}
			return nil
		}, 3},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if calls != s.want {
			t.Errorf("after %s: hooks called %d times, want %d", s.name, calls, s.want)
		}
	}
}
