package devopshttp

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/azurerm"
	"github.com/keystage/keystage/internal/fault"
)

// ServiceConnectionArea serves what runs AzureRM service connections: verification
// (ExecuteServiceEndpointRequest with the TestConnection data source), execution history,
// and the job-scoped token endpoint of managed identity and service principal
// connections ({project}/_apis/distributedtask/hubs/{hubName}/plans/{planId}/jobs/{jobId}/
// serviceconnections/{connectionId}/token, the App Service managed identity protocol with
// the job access token as X-IDENTITY-HEADER). runs may be nil (execution records then
// have no result).
func ServiceConnectionArea(h *Handler, svc *azurerm.Service, runs azurerm.RunResults) Area {
	a := &connectionAPI{svc: svc, runs: runs}
	return Area{
		Name: "serviceconnections",
		Routes: []Route{
			{Location: LocEndpointProxy, Method: http.MethodPost, Access: AccessManage, Scope: "serviceendpoint", Handle: a.executeRequest},
			{Location: LocEndpointHistory, Method: http.MethodGet, Access: AccessRead, Scope: "serviceendpoint", Handle: a.executionHistory},
			{Template: "{project}/_apis/distributedtask/hubs/{hubName}/plans/{planId}/jobs/{jobId}/serviceconnections/{connectionId}/token",
				Method: http.MethodGet, Access: AccessAnonymous, Handle: a.jobToken},
		},
	}
}

type connectionAPI struct {
	svc  *azurerm.Service
	runs azurerm.RunResults
}

// endpointRequestJSON is ServiceEndpointRequest.
type endpointRequestJSON struct {
	DataSourceDetails *struct {
		DataSourceName string `json:"dataSourceName"`
	} `json:"dataSourceDetails"`
	ServiceEndpointDetails *struct {
		Type          string `json:"type"`
		URL           string `json:"url"`
		Authorization *struct {
			Scheme     string            `json:"scheme"`
			Parameters map[string]string `json:"parameters"`
		} `json:"authorization"`
		Data map[string]string `json:"data"`
	} `json:"serviceEndpointDetails"`
}

// endpointRequestResultJSON is ServiceEndpointRequestResult; errorMessage is always sent
// (terraform dereferences it).
type endpointRequestResultJSON struct {
	Result           []string `json:"result"`
	StatusCode       string   `json:"statusCode"`
	ErrorMessage     string   `json:"errorMessage"`
	CallbackRequired bool     `json:"callbackRequired"`
}

func (a *connectionAPI) executeRequest(rq *Request) error {
	var body endpointRequestJSON
	if err := rq.Decode(&body); err != nil {
		return err
	}
	source := ""
	if body.DataSourceDetails != nil {
		source = body.DataSourceDetails.DataSourceName
	}
	if !strings.EqualFold(source, "TestConnection") {
		return devops.NotImplemented("Keystage serves the TestConnection data source of service connections only; %q is not supported.", clip(source))
	}
	req := azurerm.VerifyRequest{Org: rq.Org, ProjectID: rq.Project.ID, EndpointID: rq.Query("endpointId")}
	if d := body.ServiceEndpointDetails; d != nil {
		req.Details = &azurerm.Details{Type: d.Type, URL: d.URL, Data: d.Data}
		if d.Authorization != nil {
			req.Details.Scheme, req.Details.Parameters = d.Authorization.Scheme, d.Authorization.Parameters
		}
	}
	res, err := a.svc.Verify(rq.R.Context(), req)
	if err != nil {
		return err
	}
	if res.Result == nil {
		res.Result = []string{}
	}
	return rq.OK(endpointRequestResultJSON{Result: res.Result, StatusCode: res.StatusCode, ErrorMessage: res.ErrorMessage})
}

type executionOwnerJSON struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type executionDataJSON struct {
	ID         int64              `json:"id"`
	PlanType   string             `json:"planType"`
	Definition executionOwnerJSON `json:"definition"`
	Owner      executionOwnerJSON `json:"owner"`
	StartTime  time.Time          `json:"startTime"`
	FinishTime *time.Time         `json:"finishTime,omitempty"`
	Result     string             `json:"result,omitempty"`
}

type executionRecordJSON struct {
	Data       executionDataJSON `json:"data"`
	EndpointID string            `json:"endpointId"`
}

func (a *connectionAPI) executionHistory(rq *Request) error {
	id, _ := rq.Value("endpointId")
	top := 0
	if v := rq.Query("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return devops.BadRequest("top must be a positive integer.")
		}
		top = n
	}
	var cont uint64
	if v := rq.Query("continuationToken"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return devops.BadRequest("The continuationToken is not valid.")
		}
		cont = n
	}
	recs, next, err := a.svc.Executions(rq.R.Context(), rq.Org, rq.Project.ID, id, top, cont, a.runs)
	if err != nil {
		return err
	}
	out := make([]executionRecordJSON, 0, len(recs))
	for _, r := range recs {
		d := executionDataJSON{
			ID: r.ID, PlanType: r.PlanType, StartTime: r.StartTime, Result: r.Result,
			Definition: executionOwnerJSON{ID: r.DefinitionID, Name: r.DefinitionName},
			Owner:      executionOwnerJSON{ID: int(r.ID), Name: r.RunName},
		}
		if !r.FinishTime.IsZero() {
			t := r.FinishTime
			d.FinishTime = &t
		}
		out = append(out, executionRecordJSON{Data: d, EndpointID: strings.ToLower(id)})
	}
	if next != 0 {
		rq.W.Header().Set("X-MS-ContinuationToken", strconv.FormatUint(next, 10))
	}
	return rq.OK(newCollection(out))
}

// managedIdentityResponse is the App Service managed identity answer.
type managedIdentityResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

func (a *connectionAPI) jobToken(rq *Request) error {
	q := rq.R.URL.Query()
	if len(rq.R.Header.Values("X-Forwarded-For")) > 0 || len(rq.R.Header.Values("Forwarded")) > 0 {
		return devops.BadRequest("Requests carrying X-Forwarded-For or Forwarded headers are refused.")
	}
	headers := rq.R.Header.Values("X-IDENTITY-HEADER")
	if len(headers) != 1 {
		return fault.New(fault.Unauthorized, devops.CodeUnauthorized, "The X-IDENTITY-HEADER header must carry the job access token (System.AccessToken).")
	}
	plan, _ := rq.Value("planId")
	jobID, _ := rq.Value("jobId")
	conn, _ := rq.Value("connectionId")
	tok, err := a.svc.JobToken(rq.R.Context(), azurerm.JobTokenRequest{
		Org: rq.Org, ProjectID: rq.Project.ID, PlanID: plan, JobID: jobID, ConnectionID: conn,
		JobToken: headers[0], Resource: q.Get("resource"), ClientID: q.Get("client_id"),
	})
	if err != nil {
		return err
	}
	return rq.OK(managedIdentityResponse{
		AccessToken: tok.Raw, ExpiresOn: strconv.FormatInt(tok.Claims.Expiry, 10), Resource: tok.Claims.Audience,
		TokenType: "Bearer", ClientID: tok.Claims.AppID,
	})
}
