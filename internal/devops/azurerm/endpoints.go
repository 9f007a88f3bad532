package azurerm

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/pipeline/job"
)

var _ orchestrator.EndpointResolver = (*Service)(nil)

// Authorization parameters and data keys Keystage adds to a connection in a job.
const (
	// ParamIdentityEndpoint is the job-scoped token endpoint of a managed identity or
	// service principal connection (see the package comment).
	ParamIdentityEndpoint = "identityEndpoint"

	DataAuthority            = "activeDirectoryAuthority"
	DataEnvironmentAuthority = "environmentAuthorityUrl"
	DataKeyVaultDNSSuffix    = "AzureKeyVaultDnsSuffix"
	DataKeyVaultResourceID   = "AzureKeyVaultServiceEndpointResourceId"
	DataResourceManagerURL   = "resourceManagerUrl"
	DataMSIClientID          = "msiclientId"
)

// codeEndpointReference is the typeKey of a job that names a connection it may not use.
const codeEndpointReference = "ResourceNotAuthorizedException"

// JobEndpoints implements orchestrator.EndpointResolver. It resolves every service
// connection the job's steps name (by name in the project, or by id), refuses connections
// the pipeline is not authorized for, rewrites the step inputs to the connections' ids
// (the agent receives ids, as from Azure DevOps), adds task-lib's ENDPOINT_* variables
// (no secret is among them) and records the run in each connection's execution history.
func (s *Service) JobEndpoints(ctx context.Context, jc orchestrator.JobContext) ([]job.Endpoint, error) {
	req := jc.Request
	if req == nil {
		return nil, nil
	}
	refs, err := References(req.Job.Steps, publicVariables(req.Variables))
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	org, err := s.devops.Organization(ctx, jc.Project.OrgID)
	if err != nil {
		return nil, err
	}
	steps := slices.Clone(req.Job.Steps)
	var out []job.Endpoint
	for _, ref := range refs {
		e, err := s.resolve(ctx, org, jc.Project.ID, ref.Value)
		if errors.Is(err, devops.ErrNotFound) {
			return nil, fault.New(fault.Forbidden, codeEndpointReference,
				"Job %s: Step %s input %s references service connection %s which could not be found. The service connection does not exist, has been disabled or has not been authorized for use.",
				jc.Job, ref.StepName, ref.Input, clip(ref.Value))
		}
		if err != nil {
			return nil, err
		}
		ok, err := s.devops.IsPipelineAuthorized(ctx, org, jc.Project.ID, devops.ResourceEndpoint, e.ID, jc.Pipeline.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fault.New(fault.Forbidden, codeEndpointReference,
				"Job %s: Step %s input %s references service connection %s which has not been authorized for use by pipeline %s. Permit the pipeline to use it (pipeline permissions), then run it again.",
				jc.Job, ref.StepName, ref.Input, clip(ref.Value), jc.Pipeline.Name)
		}
		st := steps[ref.Step]
		st.Inputs = maps.Clone(st.Inputs)
		st.Inputs[ref.Input] = e.ID
		steps[ref.Step] = st
		if slices.ContainsFunc(out, func(x job.Endpoint) bool { return x.ID == e.ID }) {
			continue
		}
		ep, err := s.jobEndpoint(org, jc, e)
		if err != nil {
			return nil, err
		}
		out = append(out, ep)
		if err := s.recordExecution(ctx, org, jc, e.ID); err != nil {
			s.log.WarnContext(ctx, "azurerm: execution history not recorded", "endpoint", e.ID, "err", err)
		}
	}
	req.Job.Steps = steps
	for _, ep := range out {
		req.Variables = append(req.Variables, endpointVariables(ep)...)
	}
	return out, nil
}

func (s *Service) resolve(ctx context.Context, org devops.Organization, projectID, ref string) (devops.ServiceEndpoint, error) {
	return ResolveEndpoint(ctx, s.devops, org, projectID, ref)
}

// ResolveEndpoint finds the connection a step input names in project: a GUID is an id
// (the connection must be shared with the project), anything else a name in the project.
// An unknown connection is an error wrapping devops.ErrNotFound.
func ResolveEndpoint(ctx context.Context, svc *devops.Service, org devops.Organization, projectID, ref string) (devops.ServiceEndpoint, error) {
	if id, ok := identity.NormalizeGUID(ref); ok {
		e, err := svc.Endpoint(ctx, org, id)
		if err != nil {
			return devops.ServiceEndpoint{}, err
		}
		if _, ok := e.InProject(projectID); !ok {
			return devops.ServiceEndpoint{}, devops.ErrNotFound
		}
		return e, nil
	}
	return svc.EndpointByName(ctx, org, projectID, ref)
}

// jobEndpoint is the connection as the job sees it.
func (s *Service) jobEndpoint(org devops.Organization, jc orchestrator.JobContext, e devops.ServiceEndpoint) (job.Endpoint, error) {
	if !strings.EqualFold(e.Type, devops.TypeAzureRM) {
		return job.Endpoint{}, fault.New(fault.BadRequest, codeEndpointReference,
			"Service connection %s is of type %s; Keystage's tasks use AzureRM connections only.", e.Name, e.Type)
	}
	name := e.Name
	if p, ok := e.InProject(jc.Project.ID); ok && p.Name != "" {
		name = p.Name
	}
	ep := job.Endpoint{
		ID: e.ID, Name: name, Type: devops.TypeAzureRM, URL: s.server + "/", Scheme: e.Scheme,
		Parameters: map[string]string{},
		Data:       maps.Clone(e.Data),
	}
	if ep.Data == nil {
		ep.Data = map[string]string{}
	}
	for _, k := range []string{devops.ParamTenantID, devops.ParamServicePrincipalID, devops.ParamScope, devops.ParamAuthenticationType} {
		if v := e.Parameters[k]; v != "" {
			ep.Parameters[k] = v
		}
	}
	ep.Data[DataAuthority] = s.authority()
	ep.Data[DataEnvironmentAuthority] = s.authority()
	ep.Data[DataResourceManagerURL] = s.server + "/"
	ep.Data[DataKeyVaultDNSSuffix] = s.vaultDNSSuffix()
	ep.Data[DataKeyVaultResourceID] = s.vaultResource()
	switch e.Scheme {
	case devops.SchemeManagedServiceIdentity:
		clientID := e.Parameters[devops.ParamServicePrincipalID]
		if clientID == "" {
			return job.Endpoint{}, fault.New(fault.BadRequest, codeEndpointReference,
				"Service connection %s uses a managed identity but names none: set its serviceprincipalid to the client id of a Keystage user-assigned managed identity.", name)
		}
		ep.Data[DataMSIClientID] = clientID
		fallthrough
	case devops.SchemeServicePrincipal:
		ep.Parameters[ParamIdentityEndpoint] = s.TokenEndpoint(org.Name, jc.Project.ID, "build", jc.PlanID, jc.JobID, e.ID)
	}
	return ep, nil
}

// endpointVariables are task-lib's ENDPOINT_* variables of ep, keyed by its id.
func endpointVariables(ep job.Endpoint) []job.Variable {
	auth, _ := json.Marshal(struct {
		Parameters map[string]string `json:"parameters"`
		Scheme     string            `json:"scheme"`
	}{ep.Parameters, ep.Scheme})
	vars := []job.Variable{
		{Name: "ENDPOINT_URL_" + ep.ID, Value: ep.URL},
		{Name: "ENDPOINT_AUTH_" + ep.ID, Value: string(auth)},
		{Name: "ENDPOINT_AUTH_SCHEME_" + ep.ID, Value: ep.Scheme},
	}
	for _, k := range slices.Sorted(maps.Keys(ep.Parameters)) {
		vars = append(vars, job.Variable{Name: "ENDPOINT_AUTH_PARAMETER_" + ep.ID + "_" + strings.ToUpper(k), Value: ep.Parameters[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(ep.Data)) {
		vars = append(vars, job.Variable{Name: "ENDPOINT_DATA_" + ep.ID + "_" + strings.ToUpper(k), Value: ep.Data[k]})
	}
	return vars
}

// publicVariables maps the request's non-secret variables by name (later ones win).
func publicVariables(vs []job.Variable) map[string]string {
	out := map[string]string{}
	for _, v := range vs {
		if !v.Secret {
			out[v.Name] = v.Value
		}
	}
	return out
}
