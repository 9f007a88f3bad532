package devops

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Service connection types and schemes Keystage supports.
const (
	TypeAzureRM = "AzureRM"

	SchemeManagedServiceIdentity     = "ManagedServiceIdentity"
	SchemeWorkloadIdentityFederation = "WorkloadIdentityFederation"
	SchemeServicePrincipal           = "ServicePrincipal"

	OwnerLibrary = "library"
)

// AzureRM authorization parameter and data keys (canonical spelling; clients' keys are
// matched case-insensitively).
const (
	ParamTenantID           = "tenantid"
	ParamServicePrincipalID = "serviceprincipalid"
	ParamAuthenticationType = "authenticationType"
	ParamServicePrincipal   = "serviceprincipalkey"
	ParamCertificate        = "servicePrincipalCertificate"
	ParamScope              = "scope"
	// ParamWIFIssuer and ParamWIFSubject are computed (WorkloadIdentity) and returned,
	// never stored: values clients send back are discarded.
	ParamWIFIssuer  = "workloadIdentityFederationIssuer"
	ParamWIFSubject = "workloadIdentityFederationSubject"

	DataSubscriptionID   = "subscriptionId"
	DataSubscriptionName = "subscriptionName"
	DataEnvironment      = "environment"
	DataScopeLevel       = "scopeLevel"
	DataCreationMode     = "creationMode"
	DataIdentityType     = "identityType"
)

var azureRMParams = []string{ParamTenantID, ParamServicePrincipalID, ParamAuthenticationType, ParamServicePrincipal,
	ParamCertificate, ParamScope, ParamWIFIssuer, ParamWIFSubject}

// secretParams are never stored with the endpoint nor returned.
var secretParams = []string{ParamServicePrincipal, ParamCertificate}

var azureRMData = []string{DataSubscriptionID, DataSubscriptionName, DataEnvironment, DataScopeLevel,
	DataCreationMode, DataIdentityType, "managementGroupId", "managementGroupName", "resourceGroupName"}

// IsSecretParameter reports whether an authorization parameter holds a secret.
func IsSecretParameter(name string) bool {
	return slices.ContainsFunc(secretParams, func(p string) bool { return strings.EqualFold(p, name) })
}

// WorkloadIdentityIssuer returns the issuer of the organization's workload identity
// tokens: "{ServerURL}/_oidc/{orgId}", Keystage's counterpart of
// https://vstoken.dev.azure.com/{orgId}. The OIDC token endpoint signs with this issuer
// and serves its discovery document under it.
func (s *Service) WorkloadIdentityIssuer(org Organization) string {
	return s.serverURL + "/_oidc/" + org.ID
}

// WorkloadIdentitySubject returns the subject of the endpoint's workload identity tokens,
// sc://{org}/{project}/{connection}, from the endpoint's first project reference with
// the current names (renaming any of them changes the subject, as in Azure DevOps).
func WorkloadIdentitySubject(org Organization, e ServiceEndpoint) string {
	if len(e.Projects) == 0 {
		return ""
	}
	r := e.Projects[0]
	return "sc://" + org.Name + "/" + r.ProjectName + "/" + r.Name
}

// fillEndpoint validates in into e and returns the secret parameters to store. Secrets
// absent from in keep their value in old.
func (s *Service) fillEndpoint(e *ServiceEndpoint, in EndpointInput, old map[string]string) (map[string]string, error) {
	if err := checkEndpointName(in.Name); err != nil {
		return nil, err
	}
	e.Name = in.Name
	if !strings.EqualFold(in.Type, TypeAzureRM) {
		return nil, NotImplemented("Keystage supports service connections of type AzureRM (Azure Resource Manager) only; %q is not supported.", clip(in.Type))
	}
	e.Type = TypeAzureRM
	switch {
	case in.Owner == "" || strings.EqualFold(in.Owner, OwnerLibrary):
		e.Owner = OwnerLibrary
	default:
		return nil, BadRequest("The service connection owner %q is not supported; use library.", clip(in.Owner))
	}
	if len(in.Description) > 1024 {
		return nil, BadRequest("The service connection description is longer than 1024 characters.")
	}
	e.Description = in.Description
	if in.URL == "" {
		e.URL = s.serverURL + "/"
	} else if u, err := url.Parse(in.URL); err != nil || u.Scheme != "https" || u.Host == "" || len(in.URL) > 2048 {
		return nil, BadRequest("The service connection url %q must be an https URL.", clip(in.URL))
	} else {
		e.URL = in.URL
	}
	params, err := canonicalKeys(in.Parameters, azureRMParams, false, "authorization parameter")
	if err != nil {
		return nil, err
	}
	delete(params, ParamWIFIssuer)
	delete(params, ParamWIFSubject)
	data, err := canonicalKeys(in.Data, azureRMData, true, "data")
	if err != nil {
		return nil, err
	}
	secrets := map[string]string{}
	for _, k := range secretParams {
		if v, ok := params[k]; ok {
			delete(params, k)
			if v != "" {
				secrets[k] = v
			}
		}
	}
	switch {
	case strings.EqualFold(in.Scheme, SchemeWorkloadIdentityFederation):
		e.Scheme = SchemeWorkloadIdentityFederation
		if len(secrets) > 0 {
			return nil, BadRequest("A WorkloadIdentityFederation service connection has no secret; remove serviceprincipalkey.")
		}
		if strings.EqualFold(data[DataCreationMode], "Automatic") {
			return nil, NotImplemented("creationMode Automatic is not supported: Keystage does not create app registrations for service connections. Create the app registration or managed identity, then create the connection with creationMode Manual and its client id as serviceprincipalid.")
		}
		if err := requireGUIDs(params, ParamTenantID, ParamServicePrincipalID); err != nil {
			return nil, err
		}
		old = nil
	case strings.EqualFold(in.Scheme, SchemeServicePrincipal):
		e.Scheme = SchemeServicePrincipal
		if strings.EqualFold(data[DataCreationMode], "Automatic") {
			return nil, NotImplemented("creationMode Automatic is not supported: Keystage does not create service principals for service connections.")
		}
		if err := requireGUIDs(params, ParamTenantID, ParamServicePrincipalID); err != nil {
			return nil, err
		}
		switch at := params[ParamAuthenticationType]; {
		case at == "" || strings.EqualFold(at, "spnKey"):
			params[ParamAuthenticationType] = "spnKey"
		case strings.EqualFold(at, "spnCertificate"):
			return nil, NotImplemented("Certificate credentials (authenticationType spnCertificate) are not supported for service connections; use spnKey with serviceprincipalkey.")
		default:
			return nil, BadRequest("The authenticationType %q is invalid; use spnKey.", clip(at))
		}
		if _, ok := secrets[ParamCertificate]; ok {
			return nil, NotImplemented("Certificate credentials (servicePrincipalCertificate) are not supported for service connections; use serviceprincipalkey.")
		}
		if secrets[ParamServicePrincipal] == "" {
			if old[ParamServicePrincipal] == "" {
				return nil, BadRequest("A ServicePrincipal service connection needs serviceprincipalkey.")
			}
			secrets[ParamServicePrincipal] = old[ParamServicePrincipal]
		}
	case strings.EqualFold(in.Scheme, SchemeManagedServiceIdentity):
		e.Scheme = SchemeManagedServiceIdentity
		if len(secrets) > 0 {
			return nil, BadRequest("A ManagedServiceIdentity service connection has no secret; remove serviceprincipalkey.")
		}
		if err := requireGUIDs(params, ParamTenantID); err != nil {
			return nil, err
		}
		// The identity is named by its client id: Keystage has no agent machine identity to
		// fall back on, as Azure's managed identity connections without one do.
		if err := requireGUIDs(params, ParamTenantID, ParamServicePrincipalID); err != nil {
			return nil, err
		}
	default:
		return nil, BadRequest("The authorization scheme %q is not supported for AzureRM; use WorkloadIdentityFederation, ServicePrincipal or ManagedServiceIdentity.", clip(in.Scheme))
	}
	if err := checkAzureRMScope(params, data); err != nil {
		return nil, err
	}
	e.Parameters, e.Data = params, data
	e.SecretNames = slices.Sorted(maps.Keys(secrets))
	return secrets, nil
}

// checkAzureRMScope validates the scope: a subscription, optionally one resource group.
func checkAzureRMScope(params, data map[string]string) error {
	if env := data[DataEnvironment]; env == "" {
		data[DataEnvironment] = "AzureCloud"
	} else if !strings.EqualFold(env, "AzureCloud") {
		return NotImplemented("The environment %q is not supported: Keystage is a single cloud; use AzureCloud.", clip(env))
	} else {
		data[DataEnvironment] = "AzureCloud"
	}
	if data[DataCreationMode] == "" {
		data[DataCreationMode] = "Manual"
	}
	level := data[DataScopeLevel]
	switch {
	case level == "" || strings.EqualFold(level, "Subscription"):
		data[DataScopeLevel] = "Subscription"
	case strings.EqualFold(level, "ResourceGroup"):
		data[DataScopeLevel] = "ResourceGroup"
	case strings.EqualFold(level, "ManagementGroup"):
		return NotImplemented("Management group scope is not supported: Keystage has no management groups; scope the connection to a subscription or a resource group.")
	default:
		return BadRequest("The scopeLevel %q is invalid; use Subscription or ResourceGroup.", clip(level))
	}
	if err := requireGUIDs(data, DataSubscriptionID); err != nil {
		return err
	}
	sub := data[DataSubscriptionID]
	scope := params[ParamScope]
	if data[DataScopeLevel] == "Subscription" {
		if scope != "" && !strings.EqualFold(strings.TrimRight(scope, "/"), "/subscriptions/"+sub) {
			return BadRequest("The scope %q does not match subscription %s.", clip(scope), sub)
		}
		return nil
	}
	parts := strings.Split(strings.Trim(scope, "/"), "/")
	if len(parts) != 4 || !strings.EqualFold(parts[0], "subscriptions") || !strings.EqualFold(parts[1], sub) ||
		!strings.EqualFold(parts[2], "resourcegroups") || parts[3] == "" || len(parts[3]) > 90 {
		return BadRequest("A ResourceGroup service connection needs the scope /subscriptions/%s/resourcegroups/{name}.", sub)
	}
	return nil
}

func requireGUIDs(m map[string]string, keys ...string) error {
	for _, k := range keys {
		g, ok := normalizeGUID(m[k])
		if !ok {
			return BadRequest("%s must be a GUID.", k)
		}
		m[k] = g
	}
	return nil
}

// canonicalKeys copies m with known keys spelled canonically. Unknown keys are kept when
// keepUnknown, refused otherwise (an unknown authorization parameter could be a secret that
// would then be echoed back).
func canonicalKeys(m map[string]string, known []string, keepUnknown bool, what string) (map[string]string, error) {
	if len(m) > 64 {
		return nil, BadRequest("A service connection has at most 64 %s entries.", what)
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if k == "" || len(k) > 128 || len(v) > 16<<10 {
			return nil, BadRequest("A service connection %s has an empty or overlong name or value.", what)
		}
		i := slices.IndexFunc(known, func(c string) bool { return strings.EqualFold(c, k) })
		switch {
		case i >= 0:
			k = known[i]
		case !keepUnknown:
			return nil, BadRequest("The %s %q is not supported for AzureRM service connections.", what, clip(k))
		}
		if _, dup := out[k]; dup {
			return nil, BadRequest("The %s %s is given twice.", what, k)
		}
		out[k] = v
	}
	return out, nil
}
