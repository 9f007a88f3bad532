package graph

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/identity"
)

// spRef names a service principal by object id or by appId.
type spRef struct {
	objectID string
	appID    string
}

type servicePrincipalJSON struct {
	ODataType              string   `json:"@odata.type,omitempty"`
	ID                     string   `json:"id"`
	AppID                  string   `json:"appId"`
	DisplayName            string   `json:"displayName"`
	AppDisplayName         string   `json:"appDisplayName"`
	ServicePrincipalType   string   `json:"servicePrincipalType"`
	ServicePrincipalNames  []string `json:"servicePrincipalNames"`
	AlternativeNames       []string `json:"alternativeNames"`
	AccountEnabled         bool     `json:"accountEnabled"`
	AppOwnerOrganizationID string   `json:"appOwnerOrganizationId"`
	Tags                   []string `json:"tags"`
}

// renderPrincipal renders an identity principal as a Graph service principal: an
// application's, or a managed identity's (servicePrincipalType ManagedIdentity, with its
// ARM resource id among its names, as Entra shows them).
func renderPrincipal(p identity.Principal) servicePrincipalJSON {
	out := servicePrincipalJSON{
		ID: p.ObjectID, AppID: p.ClientID, DisplayName: p.DisplayName, AppDisplayName: p.DisplayName,
		ServicePrincipalType: "Application", ServicePrincipalNames: []string{p.ClientID}, AlternativeNames: []string{},
		AccountEnabled: true, AppOwnerOrganizationID: p.TenantID, Tags: []string{},
	}
	if p.Kind == identity.KindManagedIdentity {
		out.ServicePrincipalType = "ManagedIdentity"
		out.ServicePrincipalNames = append(out.ServicePrincipalNames, p.ResourceID)
		out.AlternativeNames = []string{"isExplicit=True", p.ResourceID}
		out.AppOwnerOrganizationID = ""
	}
	return out
}

func appPrincipal(a identity.Application) identity.Principal {
	return identity.Principal{Kind: identity.KindServicePrincipal, TenantID: a.TenantID, ObjectID: a.ServicePrincipalID, ClientID: a.AppID, DisplayName: a.DisplayName}
}

func miPrincipal(m identity.ManagedIdentity) identity.Principal {
	return identity.Principal{Kind: identity.KindManagedIdentity, TenantID: m.TenantID, ObjectID: m.PrincipalID, ClientID: m.ClientID, DisplayName: m.Name, ResourceID: m.ResourceID}
}

// principals returns every service principal of the caller's tenant.
func (q *request) principals() ([]identity.Principal, error) {
	ctx, tenant := q.r.Context(), q.caller.TenantID
	apps, err := q.h.dir.Applications(ctx, tenant)
	if err != nil {
		return nil, err
	}
	mis, err := q.h.dir.ManagedIdentities(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]identity.Principal, 0, len(apps)+len(mis))
	for _, a := range apps {
		out = append(out, appPrincipal(a))
	}
	for _, m := range mis {
		out = append(out, miPrincipal(m))
	}
	return out, nil
}

// lookupPrincipal returns the service principal whose object id is id.
func (q *request) lookupPrincipal(id string) (servicePrincipalJSON, error) {
	p, err := q.h.dir.Principal(q.r.Context(), q.caller.TenantID, id)
	if errors.Is(err, identity.ErrNotFound) {
		return servicePrincipalJSON{}, notFound(id)
	}
	if err != nil {
		return servicePrincipalJSON{}, err
	}
	return renderPrincipal(p), nil
}

// resolveSP finds a service principal by object id or appId. For the id form an appId is
// accepted too, so that az ad sp show --id APP_ID resolves on the first request.
func (q *request) resolveSP(ref spRef) (identity.Principal, error) {
	if ref.objectID != "" {
		p, err := q.h.dir.Principal(q.r.Context(), q.caller.TenantID, ref.objectID)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, identity.ErrNotFound) {
			return identity.Principal{}, err
		}
		ref.appID = ref.objectID
	}
	all, err := q.principals()
	if err != nil {
		return identity.Principal{}, err
	}
	for _, p := range all {
		if strings.EqualFold(p.ClientID, ref.appID) {
			return p, nil
		}
	}
	return identity.Principal{}, notFound(ref.appID)
}

func (q *request) getServicePrincipal(ref spRef) error {
	p, err := q.resolveSP(ref)
	if err != nil {
		return err
	}
	writeJSON(q.w, http.StatusOK, withContext(renderPrincipal(p), "servicePrincipals/$entity"))
	return nil
}

func (q *request) listServicePrincipals() error {
	f, err := parseListFilter(q.query("$filter"), "appId", "displayName", "id", "servicePrincipalType", "servicePrincipalNames")
	if err != nil {
		return err
	}
	all, err := q.principals()
	if err != nil {
		return err
	}
	var out []servicePrincipalJSON
	for _, p := range all {
		sp := renderPrincipal(p)
		values := map[string]string{"appId": sp.AppID, "displayName": sp.DisplayName, "id": sp.ID, "servicePrincipalType": sp.ServicePrincipalType}
		if f.match(values, sp.ServicePrincipalNames) {
			out = append(out, sp)
		}
	}
	return writePage(q, "servicePrincipals", out, func(s servicePrincipalJSON) string { return s.ID })
}

// createServicePrincipal returns the service principal of an application. Keystage creates
// it with the application, so this only checks that the application exists.
func (q *request) createServicePrincipal() error {
	var b struct {
		AppID string `json:"appId"`
	}
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.AppID == "" {
		return badRequest("Property 'appId' is required.")
	}
	app, err := q.h.dir.Application(q.r.Context(), q.caller.TenantID, b.AppID)
	if errors.Is(err, identity.ErrNotFound) {
		return badRequest("The appId '%s' of the service principal does not reference a valid application object.", clip(b.AppID))
	}
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", q.baseURL()+"/v1.0/servicePrincipals/"+app.ServicePrincipalID)
	writeJSON(q.w, http.StatusCreated, withContext(renderPrincipal(appPrincipal(app)), "servicePrincipals/$entity"))
	return nil
}

// deleteServicePrincipal deletes an application's service principal, which in Keystage is
// deleting the application with it. Managed identities are deleted through ARM.
func (q *request) deleteServicePrincipal(ref spRef) error {
	p, err := q.resolveSP(ref)
	if err != nil {
		return err
	}
	if p.Kind == identity.KindManagedIdentity {
		return badRequest("The service principal of a managed identity is deleted with the identity; delete the user-assigned identity %s instead.", p.ResourceID)
	}
	return q.deleteApplication(appRef{appID: p.ClientID})
}

// getByIds resolves directory object ids: service principals (of applications and managed
// identities) and applications.
func (q *request) getByIDs() error {
	var b struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if len(b.IDs) > 1000 {
		return badRequest("At most 1000 ids can be resolved at once.")
	}
	want := func(typ string) bool {
		return len(b.Types) == 0 || slices.ContainsFunc(b.Types, func(t string) bool { return strings.EqualFold(t, typ) })
	}
	apps, err := q.h.dir.Applications(q.r.Context(), q.caller.TenantID)
	if err != nil {
		return err
	}
	out := []any{}
	for _, id := range b.IDs {
		if want("servicePrincipal") {
			if sp, err := q.lookupPrincipal(id); err == nil {
				sp.ODataType = "#microsoft.graph.servicePrincipal"
				out = append(out, sp)
				continue
			}
		}
		if want("application") {
			i := slices.IndexFunc(apps, func(a identity.Application) bool { return strings.EqualFold(a.ObjectID, id) })
			if i >= 0 {
				j, err := q.renderApplication(apps[i], true)
				if err != nil {
					return err
				}
				out = append(out, j)
			}
		}
	}
	writeJSON(q.w, http.StatusOK, listBody{Context: metadataPrefix + "directoryObjects", Value: out})
	return nil
}
