package devops

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/fault"
)

func TestProjectNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"Fabrikam Fiber", true},
		{"proj-1.2", true},
		{"ünïcode", true},
		{"", false},
		{"_hidden", false},
		{".dot", false},
		{"dot.", false},
		{" space", false},
		{"a/b", false},
		{"a:b", false},
		{"a#b", false},
		{"tab\there", false},
		{"COM1", false},
		{"App_Data", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950e", false},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkProjectName(tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("checkProjectName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
}

func TestProjectLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p, op, err := f.svc.CreateProject(ctx, org, owner, NewProject{Name: "Website", Description: "d", Visibility: "Public"})
	if err != nil {
		t.Fatal(err)
	}
	if op.Status != OperationSucceeded || op.ResourceID != p.ID {
		t.Errorf("operation = %+v", op)
	}
	if got, err := f.svc.Operation(ctx, org, strings.ToUpper(op.ID)); err != nil || got.ID != op.ID {
		t.Errorf("Operation = %+v, %v", got, err)
	}
	if p.Visibility != VisibilityPublic || p.ProcessTemplateID != DefaultProcess().ID || p.SourceControlType != "Git" || p.Revision == 0 {
		t.Errorf("project = %+v", p)
	}
	for _, key := range []string{"website", "WEBSITE", p.ID, strings.ToUpper(p.ID)} {
		if got, err := f.svc.Project(ctx, org, key); err != nil || got.ID != p.ID {
			t.Fatalf("Project(%q) = %v, %v", key, got.ID, err)
		}
	}
	queues, err := f.svc.Queues(ctx, org, p.ID)
	if err != nil || len(queues) != 2 {
		t.Fatalf("Queues = %+v, %v; want one per built-in pool", queues, err)
	}
	if _, _, err := f.svc.CreateProject(ctx, org, owner, NewProject{Name: "WEBSITE"}); !fault.Is(err, fault.Conflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, _, err := f.svc.CreateProject(ctx, org, owner, NewProject{Name: "x", SourceControlType: "Tfvc"}); !fault.Is(err, fault.NotImplemented) {
		t.Fatalf("Tfvc: %v", err)
	}
	if _, _, err := f.svc.CreateProject(ctx, org, owner, NewProject{Name: "x", ProcessTemplateID: "00000000-0000-0000-0000-000000000000"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown process: %v", err)
	}

	name := "Site"
	up, _, err := f.svc.UpdateProject(ctx, org, p.ID, ProjectUpdate{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "Site" || up.Revision <= p.Revision {
		t.Errorf("after rename: %+v", up)
	}
	if _, err := f.svc.Project(ctx, org, "website"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old name still resolves: %v", err)
	}
	// The old name is free.
	f.project(t, org, "website")

	list, err := f.svc.Projects(ctx, org, false)
	if err != nil || len(list) != 2 || list[0].Name != "Site" || list[1].Name != "website" {
		t.Fatalf("Projects = %+v, %v", list, err)
	}
}

func TestDeleteProjectCascades(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	a := f.project(t, org, "alpha")
	b := f.project(t, org, "beta")
	d := f.definition(t, org, a, "ci")
	only, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("only-a", a.Name))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := f.svc.CreateEndpoint(ctx, org, owner, wifInput("shared", a.Name, b.Name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdatePipelinePermissions(ctx, org, a.ID, ResourceEndpoint, only.ID, owner,
		PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: d.ID, Authorized: true}}}); err != nil {
		t.Fatal(err)
	}
	// Another package's data under the project prefix goes with it.
	if err := f.store.Put(ctx, ProjectPrefix(org.ID, a.ID)+"runs/1", []byte("{}")); err != nil {
		t.Fatal(err)
	}

	var hooked []string
	failing := true
	f.svc.OnProjectDelete(func(ctx context.Context, o Organization, p Project) error {
		if failing {
			failing = false
			return errors.New("disk busy")
		}
		hooked = append(hooked, p.Name)
		return nil
	})
	if _, err := f.svc.DeleteProject(ctx, org, "alpha"); err == nil {
		t.Fatal("DeleteProject succeeded although a hook failed")
	}
	if _, err := f.svc.Project(ctx, org, "alpha"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a project being deleted is still visible: %v", err)
	}
	// Retrying resumes the deletion.
	op, err := f.svc.DeleteProject(ctx, org, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if op.Status != OperationSucceeded {
		t.Errorf("operation %+v", op)
	}
	if len(hooked) != 1 || hooked[0] != "alpha" {
		t.Errorf("hooks ran for %v", hooked)
	}
	left, err := f.store.List(ctx, ProjectPrefix(org.ID, a.ID), "", 0)
	if err != nil || len(left) != 0 {
		t.Fatalf("%d keys left under the project prefix (%v)", len(left), err)
	}
	if _, err := f.svc.Endpoint(ctx, org, only.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("endpoint used only by the project survived: %v", err)
	}
	if _, err := f.svc.EndpointSecrets(ctx, org, only.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("its secrets survived: %v", err)
	}
	got, err := f.svc.Endpoint(ctx, org, shared.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Projects) != 1 || got.Projects[0].ProjectID != b.ID {
		t.Errorf("shared endpoint projects = %+v, want only beta", got.Projects)
	}
	if _, err := f.svc.Project(ctx, org, "beta"); err != nil {
		t.Errorf("beta: %v", err)
	}
	f.project(t, org, "alpha") // the name is free
}

func TestProcesses(t *testing.T) {
	ps := Processes()
	if len(ps) != 4 || !ps[0].IsDefault || ps[0].Name != "Agile" {
		t.Fatalf("Processes = %+v", ps)
	}
	got, err := ProcessByID(strings.ToUpper("6b724908-ef14-45cf-84f8-768b5384da45"))
	if err != nil || got.Name != "Scrum" {
		t.Fatalf("ProcessByID = %+v, %v", got, err)
	}
}
