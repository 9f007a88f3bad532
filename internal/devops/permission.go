package devops

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

// Protected resource types of pipeline permissions.
const (
	ResourceEndpoint      = "endpoint"
	ResourceQueue         = "queue"
	ResourceVariableGroup = "variablegroup"
	ResourceEnvironment   = "environment"
	ResourceRepository    = "repository"
)

var resourceTypes = []string{ResourceEndpoint, ResourceQueue, ResourceVariableGroup, ResourceEnvironment, ResourceRepository}

// NormalizeResourceType returns the canonical resource type for t (any case).
func NormalizeResourceType(t string) (string, error) {
	for _, rt := range resourceTypes {
		if strings.EqualFold(rt, t) {
			return rt, nil
		}
	}
	return "", BadRequest("The resource type %q is not supported; use endpoint, queue, variablegroup, environment or repository.", clip(t))
}

// Permission is one authorization decision.
type Permission struct {
	Authorized   bool        `json:"authorized"`
	AuthorizedBy IdentityRef `json:"authorizedBy"`
	AuthorizedOn time.Time   `json:"authorizedOn"`
}

// PipelinePermission is a decision for one pipeline (definition id).
type PipelinePermission struct {
	PipelineID int `json:"id"`
	Permission
}

// ResourcePermissions are the pipeline permissions of one protected resource in a
// project. AllPipelines, when authorized, wins over per-pipeline entries.
type ResourcePermissions struct {
	ResourceType string               `json:"type"`
	ResourceID   string               `json:"id"`
	ResourceName string               `json:"name"`
	AllPipelines *Permission          `json:"allPipelines,omitempty"`
	Pipelines    []PipelinePermission `json:"pipelines"`
}

// Authorizes reports whether pipeline definitionID may use the resource.
func (r ResourcePermissions) Authorizes(definitionID int) bool {
	if r.AllPipelines != nil && r.AllPipelines.Authorized {
		return true
	}
	return slices.ContainsFunc(r.Pipelines, func(p PipelinePermission) bool { return p.PipelineID == definitionID && p.Authorized })
}

// PermissionUpdate changes a resource's permissions: AllPipelines when set, and each
// listed pipeline's entry.
type PermissionUpdate struct {
	AllPipelines *bool
	Pipelines    []PipelineAuthorization
}

// PipelineAuthorization authorizes (or revokes) one pipeline.
type PipelineAuthorization struct {
	PipelineID int
	Authorized bool
}

// PipelinePermissions returns the permissions of a resource of project (empty when none
// were set). Endpoints and queues must exist in the project; other resource types are
// named by opaque ids, since Keystage does not keep those resources.
func (s *Service) PipelinePermissions(ctx context.Context, org Organization, projectID, resourceType, resourceID string) (ResourcePermissions, error) {
	return s.permissions(ctx, s.st, org.ID, projectID, resourceType, resourceID, "")
}

func (s *Service) permissions(ctx context.Context, st storage.Store, orgID, projectID, resourceType, resourceID, name string) (ResourcePermissions, error) {
	rt, err := NormalizeResourceType(resourceType)
	if err != nil {
		return ResourcePermissions{}, err
	}
	id, resolved, err := s.resolveResource(ctx, st, orgID, projectID, rt, resourceID)
	if err != nil {
		return ResourcePermissions{}, err
	}
	var rp ResourcePermissions
	err = storage.GetJSON(ctx, st, permKey(orgID, projectID, rt, id), &rp)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		rp = ResourcePermissions{ResourceType: rt, ResourceID: id, Pipelines: []PipelinePermission{}}
	case err != nil:
		return ResourcePermissions{}, storageError("get pipeline permissions", err)
	}
	switch {
	case resolved != "":
		rp.ResourceName = resolved
	case name != "":
		rp.ResourceName = name
	case rp.ResourceName == "":
		rp.ResourceName = id
	}
	return rp, nil
}

// resolveResource checks the resource and returns its canonical id and, for resources
// Keystage keeps, its name.
func (s *Service) resolveResource(ctx context.Context, st storage.Store, orgID, projectID, rt, id string) (string, string, error) {
	switch rt {
	case ResourceEndpoint:
		e, err := s.endpoint(ctx, st, orgID, id)
		if err != nil {
			return "", "", err
		}
		ref, ok := e.InProject(projectID)
		if !ok {
			return "", "", endpointNotFound(id)
		}
		return e.ID, ref.Name, nil
	case ResourceQueue:
		n, err := strconv.Atoi(id)
		if err != nil || n <= 0 || strconv.Itoa(n) != id {
			return "", "", queueNotFound(id)
		}
		q, err := s.queue(ctx, st, orgID, projectID, n)
		if err != nil {
			return "", "", err
		}
		return id, q.Name, nil
	}
	if id == "" || len(id) > 256 || strings.ContainsAny(id, "/\\\x00") {
		return "", "", BadRequest("The %s id %q is invalid.", rt, clip(id))
	}
	return id, "", nil
}

// UpdatePipelinePermissions applies u to a resource's permissions and returns them.
func (s *Service) UpdatePipelinePermissions(ctx context.Context, org Organization, projectID, resourceType, resourceID string, by IdentityRef, u PermissionUpdate) (ResourcePermissions, error) {
	var rp ResourcePermissions
	err := s.st.Update(ctx, func(tx storage.Store) error {
		var err error
		rp, err = s.updatePermissions(ctx, tx, org.ID, projectID, resourceType, resourceID, "", by, u)
		return err
	})
	if err != nil {
		return ResourcePermissions{}, storageError("update pipeline permissions", err)
	}
	s.permissionsChanged()
	return rp, nil
}

func (s *Service) updatePermissions(ctx context.Context, tx storage.Store, orgID, projectID, resourceType, resourceID, name string, by IdentityRef, u PermissionUpdate) (ResourcePermissions, error) {
	if err := s.liveProject(ctx, tx, orgID, projectID); err != nil {
		return ResourcePermissions{}, err
	}
	rp, err := s.permissions(ctx, tx, orgID, projectID, resourceType, resourceID, name)
	if err != nil {
		return ResourcePermissions{}, err
	}
	now := s.now().UTC()
	if u.AllPipelines != nil {
		rp.AllPipelines = &Permission{Authorized: *u.AllPipelines, AuthorizedBy: by, AuthorizedOn: now}
	}
	for _, pa := range u.Pipelines {
		if _, err := s.definition(ctx, tx, orgID, projectID, pa.PipelineID); err != nil {
			return ResourcePermissions{}, err
		}
		perm := PipelinePermission{PipelineID: pa.PipelineID, Permission: Permission{Authorized: pa.Authorized, AuthorizedBy: by, AuthorizedOn: now}}
		if i := slices.IndexFunc(rp.Pipelines, func(p PipelinePermission) bool { return p.PipelineID == pa.PipelineID }); i >= 0 {
			rp.Pipelines[i] = perm
		} else {
			rp.Pipelines = append(rp.Pipelines, perm)
		}
	}
	slices.SortFunc(rp.Pipelines, func(a, b PipelinePermission) int { return a.PipelineID - b.PipelineID })
	if err := storage.PutJSON(ctx, tx, permKey(orgID, projectID, rp.ResourceType, rp.ResourceID), rp); err != nil {
		return ResourcePermissions{}, err
	}
	return rp, nil
}

// ResourcePermissionsUpdate is one resource of a batch update.
type ResourcePermissionsUpdate struct {
	ResourceType string
	ResourceID   string
	PermissionUpdate
}

// UpdatePipelinePermissionsBatch applies several updates in one transaction: all or none.
func (s *Service) UpdatePipelinePermissionsBatch(ctx context.Context, org Organization, projectID string, by IdentityRef, us []ResourcePermissionsUpdate) ([]ResourcePermissions, error) {
	if len(us) > 100 {
		return nil, BadRequest("A batch updates at most 100 resources.")
	}
	var out []ResourcePermissions
	err := s.st.Update(ctx, func(tx storage.Store) error {
		out = out[:0]
		for _, u := range us {
			rp, err := s.updatePermissions(ctx, tx, org.ID, projectID, u.ResourceType, u.ResourceID, "", by, u.PermissionUpdate)
			if err != nil {
				return err
			}
			out = append(out, rp)
		}
		return nil
	})
	if err != nil {
		return nil, storageError("update pipeline permissions", err)
	}
	s.permissionsChanged()
	return out, nil
}

// IsPipelineAuthorized reports whether pipeline definitionID may use the resource: the
// question a run asks before it uses a protected resource.
func (s *Service) IsPipelineAuthorized(ctx context.Context, org Organization, projectID, resourceType, resourceID string, definitionID int) (bool, error) {
	rp, err := s.PipelinePermissions(ctx, org, projectID, resourceType, resourceID)
	if err != nil {
		return false, err
	}
	return rp.Authorizes(definitionID), nil
}

// ResourceReference is a resource in the legacy build views (authorizedresources and
// definitions/{id}/resources).
type ResourceReference struct {
	Type       string
	ID         string
	Name       string
	Authorized bool
}

// AuthorizedResources is the legacy project view: the resources whose "all pipelines"
// permission was set, filtered by type and id when given.
func (s *Service) AuthorizedResources(ctx context.Context, org Organization, projectID, typ, id string) ([]ResourceReference, error) {
	all, err := storage.ListJSON[ResourcePermissions](ctx, s.st, permPrefix(org.ID, projectID), "", 0)
	if err != nil {
		return nil, storageError("list authorized resources", err)
	}
	out := []ResourceReference{}
	for _, rp := range all {
		if rp.AllPipelines == nil || typ != "" && !strings.EqualFold(typ, rp.ResourceType) || id != "" && !strings.EqualFold(id, rp.ResourceID) {
			continue
		}
		out = append(out, ResourceReference{Type: rp.ResourceType, ID: rp.ResourceID, Name: rp.ResourceName, Authorized: rp.AllPipelines.Authorized})
	}
	return out, nil
}

// AuthorizeProjectResources is the legacy project update: it sets each resource's "all
// pipelines" permission.
func (s *Service) AuthorizeProjectResources(ctx context.Context, org Organization, projectID string, by IdentityRef, refs []ResourceReference) ([]ResourceReference, error) {
	return s.authorizeResources(ctx, org, projectID, by, refs, func(r ResourceReference) PermissionUpdate {
		return PermissionUpdate{AllPipelines: &r.Authorized}
	}, func(rp ResourcePermissions) bool { return rp.AllPipelines != nil && rp.AllPipelines.Authorized })
}

// DefinitionResources is the legacy per-definition view: the resources with an entry for
// pipeline definitionID.
func (s *Service) DefinitionResources(ctx context.Context, org Organization, projectID string, definitionID int) ([]ResourceReference, error) {
	if _, err := s.Definition(ctx, org, projectID, definitionID); err != nil {
		return nil, err
	}
	all, err := storage.ListJSON[ResourcePermissions](ctx, s.st, permPrefix(org.ID, projectID), "", 0)
	if err != nil {
		return nil, storageError("list definition resources", err)
	}
	out := []ResourceReference{}
	for _, rp := range all {
		i := slices.IndexFunc(rp.Pipelines, func(p PipelinePermission) bool { return p.PipelineID == definitionID })
		if i >= 0 {
			out = append(out, ResourceReference{Type: rp.ResourceType, ID: rp.ResourceID, Name: rp.ResourceName, Authorized: rp.Pipelines[i].Authorized})
		}
	}
	return out, nil
}

// AuthorizeDefinitionResources is the legacy per-definition update: it sets pipeline
// definitionID's entry on each resource.
func (s *Service) AuthorizeDefinitionResources(ctx context.Context, org Organization, projectID string, definitionID int, by IdentityRef, refs []ResourceReference) ([]ResourceReference, error) {
	return s.authorizeResources(ctx, org, projectID, by, refs, func(r ResourceReference) PermissionUpdate {
		return PermissionUpdate{Pipelines: []PipelineAuthorization{{PipelineID: definitionID, Authorized: r.Authorized}}}
	}, func(rp ResourcePermissions) bool {
		i := slices.IndexFunc(rp.Pipelines, func(p PipelinePermission) bool { return p.PipelineID == definitionID })
		return i >= 0 && rp.Pipelines[i].Authorized
	})
}

func (s *Service) authorizeResources(ctx context.Context, org Organization, projectID string, by IdentityRef, refs []ResourceReference,
	update func(ResourceReference) PermissionUpdate, authorized func(ResourcePermissions) bool) ([]ResourceReference, error) {
	if len(refs) > 100 {
		return nil, BadRequest("At most 100 resources can be authorized at once.")
	}
	var out []ResourceReference
	err := s.st.Update(ctx, func(tx storage.Store) error {
		out = make([]ResourceReference, 0, len(refs))
		for _, r := range refs {
			rp, err := s.updatePermissions(ctx, tx, org.ID, projectID, r.Type, r.ID, r.Name, by, update(r))
			if err != nil {
				return err
			}
			out = append(out, ResourceReference{Type: rp.ResourceType, ID: rp.ResourceID, Name: rp.ResourceName, Authorized: authorized(rp)})
		}
		return nil
	})
	if err != nil {
		return nil, storageError("authorize resources", err)
	}
	s.permissionsChanged()
	return out, nil
}

// forgetPipeline removes a deleted definition's entries from every resource of a project.
func forgetPipeline(ctx context.Context, tx storage.Store, orgID, projectID string, definitionID int) error {
	all, err := storage.ListJSON[ResourcePermissions](ctx, tx, permPrefix(orgID, projectID), "", 0)
	if err != nil {
		return err
	}
	for _, rp := range all {
		kept := slices.DeleteFunc(slices.Clone(rp.Pipelines), func(p PipelinePermission) bool { return p.PipelineID == definitionID })
		if len(kept) == len(rp.Pipelines) {
			continue
		}
		rp.Pipelines = kept
		if err := storage.PutJSON(ctx, tx, permKey(orgID, projectID, rp.ResourceType, rp.ResourceID), rp); err != nil {
			return err
		}
	}
	return nil
}
