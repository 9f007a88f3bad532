package devopshttp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/devops"
)

func TestNotImplementedAndMethods(t *testing.T) {
	hs := newHarness(t, "sqlite")
	hs.project("Website")
	tests := []struct {
		name, method, path string
		status             int
		typeKey, contains  string
	}{
		{"runs are someone else's", "POST", "/fabrikam/Website/_apis/pipelines/1/runs?api-version=7.1-preview.1", 501, "NotImplementedException", "pipeline runs"},
		{"builds", "GET", "/fabrikam/Website/_apis/build/builds?api-version=7.1-preview.7", 501, "NotImplementedException", "builds"},
		{"oidc token", "POST", "/fabrikam/" + testTenant + "/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken", 501, "NotImplementedException", "OIDC token"},
		{"unimplemented method of a served location", "PATCH", "/fabrikam/_apis/distributedtask/pools/1?api-version=7.1-preview.1", 501, "NotImplementedException", "PATCH on agent pools"},
		{"keystage route, wrong method", "PUT", "/fabrikam/_apis/tokens/pats", 405, "VssMethodNotAllowedException", "GET, POST"},
		{"unknown path", "GET", "/fabrikam/_apis/nothing", 404, "VssResourceNotFoundException", ""},
		{"unknown organization", "GET", "/nobody/_apis/projects?api-version=7.1", 404, "HostNotFoundException", "nobody"},
		{"bad path", "GET", "/fabrikam/a%2Fb/_apis/pipelines", 400, "ArgumentException", ""},
		{"write without version", "POST", "/fabrikam/_apis/projects", 400, "VssVersionNotSpecifiedException", ""},
		{"resource area by id", "GET", "/fabrikam/_apis/ResourceAreas/" + testTenant, 404, "ResourceAreaNotFoundException", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := hs.send(tc.method, tc.path, basic(hs.OwnerPAT), "{}")
			if r.Status != tc.status {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, tc.status)
			}
			var we wrappedException
			if err := json.Unmarshal(r.Body, &we); err != nil || we.TypeKey != tc.typeKey || !strings.Contains(we.Message, tc.contains) {
				t.Fatalf("body %s, want typeKey %s containing %q", r.Body, tc.typeKey, tc.contains)
			}
			if r.Header.Get("Content-Length") == "" {
				t.Error("error without Content-Length")
			}
		})
	}
}

func TestRegisterValidates(t *testing.T) {
	h := &Handler{}
	if err := h.Register(Area{Name: "table", Locations: locationTable()}); err != nil {
		t.Fatal(err)
	}
	ok := func(*Request) error { return nil }
	tests := []struct {
		name string
		area Area
	}{
		{"duplicate location", Area{Locations: []Location{locationTable()[0]}}},
		{"no access", Area{Routes: []Route{{Location: LocProjects, Method: "GET", Handle: ok}}}},
		{"no scope", Area{Routes: []Route{{Location: LocProjects, Method: "GET", Access: AccessRead, Handle: ok}}}},
		{"no handle", Area{Routes: []Route{{Location: LocProjects, Method: "GET", Access: AccessAuthenticated}}}},
		{"unknown location", Area{Routes: []Route{{Location: "00000000-0000-0000-0000-000000000000", Method: "GET", Access: AccessAnonymous, Handle: ok}}}},
		{"location and template", Area{Routes: []Route{{Location: LocProjects, Template: "x", Method: "GET", Access: AccessAnonymous, Handle: ok}}}},
		{"twice in one area", Area{Routes: []Route{
			{Template: "_apis/x", Method: "GET", Access: AccessAnonymous, Handle: ok},
			{Template: "_apis/X/", Method: "get", Access: AccessAnonymous, Handle: ok},
		}}},
		{"bad location version", Area{Locations: []Location{{ID: "00000000-0000-0000-0000-000000000001", Area: "a", ResourceName: "r",
			RouteTemplate: "_apis/r", ResourceVersion: 1, MinVersion: "1", MaxVersion: "7.2", ReleasedVersion: "7.1", Feature: "f"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.Locations(""))
			if err := h.Register(tc.area); err == nil {
				t.Fatal("Register accepted the area")
			}
			if len(h.Locations("")) != before {
				t.Fatal("a refused area added locations")
			}
		})
	}
	if err := h.Register(Area{Routes: []Route{{Location: LocProjects, Method: "GET", Access: AccessAnonymous, Handle: ok}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Register(Area{Routes: []Route{{Location: LocProjects, Method: "GET", Access: AccessAnonymous, Handle: ok}}}); err == nil {
		t.Fatal("a route registered twice across areas")
	}
	if got := h.Implemented()[LocProjects]; len(got) != 1 || got[0] != "GET" {
		t.Errorf("Implemented = %v", got)
	}
}

// TestAreaFromAnotherFile registers an area the way other engineers do and serves it.
func TestAreaFromAnotherFile(t *testing.T) {
	hs := newHarness(t, "sqlite")
	hs.project("Website")
	err := hs.h.Register(Area{Name: "builds", Routes: []Route{{
		Location: LocBuilds, Method: http.MethodGet, Access: AccessRead, Scope: "build",
		Handle: func(rq *Request) error {
			id, _ := rq.Value("buildId")
			return rq.OK(map[string]string{"project": rq.Project.Name, "build": id, "version": rq.APIVersion()})
		},
	}, {
		Template: "_oidc/{orgId}/.well-known/openid-configuration", Server: true, Method: http.MethodGet, Access: AccessAnonymous,
		Handle: func(rq *Request) error {
			id, _ := rq.Value("orgId")
			return rq.OK(map[string]string{"issuer": rq.Service().ServerURL() + "/_oidc/" + id})
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	hs.do("GET", "/FABRIKAM/website/_apis/build/builds/7?api-version=7.1-preview.7", basic(hs.OwnerPAT), nil, 200, &got)
	if got["project"] != "Website" || got["build"] != "7" || got["version"] != "7.1-preview.7" {
		t.Errorf("got %v", got)
	}
	// Still 501 for the methods nobody registered.
	if r := hs.send("DELETE", "/fabrikam/website/_apis/build/builds/7?api-version=7.1", basic(hs.OwnerPAT), nil); r.Status != 501 {
		t.Errorf("DELETE = %d", r.Status)
	}
	hs.do("GET", "/_oidc/"+hs.org.ID+"/.well-known/openid-configuration", "", nil, 200, &got)
	if got["issuer"] != hs.svc.WorkloadIdentityIssuer(hs.org) {
		t.Errorf("issuer %q", got["issuer"])
	}
}

// fakeJobTokens accepts "job-token" as a job of the given project.
type fakeJobTokens struct{ org, project string }

func (f fakeJobTokens) VerifyJobToken(ctx context.Context, raw string) (devops.Caller, bool, error) {
	switch raw {
	case "job-token":
		return devops.Caller{Kind: devops.CallerJob, OrgID: f.org, ProjectID: f.project, DisplayName: "job"}, true, nil
	case "expired-job-token":
		return devops.Caller{}, true, devops.ErrUnauthorized("The job has finished.")
	}
	return devops.Caller{}, false, nil
}

func TestJobTokens(t *testing.T) {
	hs := newHarness(t, "sqlite")
	p := hs.project("Website")
	hs.project("Other")
	hs.h.SetJobTokens(fakeJobTokens{org: hs.org.ID, project: p.ID})
	tests := []struct {
		name, method, path, auth string
		status                   int
	}{
		{"reads its project", "GET", "/fabrikam/Website/_apis/pipelines", "Bearer job-token", 200},
		{"as basic too", "GET", "/fabrikam/Website/_apis/distributedtask/queues", basic("job-token"), 200},
		{"not another project", "GET", "/fabrikam/Other/_apis/pipelines", "Bearer job-token", 403},
		{"not the organization", "GET", "/fabrikam/_apis/projects", "Bearer job-token", 403},
		{"its project through core", "GET", "/fabrikam/_apis/projects/website", "Bearer job-token", 200},
		{"not another project through core", "GET", "/fabrikam/_apis/projects/other", "Bearer job-token", 403},
		{"cannot write", "POST", "/fabrikam/Website/_apis/pipelines?api-version=7.1-preview.1", "Bearer job-token", 403},
		{"cannot make PATs", "GET", "/fabrikam/_apis/tokens/pats", "Bearer job-token", 403},
		{"rejected job token", "GET", "/fabrikam/Website/_apis/pipelines", "Bearer expired-job-token", 401},
		{"OPTIONS works", "OPTIONS", "/fabrikam/_apis/distributedtask", "Bearer job-token", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := hs.send(tc.method, tc.path, tc.auth, "{}")
			if r.Status != tc.status {
				t.Fatalf("status %d %s, want %d", r.Status, r.Body, tc.status)
			}
		})
	}
}

func TestOrganizationsAPI(t *testing.T) {
	hs := newHarness(t, "sqlite")
	admin, owner, other := "Bearer "+hs.AdminToken, "Bearer "+hs.OwnerToken, "Bearer "+hs.OtherToken
	var list collection[organizationJSON]
	hs.do("GET", "/_apis/organizations", owner, nil, 200, &list)
	if list.Count != 1 || list.Value[0].Name != orgName {
		t.Fatalf("owner's list = %+v", list)
	}
	hs.do("GET", "/_apis/organizations", other, nil, 200, &list)
	if list.Count != 0 {
		t.Errorf("stranger sees %+v", list)
	}
	// Only administrators create; names follow the rules.
	for _, tc := range []struct {
		auth, name string
		status     int
	}{
		{owner, "contoso", 403},
		{admin, "fabrikam", 409},
		{admin, "healthz", 400},
		{admin, testTenant, 400},
		{admin, "_apis", 400},
		{admin, "contoso", 201},
	} {
		if r := hs.send("POST", "/_apis/organizations", tc.auth, map[string]string{"name": tc.name}); r.Status != tc.status {
			t.Errorf("create %q = %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
		}
	}
	var org organizationJSON
	hs.do("GET", "/_apis/organizations/FABRIKAM", owner, nil, 200, &org)
	if org.WorkloadIdentityIssuer != hs.URL+"/_oidc/"+org.ID || org.URL != hs.URL+"/"+orgName {
		t.Errorf("org = %+v", org)
	}
	hs.send("GET", "/_apis/organizations/contoso", owner, nil)
	if r := hs.send("GET", "/_apis/organizations/contoso", owner, nil); r.Status != 403 {
		t.Errorf("owner of another org reads contoso: %d", r.Status)
	}
	hs.do("PATCH", "/_apis/organizations/contoso", admin, map[string]any{"owners": []map[string]string{{"tenantId": testTenant, "objectId": otherOID}}}, 200, &org)
	hs.do("GET", "/fabrikam/_apis/projects?api-version=7.1", other, nil, 403, nil)
	hs.do("GET", "/contoso/_apis/projects?api-version=7.1", other, nil, 200, nil)
	hs.do("DELETE", "/_apis/organizations/contoso", admin, nil, 204, nil)
	hs.do("GET", "/contoso/_apis/projects?api-version=7.1", other, nil, 404, nil)
	// A PAT (even the administrator's) manages organizations only with full access.
	if r := hs.send("POST", "/_apis/organizations", basic(hs.OwnerPAT), map[string]string{"name": "x"}); r.Status != 403 {
		t.Errorf("owner PAT creates an organization: %d", r.Status)
	}
}

func TestPATsAPI(t *testing.T) {
	hs := newHarness(t, "sqlite")
	owner := "Bearer " + hs.OwnerToken
	var created struct {
		PatToken      patJSON `json:"patToken"`
		PatTokenError string  `json:"patTokenError"`
	}
	hs.do("POST", "/fabrikam/_apis/tokens/pats", owner, map[string]any{"displayName": "read", "scope": "vso.project"}, 200, &created)
	if created.PatTokenError != "none" || created.PatToken.Token == nil || len(created.PatToken.TargetAccounts) != 1 {
		t.Fatalf("created = %+v", created)
	}
	readOnly := basic(*created.PatToken.Token)
	hs.do("GET", "/fabrikam/_apis/projects?api-version=7.1", readOnly, nil, 200, nil)
	hs.do("POST", "/fabrikam/_apis/projects?api-version=7.1", readOnly, map[string]string{"name": "x"}, 403, nil)
	hs.do("GET", "/fabrikam/_apis/distributedtask/pools?api-version=7.1", readOnly, nil, 403, nil)
	// PATs cannot manage PATs.
	hs.do("GET", "/fabrikam/_apis/tokens/pats", readOnly, nil, 403, nil)
	var list struct {
		PatTokens []patJSON `json:"patTokens"`
	}
	r := hs.do("GET", "/fabrikam/_apis/tokens/pats", owner, nil, 200, &list)
	if len(list.PatTokens) != 2 || strings.Contains(string(r.Body), *created.PatToken.Token) {
		t.Fatalf("list = %s", r.Body)
	}
	hs.do("DELETE", "/fabrikam/_apis/tokens/pats?authorizationId="+created.PatToken.AuthorizationID, owner, nil, 204, nil)
	hs.do("GET", "/fabrikam/_apis/projects?api-version=7.1", readOnly, nil, 401, nil)
	// A PAT for one organization does not open another.
	hs.do("POST", "/_apis/organizations", "Bearer "+hs.AdminToken, map[string]any{"name": "contoso",
		"owners": []map[string]string{{"tenantId": testTenant, "objectId": ownerOID}}}, 201, nil)
	hs.do("GET", "/contoso/_apis/projects?api-version=7.1", basic(hs.OwnerPAT), nil, 403, nil)
	hs.do("GET", "/contoso/_apis/projects?api-version=7.1", owner, nil, 200, nil)
}
