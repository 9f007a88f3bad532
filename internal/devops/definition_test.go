package devops

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/fault"
)

func ptr[T any](v T) *T { return &v }

func TestCreateDefinitionNormalizes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	in := yamlDef("CI")
	in.Folder = "/team/"
	in.Variables = map[string]VariableInput{"v": {Value: ptr("1")}, "pw": {Value: ptr("hunter2"), IsSecret: true}}
	d, err := f.svc.CreateDefinition(ctx, org, p, owner, in)
	if err != nil {
		t.Fatal(err)
	}
	hosted, err := f.svc.QueueByName(ctx, org, p.ID, DefaultHostedPoolName)
	if err != nil {
		t.Fatal(err)
	}
	want := Definition{
		ID: d.ID, ProjectID: p.ID, Name: "CI", Folder: `\team`, Revision: 1, Kind: DefinitionYAML,
		Repository: Repository{Kind: RepositoryGit, Name: "repo", URL: "https://example.com/repo.git", DefaultBranch: "refs/heads/main"},
		YAMLPath:   "azure-pipelines.yml", QueueID: hosted.ID, QueueStatus: QueueEnabled,
		Variables: map[string]Variable{"v": {Value: "1"}, "pw": {Value: "hunter2", IsSecret: true}},
		CreatedBy: owner, Created: d.Created, ModifiedBy: owner, Modified: d.Modified,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("definition (-want +got):\n%s", diff)
	}
	if d.Path() != `\team\CI` {
		t.Errorf("Path = %q", d.Path())
	}
	got, err := f.svc.DefinitionByPath(ctx, org, p.ID, `team`, "ci")
	if err != nil || got.ID != d.ID {
		t.Fatalf("DefinitionByPath = %v, %v", got.ID, err)
	}
	if _, err := f.svc.CreateDefinition(ctx, org, p, owner, in); !fault.Is(err, fault.Conflict) {
		t.Errorf("duplicate path: %v", err)
	}
	in.Folder = `\other`
	if _, err := f.svc.CreateDefinition(ctx, org, p, owner, in); err != nil {
		t.Errorf("same name in another folder: %v", err)
	}
}

func TestUpdateDefinition(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	in := yamlDef("ci")
	in.Variables = map[string]VariableInput{"pw": {Value: ptr("hunter2"), IsSecret: true}}
	d, err := f.svc.CreateDefinition(ctx, org, p, owner, in)
	if err != nil {
		t.Fatal(err)
	}
	// A client sends secrets back as null: the value is kept.
	in.Name = "ci-renamed"
	in.Revision = 1
	in.Variables = map[string]VariableInput{"PW": {IsSecret: true}}
	up, err := f.svc.UpdateDefinition(ctx, org, p, d.ID, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if up.Revision != 2 || up.Name != "ci-renamed" || up.Variables["PW"].Value != "hunter2" || up.ModifiedBy != admin || up.CreatedBy != owner {
		t.Errorf("after update: %+v", up)
	}
	if _, err := f.svc.UpdateDefinition(ctx, org, p, d.ID, admin, in); !fault.Is(err, fault.Conflict) {
		t.Errorf("stale revision: %v", err)
	}
	in.Revision = 0
	in.Variables = map[string]VariableInput{"new": {IsSecret: true}}
	if _, err := f.svc.UpdateDefinition(ctx, org, p, d.ID, admin, in); !fault.Is(err, fault.BadRequest) {
		t.Errorf("new secret without a value: %v", err)
	}
	if _, err := f.svc.DefinitionByPath(ctx, org, p.ID, "", "ci"); !fault.Is(err, fault.NotFound) {
		t.Errorf("old name still indexed: %v", err)
	}
	if err := f.svc.DeleteDefinition(ctx, org, p.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Definition(ctx, org, p.ID, d.ID); !fault.Is(err, fault.NotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func TestDefinitionValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	mod := func(m func(*DefinitionInput)) DefinitionInput { in := yamlDef("x"); m(&in); return in }
	tests := []struct {
		name string
		in   DefinitionInput
		kind fault.Kind
	}{
		{"no name", mod(func(in *DefinitionInput) { in.Name = "" }), fault.BadRequest},
		{"slash in name", mod(func(in *DefinitionInput) { in.Name = "a/b" }), fault.BadRequest},
		{"dotdot folder", mod(func(in *DefinitionInput) { in.Folder = `\a\..\b` }), fault.BadRequest},
		{"no kind", mod(func(in *DefinitionInput) { in.Kind = "" }), fault.BadRequest},
		{"yaml escapes repo", mod(func(in *DefinitionInput) { in.YAMLPath = "../x.yml" }), fault.BadRequest},
		{"bad url", mod(func(in *DefinitionInput) { in.Repository.URL = "ftp://x/y" }), fault.BadRequest},
		{"url with space", mod(func(in *DefinitionInput) { in.Repository.URL = "https://x/a b" }), fault.BadRequest},
		{"bad branch", mod(func(in *DefinitionInput) { in.Repository.DefaultBranch = "a..b" }), fault.BadRequest},
		{"relative local", mod(func(in *DefinitionInput) {
			in.Repository = Repository{Kind: RepositoryLocal, Path: "src"}
		}), fault.BadRequest},
		{"unknown queue", mod(func(in *DefinitionInput) { in.QueueID = 999 }), fault.NotFound},
		{"bad variable", mod(func(in *DefinitionInput) { in.Variables = map[string]VariableInput{"a b": {Value: ptr("")}} }), fault.BadRequest},
		{"yaml with process", mod(func(in *DefinitionInput) { in.Process = &ClassicProcess{} }), fault.BadRequest},
		{"classic without phases", mod(func(in *DefinitionInput) { in.Kind = DefinitionClassic; in.YAMLPath = "" }), fault.BadRequest},
		{"bad queue status", mod(func(in *DefinitionInput) { in.QueueStatus = "off" }), fault.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateDefinition(ctx, org, p, owner, tc.in)
			wantKind(t, err, tc.kind, "")
		})
	}
	for _, ok := range []DefinitionInput{
		mod(func(in *DefinitionInput) {
			in.Name = "local"
			in.Repository = Repository{Kind: RepositoryLocal, Path: "/srv/repo"}
		}),
		mod(func(in *DefinitionInput) { in.Name = "scp"; in.Repository.URL = "git@github.com:org/repo.git" }),
		mod(func(in *DefinitionInput) { in.Name = "file"; in.Repository.URL = "file:///srv/repo" }),
	} {
		if _, err := f.svc.CreateDefinition(ctx, org, p, owner, ok); err != nil {
			t.Errorf("%s: %v", ok.Name, err)
		}
	}
}

func TestClassicDefinition(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	org := f.org(t, "fabrikam")
	p := f.project(t, org, "website")
	in := DefinitionInput{
		Name: "classic", Kind: DefinitionClassic,
		Repository: Repository{Kind: RepositoryGit, URL: "https://example.com/r.git"},
		Process: &ClassicProcess{Phases: []ClassicPhase{{
			Steps: []ClassicStep{
				{DisplayName: "Azure Key Vault", Enabled: true, Task: TaskRef{ID: "1E244D32-2DD4-4165-96FB-B7441CA9331E", Version: 2},
					Inputs: map[string]string{"azureSubscription": "sc", "KeyVaultName": "kv", "SecretsFilter": "*"}},
				{DisplayName: "Create file", Enabled: true, Task: TaskRef{Name: "cmdline", Version: 2},
					Inputs: map[string]string{"script": "echo $(s) > secret.txt"}},
			},
		}}},
	}
	d, err := f.svc.CreateDefinition(ctx, org, p, owner, in)
	if err != nil {
		t.Fatal(err)
	}
	ph := d.Process.Phases[0]
	if ph.Name != "Job_1" || ph.DisplayName != "Agent job 1" {
		t.Errorf("phase defaults: %+v", ph)
	}
	if got := ph.Steps[0].Task; got != (TaskRef{ID: "1e244d32-2dd4-4165-96fb-b7441ca9331e", Name: "AzureKeyVault", Version: 2}) {
		t.Errorf("task by id resolved to %+v", got)
	}
	if got := ph.Steps[1].Task; got.ID != "d9bafed4-0b18-4f58-968d-86655b4d2ce9" || got.String() != "CmdLine@2" {
		t.Errorf("task by name resolved to %+v", got)
	}

	bad := []struct {
		name string
		step ClassicStep
	}{
		{"unknown id", ClassicStep{Task: TaskRef{ID: "00000000-0000-0000-0000-000000000001", Version: 1}}},
		{"id and wrong name", ClassicStep{Task: TaskRef{ID: "d9bafed4-0b18-4f58-968d-86655b4d2ce9", Name: "Bash", Version: 2}}},
		{"no version", ClassicStep{Task: TaskRef{Name: "Bash"}}},
		{"bad name", ClassicStep{Task: TaskRef{Name: "Ba sh", Version: 3}}},
		{"env with =", ClassicStep{Task: TaskRef{Name: "Bash", Version: 3}, Env: map[string]string{"A=B": "x"}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			in.Name = "bad"
			in.Process = &ClassicProcess{Phases: []ClassicPhase{{Steps: []ClassicStep{tc.step}}}}
			_, err := f.svc.CreateDefinition(ctx, org, p, owner, in)
			wantKind(t, err, fault.BadRequest, "")
		})
	}
	in.Name = "deps"
	in.Process = &ClassicProcess{Phases: []ClassicPhase{
		{Name: "A", Steps: []ClassicStep{{Task: TaskRef{Name: "Bash", Version: 3}}}},
		{Name: "B", DependsOn: []string{"C"}, Steps: []ClassicStep{{Task: TaskRef{Name: "Bash", Version: 3}}}},
	}}
	if _, err := f.svc.CreateDefinition(ctx, org, p, owner, in); !fault.Is(err, fault.BadRequest) {
		t.Errorf("dependency on a later phase: %v", err)
	}
}

func TestParseVersionSpec(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"2", 2, true}, {"2.*", 2, true}, {"2.1.0", 2, true}, {" 3.* ", 3, true},
		{"", 0, false}, {"*", 0, false}, {"-1", 0, false}, {"02", 0, false}, {"x.1", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseVersionSpec(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseVersionSpec(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
