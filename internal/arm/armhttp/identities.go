package armhttp

import (
	"net/http"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
)

type identityJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SystemData *systemDataJSON   `json:"systemData,omitempty"`
	Properties struct {
		TenantID    string `json:"tenantId"`
		PrincipalID string `json:"principalId"`
		ClientID    string `json:"clientId"`
	} `json:"properties"`
}

func renderIdentity(id arm.Identity) any {
	out := identityJSON{ID: id.ID(), Name: id.Name, Type: arm.IdentityType, Location: id.Location, Tags: tagsOrEmpty(id.Tags), SystemData: renderSystemData(id.SystemData)}
	out.Properties.TenantID, out.Properties.PrincipalID, out.Properties.ClientID = id.TenantID, id.PrincipalID, id.ClientID
	return out
}

type identityBody struct {
	Location string             `json:"location"`
	Tags     *map[string]string `json:"tags"`
}

func (b identityBody) params() arm.IdentityParams {
	p := arm.IdentityParams{Location: b.Location}
	if b.Tags != nil {
		p.Tags, p.TagsSet = *b.Tags, true
	}
	return p
}

func putIdentity(q *request) error {
	var b identityBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	id, created, err := q.h.svc.PutIdentity(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], b.params())
	if err != nil {
		return err
	}
	writeJSON(q.w, createdStatus(created), renderIdentity(id))
	return nil
}

func patchIdentity(q *request) error {
	var b identityBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	id, err := q.h.svc.PatchIdentity(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], b.params())
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderIdentity(id))
	return nil
}

func getIdentity(q *request) error {
	id, err := q.h.svc.GetIdentity(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderIdentity(id))
	return nil
}

func listIdentities(q *request) error {
	group := ""
	if len(q.args) > 1 {
		group = q.args[1]
	}
	ids, err := q.h.svc.ListIdentities(q.r.Context(), q.caller, q.args[0], group)
	if err != nil {
		return err
	}
	if group == "" {
		// Sorted by name within each group by the service; a subscription-wide list needs one
		// order across groups for paging.
		sortByKey(ids, func(id arm.Identity) string { return lowerKey(id.ID()) })
	}
	return writeList(q, ids, func(id arm.Identity) string { return lowerKey(id.ID()) }, renderIdentity)
}

func deleteIdentity(q *request) error {
	existed, err := q.h.svc.DeleteIdentity(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2])
	if err != nil {
		return err
	}
	q.w.WriteHeader(map[bool]int{true: http.StatusOK, false: http.StatusNoContent}[existed])
	return nil
}

type ficJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	SystemData *systemDataJSON `json:"systemData,omitempty"`
	Properties ficProperties   `json:"properties"`
}

type ficProperties struct {
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Audiences []string `json:"audiences"`
}

func renderFIC(identityID string) func(arm.FederatedCredential) any {
	return func(fc arm.FederatedCredential) any {
		aud := fc.Audiences
		if aud == nil {
			aud = []string{}
		}
		return ficJSON{
			ID: identityID + "/federatedIdentityCredentials/" + fc.Name, Name: fc.Name, Type: arm.FederatedCredentialType,
			Properties: ficProperties{Issuer: fc.Issuer, Subject: fc.Subject, Audiences: aud},
		}
	}
}

func identityID(q *request) string {
	return "/subscriptions/" + q.args[0] + "/resourceGroups/" + q.args[1] + "/providers/" + arm.IdentityType + "/" + q.args[2]
}

type ficBody struct {
	Properties *ficProperties `json:"properties"`
}

func putFederatedCredential(q *request) error {
	var b ficBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.Properties == nil {
		return errInvalidParameter("The federated identity credential needs properties with issuer, subject and audiences.")
	}
	in := arm.FederatedCredential{Name: q.args[3], Issuer: b.Properties.Issuer, Subject: b.Properties.Subject, Audiences: b.Properties.Audiences}
	fc, created, err := q.h.svc.PutFederatedCredential(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], in)
	if err != nil {
		return err
	}
	writeJSON(q.w, createdStatus(created), renderFIC(identityID(q))(fc))
	return nil
}

func getFederatedCredential(q *request) error {
	fc, err := q.h.svc.GetFederatedCredential(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], q.args[3])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderFIC(identityID(q))(fc))
	return nil
}

func listFederatedCredentials(q *request) error {
	fcs, err := q.h.svc.ListFederatedCredentials(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2])
	if err != nil {
		return err
	}
	sortByKey(fcs, func(fc arm.FederatedCredential) string { return lowerKey(fc.Name) })
	return writeList(q, fcs, func(fc arm.FederatedCredential) string { return lowerKey(fc.Name) }, renderFIC(identityID(q)))
}

func deleteFederatedCredential(q *request) error {
	existed, err := q.h.svc.DeleteFederatedCredential(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], q.args[3])
	if err != nil {
		return err
	}
	q.w.WriteHeader(map[bool]int{true: http.StatusOK, false: http.StatusNoContent}[existed])
	return nil
}

// identityEndpointCredentialJSON is the answer of the Keystage-only action
// POST {identity id}/issueIdentityEndpointCredential: what a process needs in its
// environment (IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID) to get tokens for the
// identity with an unmodified azidentity ManagedIdentityCredential.
type identityEndpointCredentialJSON struct {
	IdentityEndpoint string `json:"identityEndpoint"`
	IdentityHeader   string `json:"identityHeader"`
	ExpiresOn        string `json:"expiresOn,omitempty"` // absent: valid until revoked
	ClientID         string `json:"clientId"`
	PrincipalID      string `json:"principalId"`
	TenantID         string `json:"tenantId"`
	ResourceID       string `json:"resourceId"`
}

func issueIdentityEndpointCredential(q *request) error {
	id, cred, err := q.h.svc.IssueIdentityEndpointCredential(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2])
	if err != nil {
		return err
	}
	out := identityEndpointCredentialJSON{
		IdentityEndpoint: cred.Endpoint, IdentityHeader: cred.Header,
		ClientID: id.ClientID, PrincipalID: id.PrincipalID, TenantID: id.TenantID, ResourceID: id.ID(),
	}
	if !cred.ExpiresOn.IsZero() {
		out.ExpiresOn = cred.ExpiresOn.UTC().Format(time.RFC3339)
	}
	q.w.Header().Set("Cache-Control", "no-store")
	writeJSON(q.w, 200, out)
	return nil
}

func errInvalidParameter(format string, args ...any) *fault.Error {
	return fault.New(fault.BadRequest, "InvalidParameter", format, args...)
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
