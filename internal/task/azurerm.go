package task

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/keystage/keystage/internal/credential"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// EndpointHost is an optional capability of Host: the service connections of the job
// (job.Request.Endpoints), looked up by id or by name, case-insensitively. Tasks fall back
// to the ENDPOINT_* variables (task-lib's convention, keyed by connection id) when the host
// does not have it.
type EndpointHost interface {
	Endpoint(idOrName string) (job.Endpoint, bool)
}

// Keys of AzureRM endpoint authorization parameters and data the tasks read.
const (
	paramTenantID           = "tenantid"
	paramServicePrincipalID = "serviceprincipalid"
	paramServicePrincipal   = "serviceprincipalkey"
	// paramIdentityEndpoint is the managed-identity-style token endpoint the server gives
	// a job for a ManagedServiceIdentity (or brokered ServicePrincipal) connection; the
	// job authenticates to it with its access token, or with paramIdentityHeader.
	paramIdentityEndpoint = "identityEndpoint"
	paramIdentityHeader   = "identityHeader"

	dataSubscriptionID       = "SubscriptionId"
	dataKeyVaultDNSSuffix    = "AzureKeyVaultDnsSuffix"
	dataKeyVaultResourceID   = "AzureKeyVaultServiceEndpointResourceId"
	dataAuthority            = "activeDirectoryAuthority"
	dataEnvironmentAuthority = "environmentAuthorityUrl"
	dataMSIClientID          = "msiclientId"
)

var (
	endpointParamKeys = []string{paramTenantID, paramServicePrincipalID, paramServicePrincipal, paramIdentityEndpoint, paramIdentityHeader, "scope", "authenticationType"}
	endpointDataKeys  = []string{dataSubscriptionID, "SubscriptionName", "environment", "scopeLevel", dataKeyVaultDNSSuffix,
		dataKeyVaultResourceID, dataAuthority, dataEnvironmentAuthority, dataMSIClientID}
)

// lookupEndpoint returns the service connection an input names (its id, or its name when
// the host resolves names), with task-lib's "Endpoint not present" error otherwise.
func lookupEndpoint(env *Env, ref string) (job.Endpoint, error) {
	if eh, ok := env.Host.(EndpointHost); ok {
		if e, ok := eh.Endpoint(ref); ok {
			return e, nil
		}
	}
	url, ok := env.Host.Variable("ENDPOINT_URL_" + ref)
	if !ok {
		return job.Endpoint{}, fmt.Errorf("Endpoint not present: %s", ref)
	}
	e := job.Endpoint{ID: ref, URL: url, Parameters: map[string]string{}, Data: map[string]string{}}
	if auth, ok := env.Host.Variable("ENDPOINT_AUTH_" + ref); ok && auth != "" {
		var a struct {
			Scheme     string            `json:"scheme"`
			Parameters map[string]string `json:"parameters"`
		}
		if err := json.Unmarshal([]byte(auth), &a); err != nil {
			return job.Endpoint{}, fmt.Errorf("the authorization of endpoint %s is not valid JSON", ref)
		}
		e.Scheme = a.Scheme
		for k, v := range a.Parameters {
			e.Parameters[k] = v
		}
	}
	if s, ok := env.Host.Variable("ENDPOINT_AUTH_SCHEME_" + ref); ok && s != "" {
		e.Scheme = s
	}
	for _, k := range endpointParamKeys {
		if v, ok := env.Host.Variable("ENDPOINT_AUTH_PARAMETER_" + ref + "_" + strings.ToUpper(k)); ok {
			e.Parameters[k] = v
		}
	}
	for _, k := range endpointDataKeys {
		if v, ok := env.Host.Variable("ENDPOINT_DATA_" + ref + "_" + strings.ToUpper(k)); ok {
			e.Data[k] = v
		}
	}
	return e, nil
}

// lookupFold returns m[key] matching key case-insensitively, or "", as task-lib's input and
// endpoint getters do.
func lookupFold(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// endpointCredential builds the credential of an AzureRM connection the way the
// azure-arm-rest package does for tasks: the connection's scheme decides, with the
// job's OIDC endpoint and access token for workload identity federation, and the
// server-given managed identity endpoint for managed identities (and for service
// principals whose key the server keeps).
func endpointCredential(env *Env, e job.Endpoint, client *http.Client) (credential.Credential, error) {
	conn := credential.Connection{
		Scheme:    e.Scheme,
		Authority: lookupFold(e.Data, dataAuthority),
		TenantID:  lookupFold(e.Parameters, paramTenantID),
		ClientID:  lookupFold(e.Parameters, paramServicePrincipalID),
	}
	if conn.Authority == "" {
		conn.Authority = lookupFold(e.Data, dataEnvironmentAuthority)
	}
	jobToken, _ := env.Host.Variable("System.AccessToken")
	switch {
	case strings.EqualFold(e.Scheme, credential.SchemeWorkloadIdentityFederation):
		uri, _ := env.Host.Variable("System.OidcRequestUri")
		if uri == "" {
			return nil, fmt.Errorf("the job has no System.OidcRequestUri: service connection %s uses workload identity federation, which needs a job run by the Keystage server", endpointLabel(e))
		}
		a, err := credential.JobAssertion(client, uri, jobToken, e.ID)
		if err != nil {
			return nil, err
		}
		conn.Assertion = a
	case strings.EqualFold(e.Scheme, credential.SchemeServicePrincipal) && lookupFold(e.Parameters, paramServicePrincipal) != "":
		conn.Secret = lookupFold(e.Parameters, paramServicePrincipal)
	case strings.EqualFold(e.Scheme, credential.SchemeServicePrincipal), strings.EqualFold(e.Scheme, credential.SchemeManagedServiceIdentity):
		conn.Scheme = credential.SchemeManagedServiceIdentity
		conn.IdentityEndpoint = lookupFold(e.Parameters, paramIdentityEndpoint)
		conn.IdentityHeader = lookupFold(e.Parameters, paramIdentityHeader)
		if conn.IdentityHeader == "" {
			conn.IdentityHeader = jobToken
		}
		if id := lookupFold(e.Data, dataMSIClientID); id != "" {
			conn.ClientID = id
		}
		if conn.IdentityEndpoint == "" {
			return nil, fmt.Errorf("service connection %s (%s) has no token endpoint for this job: it needs a job run by the Keystage server", endpointLabel(e), e.Scheme)
		}
	}
	return credential.New(conn, client)
}

func endpointLabel(e job.Endpoint) string {
	if e.Name != "" {
		return e.Name
	}
	return e.ID
}
