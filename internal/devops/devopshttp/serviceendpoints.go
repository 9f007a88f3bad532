package devopshttp

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
)

// The service endpoint area. The organization route (create, update, share, delete) and
// the project route (list, get — and, for az devops' v5 client, create, update and delete)
// share one set of handlers. GET of an unknown id answers 200 with body null, as Azure
// DevOps does; secret parameters come back null; a WorkloadIdentityFederation endpoint's
// parameters carry its computed issuer and subject.
func (h *Handler) serviceEndpointsArea() Area {
	r := func(loc, method string, access Access, fn func(*Request) error) Route {
		return Route{Location: loc, Method: method, Access: access, Scope: "serviceendpoint", Handle: fn}
	}
	return Area{Name: "serviceendpoint", Routes: []Route{
		r(LocEndpointsOrg, http.MethodPost, AccessManage, h.createEndpoint),
		r(LocEndpointsOrg, http.MethodPut, AccessManage, h.updateEndpoint),
		r(LocEndpointsOrg, http.MethodPatch, AccessManage, h.shareEndpoint),
		r(LocEndpointsOrg, http.MethodDelete, AccessManage, h.deleteEndpoint),
		r(LocEndpointsProject, http.MethodGet, AccessRead, h.getEndpoints),
		r(LocEndpointsProject, http.MethodPost, AccessManage, h.createEndpoint),
		r(LocEndpointsProject, http.MethodPut, AccessManage, h.updateEndpoint),
		r(LocEndpointsProject, http.MethodDelete, AccessManage, h.deleteEndpoint),
		r(LocEndpointTypes, http.MethodGet, AccessRead, h.getEndpointTypes),
	}}
}

type endpointBody struct {
	Name          string             `json:"name"`
	Type          string             `json:"type"`
	URL           string             `json:"url"`
	Description   string             `json:"description"`
	Owner         string             `json:"owner"`
	Data          map[string]*string `json:"data"`
	Authorization *struct {
		Scheme     string             `json:"scheme"`
		Parameters map[string]*string `json:"parameters"`
	} `json:"authorization"`
	ProjectReferences []endpointRefBody `json:"serviceEndpointProjectReferences"`
}

type endpointRefBody struct {
	ProjectReference *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"projectReference"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (b endpointRefBody) input() devops.EndpointProjectInput {
	in := devops.EndpointProjectInput{Name: b.Name, Description: b.Description}
	if p := b.ProjectReference; p != nil {
		in.Project = p.ID
		if in.Project == "" {
			in.Project = p.Name
		}
	}
	return in
}

// stringMap drops null values (a client echoing a secret it was shown as null).
func stringMap(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func (b endpointBody) input(rq *Request) devops.EndpointInput {
	in := devops.EndpointInput{Name: b.Name, Type: b.Type, URL: b.URL, Description: b.Description, Owner: b.Owner, Data: stringMap(b.Data)}
	if a := b.Authorization; a != nil {
		in.Scheme = a.Scheme
		in.Parameters = stringMap(a.Parameters)
	}
	if b.ProjectReferences != nil {
		in.Projects = []devops.EndpointProjectInput{}
		for _, r := range b.ProjectReferences {
			in.Projects = append(in.Projects, r.input())
		}
	}
	if len(in.Projects) == 0 && rq.HasProject {
		in.Projects = []devops.EndpointProjectInput{{Project: rq.Project.ID}}
	}
	return in
}

type endpointJSON struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Type            string              `json:"type"`
	URL             string              `json:"url"`
	Description     string              `json:"description"`
	Owner           string              `json:"owner"`
	Authorization   endpointAuthJSON    `json:"authorization"`
	Data            map[string]string   `json:"data"`
	IsReady         bool                `json:"isReady"`
	IsShared        bool                `json:"isShared"`
	OperationStatus operationStatusJSON `json:"operationStatus"`
	ProjectRefs     []endpointRefJSON   `json:"serviceEndpointProjectReferences"`
	CreatedBy       *identityJSON       `json:"createdBy,omitempty"`
	CreationDate    time.Time           `json:"creationDate"`
}

type endpointAuthJSON struct {
	Scheme     string             `json:"scheme"`
	Parameters map[string]*string `json:"parameters"`
}

type operationStatusJSON struct {
	State         string `json:"state"`
	StatusMessage string `json:"statusMessage"`
}

type endpointRefJSON struct {
	ProjectReference struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"projectReference"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// endpoint renders e; in a project route, the name is the endpoint's name in that project.
func (rq *Request) endpoint(e devops.ServiceEndpoint) endpointJSON {
	name := e.Name
	if rq.HasProject {
		if ref, ok := e.InProject(rq.Project.ID); ok {
			name = ref.Name
		}
	}
	params := map[string]*string{}
	for k, v := range e.Parameters {
		params[k] = &v
	}
	for _, k := range e.SecretNames {
		params[k] = nil
	}
	if e.Scheme == devops.SchemeWorkloadIdentityFederation {
		issuer, subject := rq.h.svc.WorkloadIdentityIssuer(rq.Org), devops.WorkloadIdentitySubject(rq.Org, e)
		params[devops.ParamWIFIssuer], params[devops.ParamWIFSubject] = &issuer, &subject
	}
	data := e.Data
	if data == nil {
		data = map[string]string{}
	}
	out := endpointJSON{
		ID: e.ID, Name: name, Type: e.Type, URL: e.URL, Description: e.Description, Owner: e.Owner,
		Authorization: endpointAuthJSON{Scheme: e.Scheme, Parameters: params}, Data: data,
		IsReady: true, IsShared: e.IsShared(), OperationStatus: operationStatusJSON{State: "Ready"},
		ProjectRefs: []endpointRefJSON{}, CreatedBy: identityRef(e.CreatedBy), CreationDate: e.Created,
	}
	for _, p := range e.Projects {
		var r endpointRefJSON
		r.ProjectReference.ID, r.ProjectReference.Name = p.ProjectID, p.ProjectName
		r.Name, r.Description = p.Name, p.Description
		out.ProjectRefs = append(out.ProjectRefs, r)
	}
	return out
}

func (h *Handler) createEndpoint(rq *Request) error {
	if _, ok := rq.Value("endpointId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"PUT", "PATCH", "DELETE"}}
	}
	var b endpointBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	e, err := h.svc.CreateEndpoint(rq.R.Context(), rq.Org, rq.Caller.Identity(), b.input(rq))
	if err != nil {
		return err
	}
	return rq.OK(rq.endpoint(e))
}

func (h *Handler) updateEndpoint(rq *Request) error {
	switch op := rq.Query("operation"); {
	case op == "" || strings.EqualFold(op, "ConvertAuthenticationScheme"):
		// Converting the scheme is a plain update: the body carries the new scheme.
	default:
		return devops.NotImplemented("The service connection operation %q is not supported.", clip(op))
	}
	id, ok := rq.Value("endpointId")
	if !ok {
		return h.updateEndpoints(rq)
	}
	var b endpointBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	in := b.input(rq)
	if b.ProjectReferences == nil {
		in.Projects = nil
	}
	e, err := h.svc.UpdateEndpoint(rq.R.Context(), rq.Org, rq.Caller.Identity(), id, in)
	if err != nil {
		return err
	}
	return rq.OK(rq.endpoint(e))
}

// updateEndpoints is UpdateServiceEndpoints: a list of endpoints, each with its id.
func (h *Handler) updateEndpoints(rq *Request) error {
	var bodies []struct {
		ID string `json:"id"`
		endpointBody
	}
	if err := rq.Decode(&bodies); err != nil {
		return err
	}
	if len(bodies) > 100 {
		return devops.BadRequest("At most 100 service connections can be updated at once.")
	}
	out := []endpointJSON{}
	for _, b := range bodies {
		if b.ID == "" {
			return devops.BadRequest("Every service connection to update needs its id.")
		}
		in := b.input(rq)
		if b.ProjectReferences == nil {
			in.Projects = nil
		}
		e, err := h.svc.UpdateEndpoint(rq.R.Context(), rq.Org, rq.Caller.Identity(), b.ID, in)
		if err != nil {
			return err
		}
		out = append(out, rq.endpoint(e))
	}
	return rq.OK(newCollection(out))
}

func (h *Handler) shareEndpoint(rq *Request) error {
	id, ok := rq.Value("endpointId")
	if !ok {
		return &methodError{method: rq.R.Method, allowed: []string{"POST", "PUT"}}
	}
	var refs []endpointRefBody
	if err := rq.Decode(&refs); err != nil {
		return err
	}
	in := make([]devops.EndpointProjectInput, 0, len(refs))
	for _, r := range refs {
		in = append(in, r.input())
	}
	if err := h.svc.ShareEndpoint(rq.R.Context(), rq.Org, id, in); err != nil {
		return err
	}
	return rq.NoContent()
}

// deleteEndpoint removes the endpoint from the projects of ?projectIds= (on the project
// route, the route's project by default). deep=true asks Azure DevOps to delete the
// service principal it created; Keystage never creates one, so there is nothing more to
// delete.
func (h *Handler) deleteEndpoint(rq *Request) error {
	id, ok := rq.Value("endpointId")
	if !ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "POST"}}
	}
	if _, err := rq.QueryBool("deep"); err != nil {
		return err
	}
	projects := rq.QueryList("projectIds")
	if len(projects) == 0 && rq.HasProject {
		projects = []string{rq.Project.ID}
	}
	if err := h.svc.DeleteEndpoint(rq.R.Context(), rq.Org, id, projects); err != nil {
		return err
	}
	return rq.NoContent()
}

func (h *Handler) getEndpoints(rq *Request) error {
	if !rq.HasProject {
		return devops.BadRequest("Listing service connections needs a project: use /{organization}/{project}/_apis/serviceendpoint/endpoints.")
	}
	ctx := rq.R.Context()
	if id, ok := rq.Value("endpointId"); ok {
		e, err := h.svc.Endpoint(ctx, rq.Org, id)
		if errors.Is(err, devops.ErrNotFound) {
			return rq.OK(nil) // Azure DevOps answers 200 null for an unknown id
		}
		if err != nil {
			return err
		}
		if _, ok := e.InProject(rq.Project.ID); !ok {
			return rq.OK(nil)
		}
		return rq.OK(rq.endpoint(e))
	}
	if _, err := rq.QueryBool("includeFailed"); err != nil {
		return err
	}
	if _, err := rq.QueryBool("includeDetails"); err != nil {
		return err
	}
	f := devops.EndpointFilter{
		Type: rq.Query("type"), AuthSchemes: rq.QueryList("authSchemes"), IDs: rq.QueryList("endpointIds"),
		Names: rq.QueryList("endpointNames"), Owner: rq.Query("owner"),
	}
	list, err := h.svc.Endpoints(ctx, rq.Org, rq.Project.ID, f)
	if err != nil {
		return err
	}
	out := []endpointJSON{}
	for _, e := range list {
		out = append(out, rq.endpoint(e))
	}
	return rq.OK(newCollection(out))
}

type inputDescriptorJSON struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	InputMode      string `json:"inputMode"`
	IsConfidential bool   `json:"isConfidential"`
	Validation     struct {
		DataType   string `json:"dataType"`
		IsRequired bool   `json:"isRequired"`
	} `json:"validation"`
}

func input(id, name, dataType string, required, secret bool) inputDescriptorJSON {
	d := inputDescriptorJSON{ID: id, Name: name, InputMode: "textBox", IsConfidential: secret}
	if secret {
		d.InputMode = "passwordBox"
	}
	d.Validation.DataType, d.Validation.IsRequired = dataType, required
	return d
}

type endpointTypeJSON struct {
	Name                  string                `json:"name"`
	DisplayName           string                `json:"displayName"`
	Description           string                `json:"description"`
	AuthenticationSchemes []authSchemeJSON      `json:"authenticationSchemes"`
	InputDescriptors      []inputDescriptorJSON `json:"inputDescriptors"`
	EndpointURL           map[string]any        `json:"endpointUrl"`
}

type authSchemeJSON struct {
	Scheme           string                `json:"scheme"`
	DisplayName      string                `json:"displayName"`
	InputDescriptors []inputDescriptorJSON `json:"inputDescriptors"`
}

// getEndpointTypes describes the one type Keystage supports, AzureRM, with its schemes.
func (h *Handler) getEndpointTypes(rq *Request) error {
	tenant := input(devops.ParamTenantID, "Tenant ID", "guid", true, false)
	spn := input(devops.ParamServicePrincipalID, "Service principal (client) ID", "guid", true, false)
	t := endpointTypeJSON{
		Name: "azurerm", DisplayName: "Azure Resource Manager",
		Description: "Service connection to Keystage's Azure-Resource-Manager-shaped management plane, scoped to a subscription or one resource group.",
		EndpointURL: map[string]any{"displayName": "Server Url", "value": h.svc.ServerURL() + "/"},
		InputDescriptors: []inputDescriptorJSON{
			input(devops.DataSubscriptionID, "Subscription ID", "guid", true, false),
			input(devops.DataSubscriptionName, "Subscription name", "string", false, false),
			input(devops.DataScopeLevel, "Scope level (Subscription or ResourceGroup)", "string", false, false),
			input(devops.DataEnvironment, "Environment (AzureCloud)", "string", false, false),
		},
		AuthenticationSchemes: []authSchemeJSON{
			{Scheme: devops.SchemeWorkloadIdentityFederation, DisplayName: "Workload identity federation", InputDescriptors: []inputDescriptorJSON{tenant, spn}},
			{Scheme: devops.SchemeServicePrincipal, DisplayName: "Service principal (secret)", InputDescriptors: []inputDescriptorJSON{tenant, spn,
				input(devops.ParamServicePrincipal, "Service principal key", "string", true, true)}},
			{Scheme: devops.SchemeManagedServiceIdentity, DisplayName: "Managed identity", InputDescriptors: []inputDescriptorJSON{tenant,
				input(devops.ParamServicePrincipalID, "Managed identity client ID", "guid", false, false)}},
		},
	}
	if typ := rq.Query("type"); typ != "" && !strings.EqualFold(typ, "azurerm") {
		return rq.OK(newCollection([]endpointTypeJSON{}))
	}
	if scheme := rq.Query("scheme"); scheme != "" {
		t.AuthenticationSchemes = slices.DeleteFunc(t.AuthenticationSchemes, func(a authSchemeJSON) bool { return !strings.EqualFold(a.Scheme, scheme) })
		if len(t.AuthenticationSchemes) == 0 {
			return rq.OK(newCollection([]endpointTypeJSON{}))
		}
	}
	return rq.OK(newCollection([]endpointTypeJSON{t}))
}
