package devops

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// ServiceEndpoint is a service connection. It belongs to the organization and is shared
// with one or more projects; the first project reference is the one it was created in.
// Secret authorization parameters are kept apart and never appear here.
type ServiceEndpoint struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	Owner       string `json:"owner"`
	Scheme      string `json:"scheme"`
	// Parameters are the non-secret authorization parameters.
	Parameters map[string]string `json:"parameters"`
	// SecretNames lists the secret authorization parameters that are set.
	SecretNames []string          `json:"secretNames,omitempty"`
	Data        map[string]string `json:"data"`
	Projects    []EndpointProject `json:"projects"`
	CreatedBy   IdentityRef       `json:"createdBy"`
	Created     time.Time         `json:"created"`
	Modified    time.Time         `json:"modified"`
}

// IsShared reports whether the endpoint is shared with more than one project.
func (e ServiceEndpoint) IsShared() bool { return len(e.Projects) > 1 }

// InProject returns the endpoint's reference to projectID.
func (e ServiceEndpoint) InProject(projectID string) (EndpointProject, bool) {
	for _, p := range e.Projects {
		if p.ProjectID == projectID {
			return p, true
		}
	}
	return EndpointProject{}, false
}

// EndpointProject is an endpoint's reference to a project: the name and description the
// endpoint has there.
type EndpointProject struct {
	ProjectID string `json:"projectId"`
	// ProjectName is filled in when the endpoint is read.
	ProjectName string `json:"-"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// EndpointInput is a service endpoint as a client sends it.
type EndpointInput struct {
	Name        string
	Type        string
	URL         string
	Description string
	Owner       string
	Scheme      string
	// Parameters are all authorization parameters, secret ones included. On update, a
	// secret that is absent or empty keeps its stored value.
	Parameters map[string]string
	Data       map[string]string
	// Projects are the project references; on update, nil keeps the current ones.
	Projects []EndpointProjectInput
}

// EndpointProjectInput references a project by id or name.
type EndpointProjectInput struct {
	Project     string
	Name        string
	Description string
}

// EndpointFilter selects endpoints in a project; zero fields match everything.
type EndpointFilter struct {
	Type        string
	AuthSchemes []string
	IDs         []string
	Names       []string
	Owner       string
}

// CreateEndpoint creates a service connection. It needs at least one project reference;
// the endpoint is ready at once (Keystage checks its shape, not its credentials: use the
// verify operation for that).
func (s *Service) CreateEndpoint(ctx context.Context, org Organization, by IdentityRef, in EndpointInput) (ServiceEndpoint, error) {
	if len(in.Projects) == 0 {
		return ServiceEndpoint{}, BadRequest("A service connection needs at least one serviceEndpointProjectReferences entry.")
	}
	now := s.now().UTC()
	e := ServiceEndpoint{ID: newID(), CreatedBy: by, Created: now, Modified: now}
	secrets, err := s.fillEndpoint(&e, in, nil)
	if err != nil {
		return ServiceEndpoint{}, err
	}
	if err := s.checkIdentityUse(ctx, by, e); err != nil {
		return ServiceEndpoint{}, err
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		refs, err := s.resolveEndpointProjects(ctx, tx, org.ID, in.Projects, e.Name)
		if err != nil {
			return err
		}
		e.Projects = refs
		for _, r := range refs {
			if err := s.claimEndpointName(ctx, tx, org.ID, r, e.ID); err != nil {
				return err
			}
			if err := tx.Put(ctx, projectEndpointKey(org.ID, r.ProjectID, e.ID), nil); err != nil {
				return err
			}
		}
		if err := storage.PutJSON(ctx, tx, endpointKey(org.ID, e.ID), e); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, endpointSecretKey(org.ID, e.ID), secrets)
	})
	if err != nil {
		return ServiceEndpoint{}, storageError("create service endpoint", err)
	}
	s.log.InfoContext(ctx, "service endpoint created", "org", org.Name, "endpoint", e.Name, "id", e.ID, "scheme", e.Scheme)
	return s.withProjectNames(ctx, org.ID, e)
}

// Endpoint returns the endpoint with id, or an error wrapping ErrNotFound.
func (s *Service) Endpoint(ctx context.Context, org Organization, id string) (ServiceEndpoint, error) {
	e, err := s.endpoint(ctx, s.st, org.ID, id)
	if err != nil {
		return ServiceEndpoint{}, err
	}
	return s.withProjectNames(ctx, org.ID, e)
}

func (s *Service) endpoint(ctx context.Context, st storage.Store, orgID, id string) (ServiceEndpoint, error) {
	eid, ok := normalizeGUID(id)
	if !ok {
		return ServiceEndpoint{}, endpointNotFound(id)
	}
	var e ServiceEndpoint
	err := storage.GetJSON(ctx, st, endpointKey(orgID, eid), &e)
	if errors.Is(err, storage.ErrNotFound) {
		return ServiceEndpoint{}, endpointNotFound(id)
	}
	if err != nil {
		return ServiceEndpoint{}, storageError("get service endpoint", err)
	}
	return e, nil
}

// EndpointByName returns the endpoint named name (case-insensitively) in project.
func (s *Service) EndpointByName(ctx context.Context, org Organization, projectID, name string) (ServiceEndpoint, error) {
	id, err := getString(ctx, s.st, projectEndpointNameKey(org.ID, projectID, name))
	if errors.Is(err, storage.ErrNotFound) {
		return ServiceEndpoint{}, endpointNotFound(name)
	}
	if err != nil {
		return ServiceEndpoint{}, storageError("get service endpoint", err)
	}
	return s.Endpoint(ctx, org, id)
}

func endpointNotFound(idOrName string) error {
	return notFound(CodeEndpointNotFound, "Service connection %s could not be found.", clip(idOrName))
}

// Endpoints lists the endpoints shared with project that match f, by name in the project.
func (s *Service) Endpoints(ctx context.Context, org Organization, projectID string, f EndpointFilter) ([]ServiceEndpoint, error) {
	entries, err := s.st.List(ctx, ProjectPrefix(org.ID, projectID)+"endpoint/", "", 0)
	if err != nil {
		return nil, storageError("list service endpoints", err)
	}
	var out []ServiceEndpoint
	for _, en := range entries {
		id := en.Key[strings.LastIndexByte(en.Key, '/')+1:]
		e, err := s.endpoint(ctx, s.st, org.ID, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ref, _ := e.InProject(projectID)
		if !f.matches(e, ref.Name) {
			continue
		}
		if e, err = s.withProjectNames(ctx, org.ID, e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b ServiceEndpoint) int {
		ra, _ := a.InProject(projectID)
		rb, _ := b.InProject(projectID)
		return strings.Compare(strings.ToLower(ra.Name), strings.ToLower(rb.Name))
	})
	return out, nil
}

func (f EndpointFilter) matches(e ServiceEndpoint, nameInProject string) bool {
	if f.Type != "" && !strings.EqualFold(f.Type, e.Type) {
		return false
	}
	if f.Owner != "" && !strings.EqualFold(f.Owner, e.Owner) {
		return false
	}
	if len(f.AuthSchemes) > 0 && !slices.ContainsFunc(f.AuthSchemes, func(x string) bool { return strings.EqualFold(x, e.Scheme) }) {
		return false
	}
	if len(f.IDs) > 0 && !slices.ContainsFunc(f.IDs, func(x string) bool { return strings.EqualFold(x, e.ID) }) {
		return false
	}
	if len(f.Names) > 0 && !slices.ContainsFunc(f.Names, func(x string) bool { return strings.EqualFold(x, nameInProject) }) {
		return false
	}
	return true
}

// UpdateEndpoint replaces the endpoint's properties on behalf of by. Secret parameters that
// are absent or empty keep their values when the scheme is unchanged.
func (s *Service) UpdateEndpoint(ctx context.Context, org Organization, by IdentityRef, id string, in EndpointInput) (ServiceEndpoint, error) {
	var e ServiceEndpoint
	err := s.st.Update(ctx, func(tx storage.Store) error {
		old, err := s.endpoint(ctx, tx, org.ID, id)
		if err != nil {
			return err
		}
		var oldSecrets map[string]string
		if err := storage.GetJSON(ctx, tx, endpointSecretKey(org.ID, old.ID), &oldSecrets); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		e = ServiceEndpoint{ID: old.ID, CreatedBy: old.CreatedBy, Created: old.Created, Modified: s.now().UTC(), Projects: old.Projects}
		if !strings.EqualFold(in.Scheme, old.Scheme) {
			oldSecrets = nil
		}
		secrets, err := s.fillEndpoint(&e, in, oldSecrets)
		if err != nil {
			return err
		}
		if err := s.checkIdentityUse(ctx, by, e); err != nil {
			return err
		}
		if in.Projects != nil {
			refs, err := s.resolveEndpointProjects(ctx, tx, org.ID, in.Projects, e.Name)
			if err != nil {
				return err
			}
			if err := s.replaceEndpointProjects(ctx, tx, org.ID, old, refs); err != nil {
				return err
			}
			e.Projects = refs
		} else if !strings.EqualFold(e.Name, old.Name) {
			// A rename without references renames the endpoint where it kept its name.
			refs := slices.Clone(old.Projects)
			for i := range refs {
				if strings.EqualFold(refs[i].Name, old.Name) {
					refs[i].Name = e.Name
				}
			}
			if err := s.replaceEndpointProjects(ctx, tx, org.ID, old, refs); err != nil {
				return err
			}
			e.Projects = refs
		}
		if err := storage.PutJSON(ctx, tx, endpointKey(org.ID, e.ID), e); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, endpointSecretKey(org.ID, e.ID), secrets)
	})
	if err != nil {
		return ServiceEndpoint{}, storageError("update service endpoint", err)
	}
	return s.withProjectNames(ctx, org.ID, e)
}

// ShareEndpoint shares the endpoint with more projects; a reference to a project it
// already has updates that reference's name and description.
func (s *Service) ShareEndpoint(ctx context.Context, org Organization, id string, refs []EndpointProjectInput) error {
	if len(refs) == 0 {
		return BadRequest("Give at least one project reference to share the service connection with.")
	}
	err := s.st.Update(ctx, func(tx storage.Store) error {
		old, err := s.endpoint(ctx, tx, org.ID, id)
		if err != nil {
			return err
		}
		add, err := s.resolveEndpointProjects(ctx, tx, org.ID, refs, old.Name)
		if err != nil {
			return err
		}
		merged := slices.Clone(old.Projects)
		for _, r := range add {
			if i := slices.IndexFunc(merged, func(x EndpointProject) bool { return x.ProjectID == r.ProjectID }); i >= 0 {
				merged[i] = r
			} else {
				merged = append(merged, r)
			}
		}
		if err := s.replaceEndpointProjects(ctx, tx, org.ID, old, merged); err != nil {
			return err
		}
		old.Projects = merged
		old.Modified = s.now().UTC()
		return storage.PutJSON(ctx, tx, endpointKey(org.ID, old.ID), old)
	})
	if err != nil {
		return storageError("share service endpoint", err)
	}
	return nil
}

// DeleteEndpoint removes the endpoint from projectIDs (ids or names); when no project
// references it any more, the endpoint and its secrets are deleted. The endpoint's
// pipeline permissions in those projects go with it.
func (s *Service) DeleteEndpoint(ctx context.Context, org Organization, id string, projectIDs []string) error {
	if len(projectIDs) == 0 {
		return BadRequest("projectIds is required: name the projects to remove the service connection from.")
	}
	err := s.st.Update(ctx, func(tx storage.Store) error {
		old, err := s.endpoint(ctx, tx, org.ID, id)
		if err != nil {
			return err
		}
		remove := map[string]bool{}
		for _, p := range projectIDs {
			proj, err := s.project(ctx, tx, org.ID, p)
			if err != nil {
				return err
			}
			if _, ok := old.InProject(proj.ID); !ok {
				return BadRequest("The service connection %s is not shared with project %s.", old.Name, proj.Name)
			}
			remove[proj.ID] = true
		}
		var keep []EndpointProject
		for _, r := range old.Projects {
			if !remove[r.ProjectID] {
				keep = append(keep, r)
			}
		}
		if err := s.replaceEndpointProjects(ctx, tx, org.ID, old, keep); err != nil {
			return err
		}
		if len(keep) == 0 {
			if err := tx.Delete(ctx, endpointSecretKey(org.ID, old.ID)); err != nil {
				return err
			}
			return tx.Delete(ctx, endpointKey(org.ID, old.ID))
		}
		old.Projects = keep
		old.Modified = s.now().UTC()
		return storage.PutJSON(ctx, tx, endpointKey(org.ID, old.ID), old)
	})
	if err != nil {
		return storageError("delete service endpoint", err)
	}
	return nil
}

// EndpointSecrets returns the endpoint's secret authorization parameters, for the job
// runtime that uses the connection. Never send them to clients.
func (s *Service) EndpointSecrets(ctx context.Context, org Organization, id string) (map[string]string, error) {
	e, err := s.endpoint(ctx, s.st, org.ID, id)
	if err != nil {
		return nil, err
	}
	var secrets map[string]string
	if err := storage.GetJSON(ctx, s.st, endpointSecretKey(org.ID, e.ID), &secrets); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, storageError("get service endpoint secrets", err)
	}
	return secrets, nil
}

// detachEndpoints removes project from every endpoint shared with it (deleting endpoints
// left without projects); used when the project is deleted.
func (s *Service) detachEndpoints(ctx context.Context, org Organization, p Project) error {
	entries, err := s.st.List(ctx, ProjectPrefix(org.ID, p.ID)+"endpoint/", "", 0)
	if err != nil {
		return storageError("delete project", err)
	}
	for _, en := range entries {
		id := en.Key[strings.LastIndexByte(en.Key, '/')+1:]
		err := s.DeleteEndpoint(ctx, org, id, []string{p.ID})
		if err != nil && !errors.Is(err, ErrNotFound) && !fault.Is(err, fault.BadRequest) {
			return err
		}
	}
	return nil
}

// resolveEndpointProjects turns project references (id or name) into stored references,
// defaulting each reference's name to name.
func (s *Service) resolveEndpointProjects(ctx context.Context, tx storage.Store, orgID string, in []EndpointProjectInput, name string) ([]EndpointProject, error) {
	out := make([]EndpointProject, 0, len(in))
	for _, r := range in {
		if r.Project == "" {
			return nil, BadRequest("Every service connection project reference needs projectReference.id or projectReference.name.")
		}
		p, err := s.project(ctx, tx, orgID, r.Project)
		if err != nil {
			return nil, err
		}
		if p.State == ProjectDeleting {
			return nil, projectNotFound(r.Project)
		}
		if slices.ContainsFunc(out, func(x EndpointProject) bool { return x.ProjectID == p.ID }) {
			return nil, BadRequest("The project %s is referenced twice.", p.Name)
		}
		ref := EndpointProject{ProjectID: p.ID, Name: r.Name, Description: r.Description}
		if ref.Name == "" {
			ref.Name = name
		}
		if err := checkEndpointName(ref.Name); err != nil {
			return nil, err
		}
		if len(ref.Description) > 1024 {
			return nil, BadRequest("A project reference description is longer than 1024 characters.")
		}
		out = append(out, ref)
	}
	return out, nil
}

// replaceEndpointProjects updates the per-project indexes from old's references to refs.
func (s *Service) replaceEndpointProjects(ctx context.Context, tx storage.Store, orgID string, old ServiceEndpoint, refs []EndpointProject) error {
	for _, r := range old.Projects {
		if err := tx.Delete(ctx, projectEndpointNameKey(orgID, r.ProjectID, r.Name)); err != nil {
			return err
		}
		if !slices.ContainsFunc(refs, func(x EndpointProject) bool { return x.ProjectID == r.ProjectID }) {
			if err := tx.Delete(ctx, projectEndpointKey(orgID, r.ProjectID, old.ID)); err != nil {
				return err
			}
			if err := tx.Delete(ctx, permKey(orgID, r.ProjectID, ResourceEndpoint, old.ID)); err != nil {
				return err
			}
		}
	}
	for _, r := range refs {
		if err := s.claimEndpointName(ctx, tx, orgID, r, old.ID); err != nil {
			return err
		}
		if err := tx.Put(ctx, projectEndpointKey(orgID, r.ProjectID, old.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// claimEndpointName indexes the reference's name in its project, refusing a name another
// endpoint has there.
func (s *Service) claimEndpointName(ctx context.Context, tx storage.Store, orgID string, r EndpointProject, id string) error {
	key := projectEndpointNameKey(orgID, r.ProjectID, r.Name)
	cur, err := getString(ctx, tx, key)
	switch {
	case err == nil && cur != id:
		return fault.New(fault.Conflict, CodeEndpointExists, "A service connection named %s already exists in the project.", r.Name)
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return err
	}
	return tx.Put(ctx, key, []byte(id))
}

func (s *Service) withProjectNames(ctx context.Context, orgID string, e ServiceEndpoint) (ServiceEndpoint, error) {
	e.Projects = slices.Clone(e.Projects)
	for i, r := range e.Projects {
		p, err := s.project(ctx, s.st, orgID, r.ProjectID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return ServiceEndpoint{}, err
		}
		e.Projects[i].ProjectName = p.Name
	}
	e.Parameters = maps.Clone(e.Parameters)
	e.Data = maps.Clone(e.Data)
	return e, nil
}

func checkEndpointName(name string) error {
	if name == "" || len([]rune(name)) > 256 || strings.TrimSpace(name) != name ||
		strings.ContainsFunc(name, unicode.IsControl) {
		return BadRequest("The service connection name %q is invalid: use 1 to 256 characters without control characters or leading and trailing spaces.", clip(name))
	}
	return nil
}

// checkIdentityUse applies Config.ManagedIdentityUse to a ManagedServiceIdentity endpoint:
// without it, anyone who may create a connection could borrow any identity's tokens.
func (s *Service) checkIdentityUse(ctx context.Context, by IdentityRef, e ServiceEndpoint) error {
	if e.Scheme != SchemeManagedServiceIdentity {
		return nil
	}
	if s.cfg.ManagedIdentityUse == nil {
		return fault.New(fault.Forbidden, "ManagedIdentityUseNotAllowed", "ManagedServiceIdentity service connections are not enabled on this server.")
	}
	return s.cfg.ManagedIdentityUse(ctx, by, e.Parameters[ParamTenantID], e.Parameters[ParamServicePrincipalID])
}
