package devopshttp

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTemplateMatch(t *testing.T) {
	tests := []struct {
		name, tmpl, path string
		ok               bool
		values           map[string]string
		literals         int
		dropped          int
	}{
		{"list drops the id", "_apis/projects/{*projectId}", "_apis/projects", true, map[string]string{}, 2, 1},
		{"get", "_apis/projects/{*projectId}", "_apis/Projects/My Proj", true, map[string]string{"projectId": "My Proj"}, 2, 0},
		{"literal mismatch", "_apis/projects/{*projectId}", "_apis/process", false, nil, 0, 0},
		{"too long", "_apis/projects/{*projectId}", "_apis/projects/a/b", false, nil, 0, 0},
		{"project dropped", "{project}/_apis/distributedtask/queues/{queueId}", "_apis/distributedtask/queues", true, map[string]string{}, 3, 2},
		{"project kept", "{project}/_apis/distributedtask/queues/{queueId}", "p/_apis/distributedtask/queues/4", true, map[string]string{"project": "p", "queueId": "4"}, 3, 0},
		{"capture never takes _apis", "{project}/_apis/pipelines/{pipelineId}", "_apis/_apis/pipelines", false, nil, 0, 0},
		{"middle capture", "{project}/_apis/serviceendpoint/{endpointId}/executionhistory", "p/_apis/serviceendpoint/e/executionhistory", true,
			map[string]string{"project": "p", "endpointId": "e"}, 3, 0},
		{"both trailing dropped", "{project}/_apis/pipelines/pipelinePermissions/{resourceType}/{resourceId}", "p/_apis/pipelines/pipelinePermissions", true,
			map[string]string{"project": "p"}, 3, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := parseTemplate(tc.tmpl).match(strings.Split(tc.path, "/"))
			if ok != tc.ok {
				t.Fatalf("match = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tc.values, m.values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if m.literals != tc.literals || m.dropped != tc.dropped {
				t.Errorf("literals %d dropped %d, want %d %d", m.literals, m.dropped, tc.literals, tc.dropped)
			}
		})
	}
}

// TestRouteChoice checks that the dispatcher picks the most specific location.
func TestRouteChoice(t *testing.T) {
	h := &Handler{}
	if err := h.Register(Area{Name: "table", Locations: locationTable()}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{"_apis/projects", LocProjects},
		{"_apis/serviceendpoint/endpoints/x", LocEndpointsOrg},
		{"p/_apis/serviceendpoint/endpoints/x", LocEndpointsProject},
		{"p/_apis/serviceendpoint/endpoints", LocEndpointsProject},
		{"p/_apis/pipelines/pipelinePermissions", LocPipelinePermissions},
		{"p/_apis/pipelines/pipelinePermissions/endpoint/x", LocPipelinePermissions},
		{"p/_apis/pipelines/approvals", LocApprovals},
		{"p/_apis/pipelines/7", LocPipelines},
		{"p/_apis/pipelines/7/runs", LocPipelineRuns},
		{"p/_apis/pipelines/7/runs/3/logs", LocPipelineLogs},
		{"p/_apis/build/definitions/7/resources", LocDefinitionResources},
		{"p/_apis/build/DEFINITIONS", LocDefinitions},
		{"_apis/distributedtask/pools/1/agents", LocAgents},
		{"_apis/distributedtask/queues", LocQueues},
		{"9/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken", LocOIDCToken},
		{"_apis/ResourceAreas", LocResourceAreas},
	}
	for _, tc := range tests {
		e, _ := h.find(false, strings.Split(tc.path, "/"))
		if e == nil || e.loc == nil || e.loc.ID != tc.want {
			got := "nothing"
			if e != nil && e.loc != nil {
				got = e.loc.Area + "/" + e.loc.ResourceName
			}
			t.Errorf("%s matched %s, want %s", tc.path, got, tc.want)
		}
	}
	if e, _ := h.find(false, strings.Split("p/_apis/nothing/here", "/")); e != nil {
		t.Errorf("unknown path matched %s", e.tmpl.raw)
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"/", nil, true},
		{"/org/_apis/projects/", []string{"org", "_apis", "projects"}, true},
		{"/org/My%20Proj/_apis", []string{"org", "My Proj", "_apis"}, true},
		{"/org//x", nil, false},
		{"/org/a%2Fb", nil, false},
		{"/org/%00", nil, false},
		{"/org/%zz", nil, false},
		{"/" + strings.Repeat("a", maxPathBytes), nil, false},
	}
	for _, tc := range tests {
		got, err := splitPath(tc.in)
		if (err == nil) != tc.ok || tc.ok && !cmp.Equal(got, tc.want) {
			t.Errorf("splitPath(%.40q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzRoute(f *testing.F) {
	for _, s := range []string{
		"/fabrikam/_apis/projects", "/f/p/_apis/pipelines/1/runs/2/logs/3", "/f/%2e%2e/_apis", "/_apis/organizations/x",
		"/f/p/_apis/pipelines/pipelinePermissions/endpoint/" + testTenant, "/f/p/_apis/build/definitions/1/resources",
		"/f/_apis/distributedtask/pools/1/agents/2", "/f//_apis", "/f/a%2Fb/_apis",
	} {
		f.Add(s)
	}
	h := &Handler{}
	if err := h.Register(Area{Name: "table", Locations: locationTable()}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		segs, err := splitPath(path)
		if err != nil {
			return
		}
		for _, s := range segs {
			if s == "" || strings.ContainsAny(s, "/\x00") {
				t.Fatalf("splitPath(%q) gave segment %q", path, s)
			}
		}
		if len(segs) == 0 {
			return
		}
		e, m := h.find(false, segs[1:])
		if e == nil {
			return
		}
		for name, v := range m.values {
			if v == "" || strings.EqualFold(v, "_apis") {
				t.Fatalf("%q: route value %s = %q", path, name, v)
			}
			found := false
			for _, s := range segs[1:] {
				found = found || s == v
			}
			if !found {
				t.Fatalf("%q: route value %s = %q is no path segment", path, name, v)
			}
		}
	})
}
