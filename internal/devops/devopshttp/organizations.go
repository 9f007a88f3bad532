package devopshttp

import (
	"net/http"
	"time"

	"github.com/keystage/keystage/internal/devops"
)

// Organizations are managed through a Keystage-specific, server-level API (Azure DevOps
// creates organizations in its portal):
//
//	GET    /_apis/organizations                  list (administrators: all; others: those they own)
//	POST   /_apis/organizations                  create {name, description, owners:[{tenantId, objectId}]}
//	GET    /_apis/organizations/{organization}   show (administrators and owners)
//	PATCH  /_apis/organizations/{organization}   replace owners {owners:[…]}
//	DELETE /_apis/organizations/{organization}   delete with everything in it (204)
//
// Creating, changing and deleting need a Keystage administrator. Organization names are
// 1–50 letters, digits and hyphens and must not collide with the server's reserved path
// segments or look like GUIDs (the identity provider's tenants).
func (h *Handler) organizationsArea() Area {
	const list, one = "_apis/organizations", "_apis/organizations/{organization}"
	return Area{Name: "organizations", Routes: []Route{
		{Template: list, Server: true, Method: http.MethodGet, Access: AccessAuthenticated, Handle: h.listOrganizations},
		{Template: list, Server: true, Method: http.MethodPost, Access: AccessManage, Handle: h.createOrganization},
		{Template: one, Server: true, Method: http.MethodGet, Access: AccessAuthenticated, Handle: h.getOrganization},
		{Template: one, Server: true, Method: http.MethodPatch, Access: AccessManage, Handle: h.patchOrganization},
		{Template: one, Server: true, Method: http.MethodDelete, Access: AccessManage, Handle: h.deleteOrganization},
	}}
}

type organizationJSON struct {
	ID                     string                `json:"id"`
	Name                   string                `json:"name"`
	Description            string                `json:"description"`
	URL                    string                `json:"url"`
	Owners                 []devops.PrincipalRef `json:"owners"`
	CreatedBy              *identityJSON         `json:"createdBy,omitempty"`
	CreatedOn              time.Time             `json:"createdOn"`
	WorkloadIdentityIssuer string                `json:"workloadIdentityIssuer"`
}

func (h *Handler) renderOrganization(o devops.Organization) organizationJSON {
	owners := o.Owners
	if owners == nil {
		owners = []devops.PrincipalRef{}
	}
	return organizationJSON{
		ID: o.ID, Name: o.Name, Description: o.Description, URL: h.svc.OrgURL(o), Owners: owners,
		CreatedBy: identityRef(o.CreatedBy), CreatedOn: o.Created, WorkloadIdentityIssuer: h.svc.WorkloadIdentityIssuer(o),
	}
}

func (h *Handler) listOrganizations(rq *Request) error {
	orgs, err := h.svc.Organizations(rq.R.Context())
	if err != nil {
		return err
	}
	out := []organizationJSON{}
	for _, o := range orgs {
		if rq.Caller.OrgID != "" && rq.Caller.OrgID != o.ID || rq.Caller.Kind == devops.CallerJob {
			continue
		}
		if rq.Caller.Administrator || o.IsOwner(rq.Caller.Principal) {
			out = append(out, h.renderOrganization(o))
		}
	}
	return rq.OK(newCollection(out))
}

type organizationBody struct {
	Name        string                `json:"name"`
	Description string                `json:"description"`
	Owners      []devops.PrincipalRef `json:"owners"`
}

func (h *Handler) createOrganization(rq *Request) error {
	var b organizationBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	org, err := h.svc.CreateOrganization(rq.R.Context(), rq.Caller.Identity(), devops.NewOrganization{
		Name: b.Name, Description: b.Description, Owners: b.Owners,
	})
	if err != nil {
		return err
	}
	return rq.JSON(http.StatusCreated, h.renderOrganization(org))
}

// organizationFor loads the organization of the path and checks the caller may see it.
func (h *Handler) organizationFor(rq *Request) (devops.Organization, error) {
	name, _ := rq.Value("organization")
	org, err := h.svc.Organization(rq.R.Context(), name)
	if err != nil {
		return devops.Organization{}, err
	}
	if err := h.svc.Authorize(rq.Caller, org, "", devops.Manage); err != nil {
		return devops.Organization{}, err
	}
	return org, nil
}

func (h *Handler) getOrganization(rq *Request) error {
	org, err := h.organizationFor(rq)
	if err != nil {
		return err
	}
	return rq.OK(h.renderOrganization(org))
}

func (h *Handler) patchOrganization(rq *Request) error {
	org, err := h.organizationFor(rq)
	if err != nil {
		return err
	}
	var b struct {
		Owners *[]devops.PrincipalRef `json:"owners"`
	}
	if err := rq.Decode(&b); err != nil {
		return err
	}
	if b.Owners == nil {
		return devops.BadRequest("Give owners: the only property of an organization that can change.")
	}
	org, err = h.svc.SetOrganizationOwners(rq.R.Context(), org.ID, *b.Owners)
	if err != nil {
		return err
	}
	return rq.OK(h.renderOrganization(org))
}

func (h *Handler) deleteOrganization(rq *Request) error {
	org, err := h.organizationFor(rq)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteOrganization(rq.R.Context(), org.ID); err != nil {
		return err
	}
	return rq.NoContent()
}
