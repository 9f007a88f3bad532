package devopshttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/core"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/operations"
)

// requestLog records the requests the server sees.
type requestLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.lines = append(l.lines, r.Method+" "+r.URL.Path+" "+r.Header.Get("Accept"))
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// TestGetProjectsMixedCase is devops.md §8.1: a fresh, mixed-case organization URL takes
// exactly OPTIONS, ResourceAreas and projects.
func TestGetProjectsMixedCase(t *testing.T) {
	forEachBackend(t, func(t *testing.T, hs *harness) {
		log := &requestLog{}
		hs.srv.Config.Handler = log.wrap(hs.h)
		ctx := context.Background()
		client, err := core.NewClient(ctx, hs.conn())
		if err != nil {
			t.Fatal(err)
		}
		got, err := client.GetProjects(ctx, core.GetProjectsArgs{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Value) != 0 {
			t.Errorf("projects = %+v, want none", got.Value)
		}
		want := []string{
			"OPTIONS /fabrikam/_apis application/json",
			"GET /fabrikam/_apis/ResourceAreas application/json;api-version=5.1-preview.1",
			"GET /fabrikam/_apis/projects application/json;api-version=7.1-preview.4",
		}
		if strings.Join(log.lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(log.lines, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestOptionsLint is devops.md §8.2.
func TestOptionsLint(t *testing.T) {
	hs := newHarness(t, "sqlite")
	for _, path := range []string{"/fabrikam/_apis", "/FABRIKAM/_apis/", "/fabrikam/_apis/DistributedTask"} {
		r := hs.send("OPTIONS", path, basic(hs.OwnerPAT), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("OPTIONS %s = %d %s", path, r.Status, r.Body)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &raw); err != nil {
			t.Fatal(err)
		}
		var count int
		var locs []map[string]any
		if json.Unmarshal(raw["count"], &count) != nil || json.Unmarshal(raw["value"], &locs) != nil || count != len(locs) || count == 0 {
			t.Fatalf("OPTIONS %s: not a {count,value} wrapper: %s", path, r.Body)
		}
		ids := map[string]bool{}
		for _, l := range locs {
			for _, f := range []string{"id", "area", "resourceName", "routeTemplate", "minVersion", "maxVersion", "releasedVersion", "resourceVersion"} {
				if l[f] == nil || l[f] == "" {
					t.Errorf("%s: location %v lacks %s", path, l["id"], f)
				}
			}
			for _, f := range []string{"minVersion", "maxVersion", "releasedVersion"} {
				if s, _ := l[f].(string); strings.Count(s, ".") != 1 {
					t.Errorf("%s: %s %q is not major.minor", l["id"], f, s)
				}
			}
			if rv, _ := l["resourceVersion"].(float64); rv < 1 {
				t.Errorf("%s: resourceVersion %v", l["id"], l["resourceVersion"])
			}
			ids[l["id"].(string)] = true
		}
		if strings.HasSuffix(path, "DistributedTask") {
			if !ids[LocOIDCToken] || !ids[LocPools] || ids[LocProjects] {
				t.Errorf("area OPTIONS lists %v", ids)
			}
			continue
		}
		for _, want := range locationTable() {
			if !ids[want.ID] {
				t.Errorf("%s does not list %s (%s/%s)", path, want.ID, want.Area, want.ResourceName)
			}
		}
	}
	if r := hs.send("OPTIONS", "/fabrikam/_apis", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("anonymous OPTIONS = %d", r.Status)
	}
	if r := hs.send("OPTIONS", "/nope/_apis", basic(hs.OwnerPAT), nil); r.Status != http.StatusNotFound {
		t.Errorf("OPTIONS of a missing organization = %d", r.Status)
	}
}

// TestAuthMatrix is devops.md §8.3.
func TestAuthMatrix(t *testing.T) {
	hs := newHarness(t, "sqlite")
	ctx := context.Background()
	tests := []struct {
		name   string
		auth   string
		status int
	}{
		{"basic PAT", basic(hs.OwnerPAT), 200},
		{"basic PAT as user", "Basic " + b64(hs.OwnerPAT+":"), 200},
		{"basic JWT", basic(hs.OwnerToken), 200},
		{"bearer JWT", "Bearer " + hs.OwnerToken, 200},
		{"admin bearer", "Bearer " + hs.AdminToken, 200},
		{"JWT for Keystage's URL", "Bearer " + hs.token(ownerOID, hs.URL), 200},
		{"JWT for ARM", "Bearer " + hs.token(ownerOID, "https://management.azure.com/"), 401},
		{"tampered JWT", "Bearer " + hs.OwnerToken[:len(hs.OwnerToken)-4] + "AAAA", 401},
		{"unknown PAT", basic(strings.Repeat("a", 52)), 401},
		{"garbage", "Bearer not-a-token", 401},
		{"bad base64", "Basic %%%", 401},
		{"digest", "Digest x", 401},
		{"no credentials", "", 401},
		{"stranger", "Bearer " + hs.OtherToken, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := hs.send("GET", "/fabrikam/_apis/projects?api-version=7.1", tc.auth, nil)
			if r.Status != tc.status {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, tc.status)
			}
			if tc.status == 200 {
				return
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			var we wrappedException
			if err := json.Unmarshal(r.Body, &we); err != nil || we.TypeKey == "" || we.Message == "" {
				t.Errorf("body %s is not a WrappedException", r.Body)
			}
			if strings.Contains(string(r.Body), hs.OwnerPAT) || strings.Contains(string(r.Body), "not-a-token") {
				t.Errorf("the error echoes the credential: %s", r.Body)
			}
		})
	}
	// The Go client sees a 401 as a WrappedError, not a JSON syntax error.
	client, err := core.NewClient(ctx, hs.connWith("Bearer junk.junk.junk"))
	if err == nil {
		_, err = client.GetProjects(ctx, core.GetProjectsArgs{})
	}
	var we azuredevops.WrappedError
	if !errors.As(err, &we) || we.StatusCode == nil || *we.StatusCode != 401 {
		t.Fatalf("bad credentials through the Go client: %#v", err)
	}
}

// TestProjectNotFound is devops.md §8.4: a value-type WrappedError with TypeKey and 404.
func TestProjectNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, hs *harness) {
		ctx := context.Background()
		client, err := core.NewClient(ctx, hs.conn())
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.GetProject(ctx, core.GetProjectArgs{ProjectId: ptr("missing")})
		var we azuredevops.WrappedError
		if !errors.As(err, &we) {
			t.Fatalf("error %#v is not a WrappedError value", err)
		}
		if we.StatusCode == nil || *we.StatusCode != 404 || we.TypeKey == nil || *we.TypeKey != "ProjectDoesNotExistWithNameException" {
			t.Fatalf("WrappedError = %+v", we)
		}
		if !strings.Contains(*we.Message, "TF200016") {
			t.Errorf("message %q", *we.Message)
		}
	})
}

// TestProjectOperations is devops.md §8.5.
func TestProjectOperations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, hs *harness) {
		ctx := context.Background()
		conn := hs.conn()
		client, err := core.NewClient(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		ops := operations.NewClient(ctx, conn)
		scrum := uuid.MustParse("6b724908-ef14-45cf-84f8-768b5384da45")
		ref, err := client.QueueCreateProject(ctx, core.QueueCreateProjectArgs{ProjectToCreate: &core.TeamProject{
			Name: ptr("Fabrikam Fiber"), Description: ptr("the tutorial"), Visibility: &core.ProjectVisibilityValues.Private,
			Capabilities: &map[string]map[string]string{
				"versioncontrol":  {"sourceControlType": "Git"},
				"processTemplate": {"templateTypeId": scrum.String()},
			},
		}})
		if err != nil {
			t.Fatal(err)
		}
		waitOperation(t, ops, ref)
		p, err := client.GetProject(ctx, core.GetProjectArgs{ProjectId: ptr("fabrikam fiber"), IncludeCapabilities: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		if *p.Name != "Fabrikam Fiber" || *p.State != core.ProjectStateValues.WellFormed || p.Revision == nil || p.DefaultTeam == nil {
			t.Errorf("project = %+v", p)
		}
		if got := (*p.Capabilities)["processTemplate"]["templateTypeId"]; got != scrum.String() {
			t.Errorf("templateTypeId = %q", got)
		}
		procs, err := client.GetProcesses(ctx, core.GetProcessesArgs{})
		if err != nil || len(*procs) != 4 || !*(*procs)[0].IsDefault {
			t.Fatalf("GetProcesses = %v, %v", procs, err)
		}
		ref, err = client.UpdateProject(ctx, core.UpdateProjectArgs{ProjectId: p.Id, ProjectUpdate: &core.TeamProject{Description: ptr("changed")}})
		if err != nil {
			t.Fatal(err)
		}
		waitOperation(t, ops, ref)
		ref, err = client.QueueDeleteProject(ctx, core.QueueDeleteProjectArgs{ProjectId: p.Id})
		if err != nil {
			t.Fatal(err)
		}
		waitOperation(t, ops, ref)
		if _, err := client.GetProject(ctx, core.GetProjectArgs{ProjectId: ptr(p.Id.String())}); err == nil {
			t.Fatal("the project survived its deletion")
		}
	})
}

func waitOperation(t *testing.T, ops operations.Client, ref *operations.OperationReference) {
	t.Helper()
	if ref == nil || ref.Id == nil || ref.Url == nil {
		t.Fatalf("operation reference %+v", ref)
	}
	for i := 0; i < 50; i++ {
		op, err := ops.GetOperation(context.Background(), operations.GetOperationArgs{OperationId: ref.Id})
		if err != nil {
			t.Fatal(err)
		}
		switch *op.Status {
		case operations.OperationStatusValues.Succeeded:
			return
		case operations.OperationStatusValues.Failed, operations.OperationStatusValues.Cancelled:
			t.Fatalf("operation %s", *op.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("operation did not finish")
}

// TestContinuationToken is devops.md §8.6.
func TestContinuationToken(t *testing.T) {
	hs := newHarness(t, "sqlite")
	ctx := context.Background()
	for _, n := range []string{"c", "a", "b"} {
		if _, _, err := hs.svc.CreateProject(ctx, hs.org, hs.org.CreatedBy, projectInput(n)); err != nil {
			t.Fatal(err)
		}
	}
	client, err := core.NewClient(ctx, hs.conn())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	args := core.GetProjectsArgs{Top: ptr(1)}
	for i := 0; i < 5; i++ {
		page, err := client.GetProjects(ctx, args)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Value {
			names = append(names, *p.Name)
		}
		if page.ContinuationToken == "" {
			break
		}
		n, err := strconv.Atoi(page.ContinuationToken)
		if err != nil {
			t.Fatalf("continuation token %q is not an integer", page.ContinuationToken)
		}
		args.ContinuationToken = &n
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("pages gave %v", names)
	}
}
