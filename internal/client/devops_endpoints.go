package client

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// EndpointFilter selects service connections in a project; zero fields match all.
type EndpointFilter struct {
	Type        string
	AuthSchemes []string
	IDs         []string
	Names       []string
}

func (f EndpointFilter) query() string {
	q := url.Values{}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	for k, v := range map[string][]string{"authSchemes": f.AuthSchemes, "endpointIds": f.IDs, "endpointNames": f.Names} {
		if len(v) > 0 {
			q.Set(k, strings.Join(v, ","))
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// ServiceEndpoints lists the project's service connections matching f.
func (d DevOps) ServiceEndpoints(ctx context.Context, org, project string, f EndpointFilter) ([]json.RawMessage, error) {
	return d.List(ctx, projPath(org, project, "serviceendpoint/endpoints")+f.query())
}

// ServiceEndpoint returns a service connection of the project by id. Azure DevOps answers
// an unknown id with 200 and null; that becomes a 404 *ResponseError here.
func (d DevOps) ServiceEndpoint(ctx context.Context, org, project, id string) (json.RawMessage, error) {
	raw, err := d.Do(ctx, http.MethodGet, projPath(org, project, "serviceendpoint/endpoints/"+segment(id)), nil)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, &ResponseError{StatusCode: http.StatusNotFound, Method: http.MethodGet,
			URL: projPath(org, project, "serviceendpoint/endpoints/"+id), Message: "Service connection " + id + " could not be found in project " + project + "."}
	}
	return raw, nil
}

// CreateServiceEndpoint creates a service connection (a ServiceEndpoint body with at least
// one serviceEndpointProjectReferences entry) on the organization route.
func (d DevOps) CreateServiceEndpoint(ctx context.Context, org string, body any) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodPost, orgPath(org, "serviceendpoint/endpoints"), body)
}

// UpdateServiceEndpoint replaces a service connection's properties (a full ServiceEndpoint
// body; secrets left out keep their values).
func (d DevOps) UpdateServiceEndpoint(ctx context.Context, org, id string, body any) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodPut, orgPath(org, "serviceendpoint/endpoints/"+segment(id)), body)
}

// DeleteServiceEndpoint removes a service connection from the projects with ids projectIDs
// (it is deleted when no project keeps it).
func (d DevOps) DeleteServiceEndpoint(ctx context.Context, org, id string, projectIDs []string) error {
	p := orgPath(org, "serviceendpoint/endpoints/"+segment(id)) + "?projectIds=" + url.QueryEscape(strings.Join(projectIDs, ","))
	_, err := d.Do(ctx, http.MethodDelete, p, nil)
	return err
}

// VerifyServiceEndpoint runs the TestConnection data source of a saved service connection
// ("Verify"): a real token exchange and a read of its scope. The answer is a
// ServiceEndpointRequestResult ({"statusCode","errorMessage","result"}); statusCode "ok"
// means verified.
func (d DevOps) VerifyServiceEndpoint(ctx context.Context, org, project, id string) (json.RawMessage, error) {
	body := map[string]any{
		"dataSourceDetails":           map[string]string{"dataSourceName": "TestConnection"},
		"resultTransformationDetails": map[string]string{},
	}
	return d.Do(ctx, http.MethodPost, projPath(org, project, "serviceendpoint/endpointproxy")+"?endpointId="+url.QueryEscape(id), body)
}

// ServiceEndpointHistory lists a service connection's execution records (the runs that used
// it), newest first.
func (d DevOps) ServiceEndpointHistory(ctx context.Context, org, project, id string) ([]json.RawMessage, error) {
	return d.List(ctx, projPath(org, project, "serviceendpoint/"+segment(id)+"/executionhistory"))
}

// PipelinePermissions returns which pipelines may use a protected resource (resourceType
// endpoint, queue, …): {"resource","allPipelines","pipelines"}.
func (d DevOps) PipelinePermissions(ctx context.Context, org, project, resourceType, resourceID string) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, permissionsPath(org, project, resourceType, resourceID), nil)
}

// PermissionUpdate changes a resource's pipeline permissions: AllPipelines, when set,
// grants or withdraws access for every pipeline; Pipelines sets single pipelines.
type PermissionUpdate struct {
	AllPipelines *bool
	Pipelines    map[int]bool
}

// UpdatePipelinePermissions applies u to a resource and returns its permissions. Runs
// waiting for a permission it grants resume.
func (d DevOps) UpdatePipelinePermissions(ctx context.Context, org, project, resourceType, resourceID string, u PermissionUpdate) (json.RawMessage, error) {
	body := map[string]any{}
	if u.AllPipelines != nil {
		body["allPipelines"] = map[string]bool{"authorized": *u.AllPipelines}
	}
	if len(u.Pipelines) > 0 {
		list := []map[string]any{}
		for _, id := range slices.Sorted(maps.Keys(u.Pipelines)) {
			list = append(list, map[string]any{"id": id, "authorized": u.Pipelines[id]})
		}
		body["pipelines"] = list
	}
	return d.Do(ctx, http.MethodPatch, permissionsPath(org, project, resourceType, resourceID), body)
}

func permissionsPath(org, project, resourceType, resourceID string) string {
	return projPath(org, project, "pipelines/pipelinePermissions/"+segment(resourceType)+"/"+segment(resourceID))
}

// Approvals lists the project's pending approvals (runs waiting for a pipeline
// permission, among others).
func (d DevOps) Approvals(ctx context.Context, org, project string) ([]json.RawMessage, error) {
	return d.List(ctx, projPath(org, project, "pipelines/approvals"))
}

// ApprovalDecision is one approval update: Status "approved" or "rejected".
type ApprovalDecision struct {
	ApprovalID string `json:"approvalId"`
	Status     string `json:"status"`
	Comment    string `json:"comment,omitempty"`
}

// UpdateApprovals records decisions on pending approvals; approving a pipeline-permission
// wait permits the pipeline (remembered) and resumes the run.
func (d DevOps) UpdateApprovals(ctx context.Context, org, project string, decisions []ApprovalDecision) ([]json.RawMessage, error) {
	raw, err := d.Do(ctx, http.MethodPatch, projPath(org, project, "pipelines/approvals"), decisions)
	if err != nil {
		return nil, err
	}
	return collectionValue(raw)
}

// AgentPools lists the organization's agent pools (name: only that pool).
func (d DevOps) AgentPools(ctx context.Context, org, name string) ([]json.RawMessage, error) {
	p := orgPath(org, "distributedtask/pools")
	if name != "" {
		p += "?poolName=" + url.QueryEscape(name)
	}
	return d.List(ctx, p)
}

// AgentPool returns one agent pool by id.
func (d DevOps) AgentPool(ctx context.Context, org string, id int) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, orgPath(org, "distributedtask/pools/"+itoa(id)), nil)
}

// Agents lists a pool's agents with their capabilities (name: only that agent).
func (d DevOps) Agents(ctx context.Context, org string, poolID int, name string) ([]json.RawMessage, error) {
	q := url.Values{"includeCapabilities": {"true"}}
	if name != "" {
		q.Set("agentName", name)
	}
	return d.List(ctx, orgPath(org, "distributedtask/pools/"+itoa(poolID)+"/agents")+"?"+q.Encode())
}

// Agent returns one agent of a pool with its capabilities.
func (d DevOps) Agent(ctx context.Context, org string, poolID, agentID int) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, orgPath(org, "distributedtask/pools/"+itoa(poolID)+"/agents/"+itoa(agentID))+"?includeCapabilities=true", nil)
}

// AgentQueues lists the project's agent queues (name: only that queue).
func (d DevOps) AgentQueues(ctx context.Context, org, project, name string) ([]json.RawMessage, error) {
	p := projPath(org, project, "distributedtask/queues")
	if name != "" {
		p += "?queueName=" + url.QueryEscape(name)
	}
	return d.List(ctx, p)
}

// AgentQueue returns one of the project's agent queues by id.
func (d DevOps) AgentQueue(ctx context.Context, org, project string, id int) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, projPath(org, project, "distributedtask/queues/"+itoa(id)), nil)
}

// collectionValue returns the value of a {"count","value"} answer.
func collectionValue(raw json.RawMessage) ([]json.RawMessage, error) {
	var c struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Value == nil {
		c.Value = []json.RawMessage{}
	}
	return c.Value, nil
}
