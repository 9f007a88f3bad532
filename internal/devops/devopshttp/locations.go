package devopshttp

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

// Location is an API resource location: what OPTIONS /{org}/_apis publishes and clients
// address methods by. Every location carries the four version fields (a missing one
// panics the Go client).
type Location struct {
	ID              string `json:"id"`
	Area            string `json:"area"`
	ResourceName    string `json:"resourceName"`
	RouteTemplate   string `json:"routeTemplate"`
	ResourceVersion int    `json:"resourceVersion"`
	MinVersion      string `json:"minVersion"`
	MaxVersion      string `json:"maxVersion"`
	ReleasedVersion string `json:"releasedVersion"`
	// Feature names what the location serves, for the 501 answer while no route serves
	// a method.
	Feature string `json:"-"`
}

func (l Location) validate() error {
	if id, ok := identity.NormalizeGUID(l.ID); !ok || id != l.ID {
		return fmt.Errorf("location id %q is not a lower-case GUID", l.ID)
	}
	if l.Area == "" || l.ResourceName == "" || l.RouteTemplate == "" || l.ResourceVersion < 1 || l.Feature == "" {
		return fmt.Errorf("location %s needs an area, resource, template, feature and resource version", l.ID)
	}
	for _, v := range []string{l.MinVersion, l.MaxVersion, l.ReleasedVersion} {
		if pv, ok := parseAPIVersion(v); !ok || pv.Preview {
			return fmt.Errorf("location %s has an invalid version %q (use major.minor)", l.ID, v)
		}
	}
	return nil
}

// Version range of every location Keystage publishes (devops.md §2): minVersion 1.0 keeps
// the Python client's negotiation working, 7.1 is released, 7.2 previews.
const (
	minVersion      = "1.0"
	maxVersion      = "7.2"
	releasedVersion = "7.1"
)

func loc(id, area, resource, tmpl string, rv int, feature string) Location {
	return Location{ID: id, Area: area, ResourceName: resource, RouteTemplate: tmpl, ResourceVersion: rv,
		MinVersion: minVersion, MaxVersion: maxVersion, ReleasedVersion: releasedVersion, Feature: feature}
}

// Location ids, for routes.
const (
	LocResourceAreas       = "e81700f7-3be2-46de-8624-2eb35882fcaa"
	LocProjects            = "603fe2ac-9723-48b9-88ad-09305aa6c6e1"
	LocProcesses           = "93878975-88c5-4e6a-8abb-7ddd77a8a7d8"
	LocOperations          = "9a1b74b4-2ca8-4a9f-8470-c2f2e6fdc949"
	LocPipelines           = "28e1305e-2afe-47bf-abaf-cbb0e6a91988"
	LocPipelineRuns        = "7859261e-d2e9-4a68-b820-a5d84cc5bb3d"
	LocPipelinePreview     = "53df2d18-29ea-46a9-bee0-933540f80abf"
	LocPipelineLogs        = "fb1b6d27-3957-43d5-a14b-a2d70403e545"
	LocPipelineArtifacts   = "85023071-bd5e-4438-89b0-2a5bf362a19d"
	LocBuilds              = "0cd358e1-9217-4d94-8269-1c1ee6f93dcf"
	LocBuildTimeline       = "8baac422-4c6e-4de5-8532-db96d92acffa"
	LocBuildLogs           = "35a80daf-7f30-45fc-86e8-6b813d9c90df"
	LocBuildArtifacts      = "1db06c96-014e-44e1-ac91-90b2d4b3e984"
	LocDefinitions         = "dbeaf647-6167-421a-bda9-c9327b25e2e6"
	LocDefinitionResources = "ea623316-1967-45eb-89ab-e9e6110cf2d6"
	LocAuthorizedResources = "398c85bc-81aa-4822-947c-a194a05f0fef"
	LocEndpointsOrg        = "14e48fdc-2c8b-41ce-a0c3-e26f6cc55bd0"
	LocEndpointsProject    = "e85f1c62-adfc-4b74-b618-11a150fb195e"
	LocEndpointProxy       = "cc63bb57-2a5f-4a7a-b79c-c142d308657e"
	LocEndpointHistory     = "10a16738-9299-4cd1-9a81-fd23ad6200d0"
	LocEndpointTypes       = "5a7938a4-655e-486c-b562-b78c54a7e87b"
	LocPipelinePermissions = "b5b9a4a4-e6cd-4096-853c-ab7d8b0c4eb2"
	LocPools               = "a8c47e17-4d56-4a56-92bb-de7ea7dc65be"
	LocAgents              = "e298ef32-5878-4cab-993c-043836571f42"
	LocQueues              = "900fa995-c559-4923-aae7-f8424fe4fbea"
	LocOIDCToken           = "69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2"
	LocApprovals           = "37794717-f36f-4d78-b2bf-4dc30d0cfbcd"
	LocCheckConfigurations = "86c8381e-5aee-4cde-8ae4-25c0c7f5eaea"
	LocCheckRuns           = "91282c1d-c183-444f-9554-1485bfb3879d"
)

// locationTable is every location of devops.md §2, including those other areas serve
// (runs, logs, artifacts, OIDC tokens, approvals): until their routes are registered they
// answer 501 naming the feature.
func locationTable() []Location {
	return []Location{
		loc(LocResourceAreas, "Location", "ResourceAreas", "_apis/ResourceAreas/{areaId}", 1, "resource areas"),
		loc(LocProjects, "core", "projects", "_apis/projects/{*projectId}", 4, "projects"),
		loc(LocProcesses, "core", "processes", "_apis/process/processes/{processId}", 1, "processes"),
		loc(LocOperations, "operations", "operations", "_apis/operations/{operationId}", 1, "operations"),
		loc(LocPipelines, "pipelines", "pipelines", "{project}/_apis/pipelines/{pipelineId}", 1, "pipelines"),
		loc(LocPipelineRuns, "pipelines", "runs", "{project}/_apis/pipelines/{pipelineId}/runs/{runId}", 1, "pipeline runs"),
		loc(LocPipelinePreview, "pipelines", "preview", "{project}/_apis/pipelines/{pipelineId}/preview", 1, "pipeline preview runs"),
		loc(LocPipelineLogs, "pipelines", "logs", "{project}/_apis/pipelines/{pipelineId}/runs/{runId}/logs/{logId}", 1, "run logs"),
		loc(LocPipelineArtifacts, "pipelines", "artifacts", "{project}/_apis/pipelines/{pipelineId}/runs/{runId}/artifacts", 1, "run artifacts"),
		loc(LocBuilds, "build", "builds", "{project}/_apis/build/builds/{buildId}", 7, "builds (runs)"),
		loc(LocBuildTimeline, "build", "timeline", "{project}/_apis/build/builds/{buildId}/timeline/{timelineId}", 2, "build timelines"),
		loc(LocBuildLogs, "build", "logs", "{project}/_apis/build/builds/{buildId}/logs/{logId}", 2, "build logs"),
		loc(LocBuildArtifacts, "build", "artifacts", "{project}/_apis/build/builds/{buildId}/artifacts", 5, "build artifacts"),
		loc(LocDefinitions, "build", "definitions", "{project}/_apis/build/definitions/{definitionId}", 7, "build definitions"),
		loc(LocDefinitionResources, "build", "resources", "{project}/_apis/build/definitions/{definitionId}/resources", 1, "definition resources"),
		loc(LocAuthorizedResources, "build", "authorizedresources", "{project}/_apis/build/authorizedresources", 1, "authorized resources"),
		loc(LocEndpointsOrg, "serviceendpoint", "endpoints", "_apis/serviceendpoint/endpoints/{endpointId}", 4, "service endpoints"),
		loc(LocEndpointsProject, "serviceendpoint", "endpoints", "{project}/_apis/serviceendpoint/endpoints/{endpointId}", 4, "service endpoints"),
		loc(LocEndpointProxy, "serviceendpoint", "endpointproxy", "{project}/_apis/serviceendpoint/endpointproxy", 1, "service connection verification (endpointproxy)"),
		loc(LocEndpointHistory, "serviceendpoint", "executionhistory", "{project}/_apis/serviceendpoint/{endpointId}/executionhistory", 1, "service connection execution history"),
		loc(LocEndpointTypes, "serviceendpoint", "types", "_apis/serviceendpoint/types", 1, "service endpoint types"),
		loc(LocPipelinePermissions, "pipelinePermissions", "pipelinePermissions", "{project}/_apis/pipelines/pipelinePermissions/{resourceType}/{resourceId}", 1, "pipeline permissions"),
		loc(LocPools, "distributedtask", "pools", "_apis/distributedtask/pools/{poolId}", 1, "agent pools"),
		loc(LocAgents, "distributedtask", "agents", "_apis/distributedtask/pools/{poolId}/agents/{agentId}", 1, "agents"),
		loc(LocQueues, "distributedtask", "queues", "{project}/_apis/distributedtask/queues/{queueId}", 1, "agent queues"),
		loc(LocOIDCToken, "distributedtask", "oidctoken", "{scopeIdentifier}/_apis/distributedtask/hubs/{hubName}/plans/{planId}/jobs/{jobId}/oidctoken", 1, "the OIDC token endpoint"),
		loc(LocApprovals, "approval", "approvals", "{project}/_apis/pipelines/approvals/{approvalId}", 1, "approvals"),
		loc(LocCheckConfigurations, "PipelinesChecks", "configurations", "{project}/_apis/pipelines/checks/configurations/{id}", 1, "check configurations"),
		loc(LocCheckRuns, "PipelinesChecks", "runs", "{project}/_apis/pipelines/checks/runs/{checkSuiteId}", 1, "check runs"),
	}
}

// locationArea publishes the table and serves ResourceAreas.
func (h *Handler) locationArea() Area {
	return Area{
		Name:      "location",
		Locations: locationTable(),
		Routes: []Route{
			{Location: LocResourceAreas, Method: http.MethodGet, Access: AccessAuthenticated, Handle: h.getResourceAreas},
		},
	}
}

// getResourceAreas answers an empty list, as on-premises servers do: clients then use the
// organization URL for every area.
func (h *Handler) getResourceAreas(rq *Request) error {
	if id, ok := rq.Value("areaId"); ok {
		return fault.New(fault.NotFound, "ResourceAreaNotFoundException",
			"Keystage publishes no resource areas (%s): use the organization URL for every area.", clip(id))
	}
	return rq.OK(newCollection([]struct{}{}))
}

// serveOptions answers OPTIONS /{org}/_apis and /{org}/_apis/{area} with the locations
// (of the area, matched case-insensitively). It needs an authenticated caller of the
// organization, but no permission.
func (h *Handler) serveOptions(w http.ResponseWriter, r *http.Request, orgName, area string) error {
	caller, err := h.authenticate(r)
	if err != nil {
		return err
	}
	org, err := h.svc.Organization(r.Context(), orgName)
	if err != nil {
		return err
	}
	if caller.OrgID != "" && caller.OrgID != org.ID {
		return h.svc.Authorize(caller, org, "", devops.Read)
	}
	writeJSON(w, http.StatusOK, newCollection(h.Locations(area)))
	return nil
}

// Locations returns the published locations, of area when it is not empty.
func (h *Handler) Locations(area string) []Location {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Location, 0, len(h.locs))
	for _, l := range h.locs {
		if area == "" || strings.EqualFold(area, l.Area) {
			out = append(out, *l)
		}
	}
	return out
}

// Implemented reports, for each published location id, the methods routes serve (the rest
// answer 501).
func (h *Handler) Implemented() map[string][]string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := map[string][]string{}
	for _, e := range h.org {
		if e.loc != nil {
			out[e.loc.ID] = e.allowed()
		}
	}
	return out
}
