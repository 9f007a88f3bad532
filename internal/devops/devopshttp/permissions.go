package devopshttp

import (
	"net/http"
	"time"

	"github.com/keystage/keystage/internal/devops"
)

// The pipeline permissions area, and the legacy build views of the same state:
// authorizedresources (a resource's "all pipelines" permission) and
// definitions/{id}/resources (one pipeline's authorizations). All views read and write
// devops.ResourcePermissions, so they always agree.
func (h *Handler) permissionsArea() Area {
	r := func(loc, method string, access Access, fn func(*Request) error) Route {
		return Route{Location: loc, Method: method, Access: access, Scope: "build", Handle: fn}
	}
	return Area{Name: "pipeline permissions", Routes: []Route{
		r(LocPipelinePermissions, http.MethodGet, AccessRead, h.getPipelinePermissions),
		r(LocPipelinePermissions, http.MethodPatch, AccessManage, h.patchPipelinePermissions),
		r(LocAuthorizedResources, http.MethodGet, AccessRead, h.getAuthorizedResources),
		r(LocAuthorizedResources, http.MethodPatch, AccessManage, h.patchAuthorizedResources),
		r(LocDefinitionResources, http.MethodGet, AccessRead, h.getDefinitionResources),
		r(LocDefinitionResources, http.MethodPatch, AccessManage, h.patchDefinitionResources),
	}}
}

type resourcePermissionsJSON struct {
	Resource     resourceJSON       `json:"resource"`
	AllPipelines *permissionJSON    `json:"allPipelines"`
	Pipelines    []pipelinePermJSON `json:"pipelines"`
}

type resourceJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type permissionJSON struct {
	Authorized   bool          `json:"authorized"`
	AuthorizedBy *identityJSON `json:"authorizedBy,omitempty"`
	AuthorizedOn time.Time     `json:"authorizedOn"`
}

type pipelinePermJSON struct {
	ID int `json:"id"`
	permissionJSON
}

func renderPermissions(rp devops.ResourcePermissions) resourcePermissionsJSON {
	out := resourcePermissionsJSON{
		Resource:  resourceJSON{Type: rp.ResourceType, ID: rp.ResourceID, Name: rp.ResourceName},
		Pipelines: []pipelinePermJSON{},
	}
	if a := rp.AllPipelines; a != nil {
		out.AllPipelines = &permissionJSON{Authorized: a.Authorized, AuthorizedBy: identityRef(a.AuthorizedBy), AuthorizedOn: a.AuthorizedOn}
	}
	for _, p := range rp.Pipelines {
		out.Pipelines = append(out.Pipelines, pipelinePermJSON{ID: p.PipelineID, permissionJSON: permissionJSON{
			Authorized: p.Authorized, AuthorizedBy: identityRef(p.AuthorizedBy), AuthorizedOn: p.AuthorizedOn,
		}})
	}
	return out
}

type permissionsBody struct {
	Resource *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"resource"`
	AllPipelines *struct {
		Authorized *bool `json:"authorized"`
	} `json:"allPipelines"`
	Pipelines []struct {
		ID         *int  `json:"id"`
		Authorized *bool `json:"authorized"`
	} `json:"pipelines"`
}

func (b permissionsBody) update() (devops.PermissionUpdate, error) {
	var u devops.PermissionUpdate
	if b.AllPipelines != nil {
		if b.AllPipelines.Authorized == nil {
			return u, devops.BadRequest("allPipelines needs authorized (true or false).")
		}
		u.AllPipelines = b.AllPipelines.Authorized
	}
	for _, p := range b.Pipelines {
		if p.ID == nil || p.Authorized == nil {
			return u, devops.BadRequest("Every pipelines entry needs an id and authorized.")
		}
		u.Pipelines = append(u.Pipelines, devops.PipelineAuthorization{PipelineID: *p.ID, Authorized: *p.Authorized})
	}
	return u, nil
}

// resourceValues returns the resource of the path; batch is true when the path has none.
func resourceValues(rq *Request) (typ, id string, batch bool, err error) {
	typ, hasType := rq.Value("resourceType")
	id, hasID := rq.Value("resourceId")
	switch {
	case hasType && hasID:
		return typ, id, false, nil
	case !hasType && !hasID:
		return "", "", true, nil
	}
	return "", "", false, devops.BadRequest("Name the resource as /pipelinePermissions/{resourceType}/{resourceId}.")
}

func (h *Handler) getPipelinePermissions(rq *Request) error {
	typ, id, batch, err := resourceValues(rq)
	if err != nil {
		return err
	}
	if batch || !rq.HasProject {
		return devops.BadRequest("Name the project and the resource: /{project}/_apis/pipelines/pipelinePermissions/{resourceType}/{resourceId}.")
	}
	rp, err := h.svc.PipelinePermissions(rq.R.Context(), rq.Org, rq.Project.ID, typ, id)
	if err != nil {
		return err
	}
	return rq.OK(renderPermissions(rp))
}

func (h *Handler) patchPipelinePermissions(rq *Request) error {
	typ, id, batch, err := resourceValues(rq)
	if err != nil {
		return err
	}
	if !rq.HasProject {
		return devops.BadRequest("Pipeline permissions belong to a project: /{project}/_apis/pipelines/pipelinePermissions.")
	}
	ctx, by := rq.R.Context(), rq.Caller.Identity()
	if !batch {
		var b permissionsBody
		if err := rq.Decode(&b); err != nil {
			return err
		}
		u, err := b.update()
		if err != nil {
			return err
		}
		rp, err := h.svc.UpdatePipelinePermissions(ctx, rq.Org, rq.Project.ID, typ, id, by, u)
		if err != nil {
			return err
		}
		return rq.OK(renderPermissions(rp))
	}
	var bodies []permissionsBody
	if err := rq.Decode(&bodies); err != nil {
		return err
	}
	updates := make([]devops.ResourcePermissionsUpdate, 0, len(bodies))
	for _, b := range bodies {
		if b.Resource == nil || b.Resource.Type == "" || b.Resource.ID == "" {
			return devops.BadRequest("Every entry of a batch update needs resource.type and resource.id.")
		}
		u, err := b.update()
		if err != nil {
			return err
		}
		updates = append(updates, devops.ResourcePermissionsUpdate{ResourceType: b.Resource.Type, ResourceID: b.Resource.ID, PermissionUpdate: u})
	}
	rps, err := h.svc.UpdatePipelinePermissionsBatch(ctx, rq.Org, rq.Project.ID, by, updates)
	if err != nil {
		return err
	}
	out := make([]resourcePermissionsJSON, 0, len(rps))
	for _, rp := range rps {
		out = append(out, renderPermissions(rp))
	}
	return rq.OK(newCollection(out))
}

type resourceRefJSON struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	Authorized bool   `json:"authorized"`
}

type resourceRefBody struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	Authorized *bool  `json:"authorized"`
}

func renderRefs(refs []devops.ResourceReference) collection[resourceRefJSON] {
	out := make([]resourceRefJSON, 0, len(refs))
	for _, r := range refs {
		out = append(out, resourceRefJSON{Type: r.Type, ID: r.ID, Name: r.Name, Authorized: r.Authorized})
	}
	return newCollection(out)
}

func decodeRefs(rq *Request) ([]devops.ResourceReference, error) {
	var bodies []resourceRefBody
	if err := rq.Decode(&bodies); err != nil {
		return nil, err
	}
	refs := make([]devops.ResourceReference, 0, len(bodies))
	for _, b := range bodies {
		if b.Type == "" || b.ID == "" || b.Authorized == nil {
			return nil, devops.BadRequest("Every resource needs type, id and authorized.")
		}
		refs = append(refs, devops.ResourceReference{Type: b.Type, ID: b.ID, Name: b.Name, Authorized: *b.Authorized})
	}
	return refs, nil
}

func (h *Handler) getAuthorizedResources(rq *Request) error {
	if !rq.HasProject {
		return devops.BadRequest("Authorized resources belong to a project.")
	}
	refs, err := h.svc.AuthorizedResources(rq.R.Context(), rq.Org, rq.Project.ID, rq.Query("type"), rq.Query("id"))
	if err != nil {
		return err
	}
	return rq.OK(renderRefs(refs))
}

func (h *Handler) patchAuthorizedResources(rq *Request) error {
	if !rq.HasProject {
		return devops.BadRequest("Authorized resources belong to a project.")
	}
	refs, err := decodeRefs(rq)
	if err != nil {
		return err
	}
	out, err := h.svc.AuthorizeProjectResources(rq.R.Context(), rq.Org, rq.Project.ID, rq.Caller.Identity(), refs)
	if err != nil {
		return err
	}
	return rq.OK(renderRefs(out))
}

func (h *Handler) definitionFor(rq *Request) (int, error) {
	if !rq.HasProject {
		return 0, devops.BadRequest("Definition resources belong to a project.")
	}
	if _, ok := rq.Value("definitionId"); !ok {
		return 0, devops.BadRequest("Name the definition: /{project}/_apis/build/definitions/{definitionId}/resources.")
	}
	return rq.IntValue("definitionId", definitionNotFound)
}

func (h *Handler) getDefinitionResources(rq *Request) error {
	id, err := h.definitionFor(rq)
	if err != nil {
		return err
	}
	refs, err := h.svc.DefinitionResources(rq.R.Context(), rq.Org, rq.Project.ID, id)
	if err != nil {
		return err
	}
	return rq.OK(renderRefs(refs))
}

func (h *Handler) patchDefinitionResources(rq *Request) error {
	id, err := h.definitionFor(rq)
	if err != nil {
		return err
	}
	refs, err := decodeRefs(rq)
	if err != nil {
		return err
	}
	out, err := h.svc.AuthorizeDefinitionResources(rq.R.Context(), rq.Org, rq.Project.ID, id, rq.Caller.Identity(), refs)
	if err != nil {
		return err
	}
	return rq.OK(renderRefs(out))
}
