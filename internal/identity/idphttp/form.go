package idphttp

import (
	"encoding/base64"
	"mime"
	"net/url"
	"sort"
	"strings"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

// Parameters that carry credentials; they are refused in a query string, where proxies
// and access logs would record them.
var credentialParams = []string{"client_secret", "client_assertion", "client_assertion_type", "grant_type", "scope", "resource", "client_id"}

// parseForm decodes an application/x-www-form-urlencoded body into single values: a
// malformed body (bad escapes, ';' separators) is AADSTS9002313 and a parameter given more
// than once is AADSTS9000411, so two parsers can never read different values.
func parseForm(body string) (map[string]string, error) {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return nil, requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMalformedRequest,
			"Invalid request. Request is malformed or invalid: the body is not valid application/x-www-form-urlencoded.")
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same duplicate every time
	out := make(map[string]string, len(vals))
	for _, k := range keys {
		if len(vals[k]) > 1 {
			return nil, requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSDuplicateParameter,
				"The request is not properly formatted. The parameter '%s' is duplicated.", identity.SafeText(k))
		}
		out[k] = vals[k][0]
	}
	return out, nil
}

// parseTokenRequest decodes a token request: its Content-Type, Authorization header, raw
// query and body. v1 selects the v1 endpoint's 'resource' parameter instead of 'scope'.
// Client authentication may use the body (client_secret_post, client_assertion) or HTTP
// Basic (client_secret_basic), never both.
func parseTokenRequest(tenant, contentType, authorization, rawQuery, body string, v1 bool) (identity.ClientCredentialsRequest, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return identity.ClientCredentialsRequest{}, requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMalformedRequest,
			"Invalid request. The token endpoint accepts only application/x-www-form-urlencoded bodies.")
	}
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return identity.ClientCredentialsRequest{}, requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMalformedRequest,
				"Invalid request. The query string is malformed.")
		}
		for _, p := range credentialParams {
			if q.Has(p) {
				return identity.ClientCredentialsRequest{}, requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMalformedRequest,
					"Invalid request. The parameter '%s' must be sent in the request body, not the query string.", p)
			}
		}
	}
	form, err := parseForm(body)
	if err != nil {
		return identity.ClientCredentialsRequest{}, err
	}
	missing := func(name string) error {
		return requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMissingParameter,
			"The request body must contain the following parameter: '%s'.", name)
	}
	req := identity.ClientCredentialsRequest{
		Tenant:              tenant,
		ClientID:            form["client_id"],
		ClientSecret:        form["client_secret"],
		ClientAssertionType: form["client_assertion_type"],
		ClientAssertion:     form["client_assertion"],
	}
	if authorization != "" {
		id, secret, err := parseBasic(authorization)
		if err != nil {
			return identity.ClientCredentialsRequest{}, err
		}
		if req.ClientSecret != "" || req.ClientAssertion != "" || (req.ClientID != "" && req.ClientID != id) {
			return identity.ClientCredentialsRequest{}, requestError(fault.BadRequest, identity.CodeInvalidRequest, identity.AADSTSMalformedRequest,
				"Invalid request. Authenticate the client either with HTTP Basic or in the request body, not both.")
		}
		req.ClientID, req.ClientSecret = id, secret
	}
	grant, ok := form["grant_type"]
	switch {
	case !ok || grant == "":
		return identity.ClientCredentialsRequest{}, missing("grant_type")
	case grant != identity.GrantClientCredentials:
		return identity.ClientCredentialsRequest{}, requestError(fault.BadRequest, identity.CodeUnsupportedGrantType, identity.AADSTSUnsupportedGrant,
			"The app requested an unsupported grant type '%s'. Keystage issues app-only tokens (grant_type=client_credentials).", identity.SafeText(grant))
	case req.ClientID == "":
		return identity.ClientCredentialsRequest{}, missing("client_id")
	}
	if v1 {
		if req.Resource = form["resource"]; req.Resource == "" {
			return identity.ClientCredentialsRequest{}, missing("resource")
		}
		return req, nil
	}
	if _, ok := form["resource"]; ok {
		return identity.ClientCredentialsRequest{}, requestError(fault.BadRequest, identity.CodeInvalidRequest, aadstsResourceParam,
			"The 'resource' request parameter is not supported on the v2.0 endpoint; request scope=<resource>/.default.")
	}
	if req.Scope = form["scope"]; strings.TrimSpace(req.Scope) == "" {
		return identity.ClientCredentialsRequest{}, missing("scope")
	}
	// claims (CAE capabilities such as xms_cc) and client_info are accepted and ignored:
	// app-only tokens carry no optional claims and no client_info is returned.
	return req, nil
}

// parseBasic decodes "Basic base64(urlencode(id):urlencode(secret))" (RFC 6749 §2.3.1).
func parseBasic(authorization string) (id, secret string, err error) {
	bad := requestError(fault.Unauthorized, identity.CodeInvalidClient, identity.AADSTSMalformedRequest,
		"Invalid request. The Authorization header must be HTTP Basic client credentials.")
	scheme, value, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", bad
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return "", "", bad
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", bad
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", bad
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", bad
	}
	if id == "" || secret == "" {
		return "", "", bad
	}
	return id, secret, nil
}
