package azurerm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/keystage/keystage/internal/credential"
	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
)

// ARMResource is the audience of management-plane tokens.
const ARMResource = "https://management.azure.com/"

// Details are an ExecuteServiceEndpointRequest's serviceEndpointDetails: the connection as
// the client has it (possibly unsaved changes).
type Details struct {
	Type       string
	URL        string
	Scheme     string
	Parameters map[string]string
	Data       map[string]string
}

// VerifyRequest asks to verify a connection (data source TestConnection).
type VerifyRequest struct {
	Org       devops.Organization
	ProjectID string
	// EndpointID is the endpointId query value: the saved connection, whose secrets and
	// name fill in what Details lack. Empty verifies Details alone.
	EndpointID string
	// Details override the saved connection; nil verifies the saved connection.
	Details *Details
}

// VerifyResult is a ServiceEndpointRequestResult: StatusCode "ok" with an empty
// ErrorMessage, or Azure's status name of the failing call with an explanation.
type VerifyResult struct {
	StatusCode   string
	ErrorMessage string
	Result       []string
}

// Verify performs what "Verify and save" does: it gets a management token for the
// connection's identity from the identity provider (the real exchange: client secret,
// federated assertion, or managed identity endpoint) and reads the connection's scope from
// ARM (the subscription, or the resource group), both over HTTPS. Failures are in the
// result, explained in plain words; the error is for requests that cannot be verified at
// all (unknown connection, malformed details).
func (s *Service) Verify(ctx context.Context, r VerifyRequest) (VerifyResult, error) {
	c, err := s.verifyTarget(ctx, r)
	if err != nil {
		return VerifyResult{}, err
	}
	cred, err := s.verifyCredential(ctx, r.Org, c)
	if err != nil {
		return failed("BadRequest", err.Error()), nil
	}
	tok, err := cred.Token(ctx, ARMResource)
	if err != nil {
		return s.explainTokenError(ctx, c, err), nil
	}
	return s.readScope(ctx, c, tok.Value), nil
}

// verifyTarget is the connection to verify: the saved one, with Details applied.
type verifyTarget struct {
	scheme, tenantID, clientID, secret string
	subscriptionID, resourceGroup      string
	subject, issuer, name              string
}

func (s *Service) verifyTarget(ctx context.Context, r VerifyRequest) (verifyTarget, error) {
	var saved *devops.ServiceEndpoint
	params, data := map[string]string{}, map[string]string{}
	var t verifyTarget
	if r.EndpointID != "" {
		e, err := s.resolve(ctx, r.Org, r.ProjectID, r.EndpointID)
		if err != nil {
			return t, err
		}
		saved = &e
		maps.Copy(params, e.Parameters)
		maps.Copy(data, e.Data)
		t.scheme = e.Scheme
		secrets, err := s.devops.EndpointSecrets(ctx, r.Org, e.ID)
		if err != nil {
			return t, err
		}
		t.secret = secrets[devops.ParamServicePrincipal]
	}
	if d := r.Details; d != nil {
		if d.Type != "" && !strings.EqualFold(d.Type, devops.TypeAzureRM) {
			return t, devops.NotImplemented("Keystage verifies AzureRM service connections only; %q is not supported.", clip(d.Type))
		}
		if d.Scheme != "" {
			t.scheme = d.Scheme
		}
		for k, v := range d.Parameters {
			if strings.EqualFold(k, devops.ParamServicePrincipal) {
				if v != "" && v != "********" {
					t.secret = v
				}
				continue
			}
			params[strings.ToLower(k)] = v
		}
		for k, v := range d.Data {
			data[k] = v
		}
	} else if saved == nil {
		return t, devops.BadRequest("Name the service connection to verify (endpointId) or send its serviceEndpointDetails.")
	}
	t.tenantID = lookupFoldString(params, devops.ParamTenantID)
	t.clientID = lookupFoldString(params, devops.ParamServicePrincipalID)
	t.subscriptionID = lookupFoldString(data, devops.DataSubscriptionID)
	if strings.EqualFold(lookupFoldString(data, devops.DataScopeLevel), "ResourceGroup") {
		scope := strings.Split(strings.Trim(lookupFoldString(params, devops.ParamScope), "/"), "/")
		if len(scope) == 4 {
			t.resourceGroup = scope[3]
		}
	}
	if t.subscriptionID == "" {
		return t, devops.BadRequest("The service connection names no subscription (data.subscriptionId).")
	}
	if saved != nil {
		t.name = saved.Name
		t.subject = devops.WorkloadIdentitySubject(r.Org, *saved)
		t.issuer = s.issuer.IssuerURL(r.Org.ID)
	}
	return t, nil
}

func lookupFoldString(m map[string]string, key string) string {
	v, _ := lookupFold(m, key)
	return v
}

// verifyCredential builds the credential Verify exchanges, as a job would get it.
func (s *Service) verifyCredential(ctx context.Context, org devops.Organization, t verifyTarget) (credential.Credential, error) {
	conn := credential.Connection{Scheme: t.scheme, Authority: s.authority(), TenantID: t.tenantID, ClientID: t.clientID}
	switch {
	case strings.EqualFold(t.scheme, devops.SchemeServicePrincipal):
		if t.secret == "" {
			return nil, errors.New("The service connection has no service principal key (serviceprincipalkey).")
		}
		conn.Secret = t.secret
	case strings.EqualFold(t.scheme, devops.SchemeWorkloadIdentityFederation):
		if t.subject == "" {
			return nil, errors.New("Save the service connection before verifying it: the subject of its workload identity federation tokens (sc://{organization}/{project}/{connection}) needs its name.")
		}
		conn.Assertion = func(ctx context.Context) (string, error) {
			tok, err := s.issuer.Mint(ctx, org.ID, t.subject)
			return tok.Raw, err
		}
	case strings.EqualFold(t.scheme, devops.SchemeManagedServiceIdentity):
		if t.clientID == "" {
			return nil, errors.New("The service connection names no managed identity: set its serviceprincipalid to the client id of a Keystage user-assigned managed identity.")
		}
		h, err := s.identityHeader(ctx, org, t.tenantID, t.clientID, "")
		if err != nil {
			return nil, fmt.Errorf("The managed identity %s cannot be used: %s", t.clientID, safeMessage(err))
		}
		conn.IdentityEndpoint, conn.IdentityHeader = s.server+"/msi/token", h
	default:
		return nil, fmt.Errorf("The authorization scheme %q is not supported; use WorkloadIdentityFederation, ServicePrincipal or ManagedServiceIdentity.", t.scheme)
	}
	return credential.New(conn, s.cfg.HTTPClient)
}

// safeMessage is the message of a classified error, or a generic text.
func safeMessage(err error) string {
	fe, ok := fault.As(err)
	if !ok {
		return "internal error"
	}
	return fe.Message
}

func failed(status, msg string) VerifyResult {
	return VerifyResult{StatusCode: status, ErrorMessage: msg, Result: []string{}}
}

// readScope reads the subscription (or resource group) with the management token.
func (s *Service) readScope(ctx context.Context, t verifyTarget, tok string) VerifyResult {
	target := s.server + "/subscriptions/" + url.PathEscape(t.subscriptionID) + "?api-version=2022-12-01"
	what := "subscription " + t.subscriptionID
	if t.resourceGroup != "" {
		target = s.server + "/subscriptions/" + url.PathEscape(t.subscriptionID) + "/resourcegroups/" + url.PathEscape(t.resourceGroup) + "?api-version=2021-04-01"
		what = "resource group " + t.resourceGroup + " of subscription " + t.subscriptionID
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return failed("BadRequest", err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return failed("ServiceUnavailable", "Keystage could not reach its management API to read "+what+": "+err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK {
		var b struct {
			DisplayName string `json:"displayName"`
			Name        string `json:"name"`
		}
		_ = json.Unmarshal(body, &b)
		name := b.DisplayName
		if name == "" {
			name = b.Name
		}
		return VerifyResult{StatusCode: "ok", Result: []string{name}}
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	status := statusName(resp.StatusCode)
	detail := e.Error.Code
	if e.Error.Message != "" {
		detail += ": " + e.Error.Message
	}
	scope := "/subscriptions/" + t.subscriptionID
	if t.resourceGroup != "" {
		scope += "/resourceGroups/" + t.resourceGroup
	}
	grant := fmt.Sprintf("grant the identity Reader on the %s (keystage role assignment create --assignee %s --role Reader --scope %s)", scopeWord(t), t.clientID, scope)
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return failed(status, fmt.Sprintf("The identity got a token but may not read %s: %s. (%s)", what, grant, detail))
	case resp.StatusCode == http.StatusNotFound && (e.Error.Code == "SubscriptionNotFound" || e.Error.Code == "ResourceGroupNotFound"):
		return failed(status, fmt.Sprintf("%s was not found, or the identity cannot see it: check the subscription id and the scope, and %s. (%s)", capitalize(what), grant, detail))
	case resp.StatusCode == http.StatusUnauthorized:
		return failed(status, "The management API refused the identity's token: "+detail)
	}
	return failed(status, fmt.Sprintf("Reading %s failed: %s", what, detail))
}

func scopeWord(t verifyTarget) string {
	if t.resourceGroup != "" {
		return "resource group"
	}
	return "subscription"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// statusName is the HttpStatusCode name Azure DevOps puts in statusCode.
func statusName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "NotFound"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	}
	if code >= 500 {
		return "InternalServerError"
	}
	return strings.ReplaceAll(http.StatusText(code), " ", "")
}
