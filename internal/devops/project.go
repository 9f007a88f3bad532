package devops

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Project states (TeamProjectReference.state).
const (
	ProjectWellFormed = "wellFormed"
	ProjectDeleting   = "deleting"
)

// Project visibilities.
const (
	VisibilityPrivate = "private"
	VisibilityPublic  = "public"
)

// Project is a team project.
type Project struct {
	ID          string `json:"id"`
	OrgID       string `json:"orgId"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Visibility  string `json:"visibility"`
	State       string `json:"state"`
	// Revision increases with every change to any project of the organization.
	Revision          uint64      `json:"revision"`
	ProcessTemplateID string      `json:"processTemplateId"`
	SourceControlType string      `json:"sourceControlType"`
	DefaultTeamID     string      `json:"defaultTeamId"`
	LastUpdateTime    time.Time   `json:"lastUpdateTime"`
	CreatedBy         IdentityRef `json:"createdBy"`
}

// DefaultTeamName returns the name of the project's default team.
func (p Project) DefaultTeamName() string { return p.Name + " Team" }

// NewProject is what CreateProject needs. Empty fields take defaults: private visibility,
// the default process, Git.
type NewProject struct {
	Name              string
	Description       string
	Visibility        string
	ProcessTemplateID string
	SourceControlType string
}

// ProjectUpdate changes the fields that are set.
type ProjectUpdate struct {
	Name        *string
	Description *string
	Visibility  *string
}

// CreateProject creates a project with a queue for every auto-provisioned pool of the
// organization. Creation completes at once: the returned operation has succeeded.
func (s *Service) CreateProject(ctx context.Context, org Organization, by IdentityRef, n NewProject) (Project, Operation, error) {
	if err := checkProjectName(n.Name); err != nil {
		return Project{}, Operation{}, err
	}
	if len(n.Description) > 15000 {
		return Project{}, Operation{}, BadRequest("The project description is longer than 15000 characters.")
	}
	vis, err := normalizeVisibility(n.Visibility)
	if err != nil {
		return Project{}, Operation{}, err
	}
	proc := DefaultProcess()
	if n.ProcessTemplateID != "" {
		if proc, err = ProcessByID(n.ProcessTemplateID); err != nil {
			return Project{}, Operation{}, err
		}
	}
	scm := n.SourceControlType
	switch {
	case scm == "" || strings.EqualFold(scm, "Git"):
		scm = "Git"
	case strings.EqualFold(scm, "Tfvc"):
		return Project{}, Operation{}, NotImplemented("Keystage projects use Git; Team Foundation Version Control (Tfvc) is not supported.")
	default:
		return Project{}, Operation{}, BadRequest("The source control type %q is invalid; use Git.", clip(scm))
	}
	now := s.now().UTC()
	p := Project{
		ID: newID(), OrgID: org.ID, Name: n.Name, Description: n.Description, Visibility: vis,
		State: ProjectWellFormed, ProcessTemplateID: proc.ID, SourceControlType: scm,
		DefaultTeamID: newID(), LastUpdateTime: now, CreatedBy: by,
	}
	op := s.newOperation(org, "project", p.ID)
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if _, err := s.organization(ctx, tx, org.ID); err != nil {
			return err
		}
		if ok, err := exists(ctx, tx, projectNameKey(org.ID, p.Name)); err != nil {
			return err
		} else if ok {
			return fault.New(fault.Conflict, CodeProjectExists,
				"TF200019: The following project already exists on the Azure DevOps Server: %s. You cannot create a new project with the same name as an existing project. Provide a different name.", p.Name)
		}
		rev, err := nextID(ctx, tx, org.ID, "projectrev")
		if err != nil {
			return err
		}
		p.Revision = uint64(rev)
		if err := storage.PutJSON(ctx, tx, projectKey(org.ID, p.ID), p); err != nil {
			return err
		}
		if err := tx.Put(ctx, projectNameKey(org.ID, p.Name), []byte(p.ID)); err != nil {
			return err
		}
		pools, err := storage.ListJSON[Pool](ctx, tx, OrgPrefix(org.ID)+"pool/", "", 0)
		if err != nil {
			return err
		}
		for _, pool := range pools {
			if pool.AutoProvision {
				if _, err := s.addQueue(ctx, tx, org.ID, p.ID, pool); err != nil {
					return err
				}
			}
		}
		return storage.PutJSON(ctx, tx, operationKey(org.ID, op.ID), op)
	})
	if err != nil {
		return Project{}, Operation{}, storageError("create project", err)
	}
	s.log.InfoContext(ctx, "project created", "org", org.Name, "project", p.Name, "id", p.ID)
	return p, op, nil
}

// Project returns the project whose id or name (case-insensitively) is idOrName. Projects
// being deleted are not found.
func (s *Service) Project(ctx context.Context, org Organization, idOrName string) (Project, error) {
	p, err := s.project(ctx, s.st, org.ID, idOrName)
	if err == nil && p.State == ProjectDeleting {
		return Project{}, projectNotFound(idOrName)
	}
	return p, err
}

func (s *Service) project(ctx context.Context, st storage.Store, orgID, idOrName string) (Project, error) {
	id, isID := normalizeGUID(idOrName)
	if !isID {
		if idOrName == "" || len(idOrName) > 256 {
			return Project{}, projectNotFound(idOrName)
		}
		var err error
		id, err = getString(ctx, st, projectNameKey(orgID, idOrName))
		if errors.Is(err, storage.ErrNotFound) {
			return Project{}, projectNotFound(idOrName)
		}
		if err != nil {
			return Project{}, storageError("get project", err)
		}
	}
	var p Project
	err := storage.GetJSON(ctx, st, projectKey(orgID, id), &p)
	if errors.Is(err, storage.ErrNotFound) {
		return Project{}, projectNotFound(idOrName)
	}
	if err != nil {
		return Project{}, storageError("get project", err)
	}
	return p, nil
}

func projectNotFound(idOrName string) error {
	if _, ok := normalizeGUID(idOrName); ok {
		return notFound(CodeProjectNotFound, "TF200016: The following project does not exist: %s. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.", idOrName)
	}
	return notFound(CodeProjectNameNotFound, "TF200016: The following project does not exist: %s. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.", clip(idOrName))
}

// Projects lists the organization's projects by name. With includeDeleting, projects
// being deleted are listed too.
func (s *Service) Projects(ctx context.Context, org Organization, includeDeleting bool) ([]Project, error) {
	all, err := s.projects(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, p := range all {
		if includeDeleting || p.State != ProjectDeleting {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *Service) projects(ctx context.Context, orgID string) ([]Project, error) {
	ps, err := storage.ListJSON[Project](ctx, s.st, OrgPrefix(orgID)+"project/", "", 0)
	if err != nil {
		return nil, storageError("list projects", err)
	}
	slices.SortFunc(ps, func(a, b Project) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return ps, nil
}

// UpdateProject renames or re-describes a project. It completes at once.
func (s *Service) UpdateProject(ctx context.Context, org Organization, idOrName string, u ProjectUpdate) (Project, Operation, error) {
	if u.Name != nil {
		if err := checkProjectName(*u.Name); err != nil {
			return Project{}, Operation{}, err
		}
	}
	if u.Description != nil && len(*u.Description) > 15000 {
		return Project{}, Operation{}, BadRequest("The project description is longer than 15000 characters.")
	}
	var vis string
	if u.Visibility != nil {
		var err error
		if vis, err = normalizeVisibility(*u.Visibility); err != nil {
			return Project{}, Operation{}, err
		}
	}
	var p Project
	var op Operation
	err := s.st.Update(ctx, func(tx storage.Store) error {
		var err error
		if p, err = s.project(ctx, tx, org.ID, idOrName); err != nil {
			return err
		}
		if p.State == ProjectDeleting {
			return projectNotFound(idOrName)
		}
		if u.Name != nil && *u.Name != p.Name {
			if !strings.EqualFold(*u.Name, p.Name) {
				if ok, err := exists(ctx, tx, projectNameKey(org.ID, *u.Name)); err != nil {
					return err
				} else if ok {
					return fault.New(fault.Conflict, CodeProjectExists, "TF200019: The following project already exists on the Azure DevOps Server: %s.", *u.Name)
				}
			}
			if err := tx.Delete(ctx, projectNameKey(org.ID, p.Name)); err != nil {
				return err
			}
			if err := tx.Put(ctx, projectNameKey(org.ID, *u.Name), []byte(p.ID)); err != nil {
				return err
			}
			p.Name = *u.Name
		}
		if u.Description != nil {
			p.Description = *u.Description
		}
		if vis != "" {
			p.Visibility = vis
		}
		rev, err := nextID(ctx, tx, org.ID, "projectrev")
		if err != nil {
			return err
		}
		p.Revision = uint64(rev)
		p.LastUpdateTime = s.now().UTC()
		if err := storage.PutJSON(ctx, tx, projectKey(org.ID, p.ID), p); err != nil {
			return err
		}
		op = s.newOperation(org, "project", p.ID)
		return storage.PutJSON(ctx, tx, operationKey(org.ID, op.ID), op)
	})
	if err != nil {
		return Project{}, Operation{}, storageError("update project", err)
	}
	return p, op, nil
}

// DeleteProject deletes a project and everything in it: it detaches the service
// connections shared with it (deleting those no other project uses), runs the
// OnProjectDelete hooks, removes ProjectPrefix, then the project. The deletion completes
// before DeleteProject returns; after a failure, calling it again resumes it.
func (s *Service) DeleteProject(ctx context.Context, org Organization, idOrName string) (Operation, error) {
	p, err := s.project(ctx, s.st, org.ID, idOrName)
	if err != nil {
		return Operation{}, err
	}
	if err := s.deleteProject(ctx, org, p); err != nil {
		return Operation{}, err
	}
	op := s.newOperation(org, "project", p.ID)
	if err := storage.PutJSON(ctx, s.st, operationKey(org.ID, op.ID), op); err != nil {
		return Operation{}, storageError("delete project", err)
	}
	return op, nil
}

func (s *Service) deleteProject(ctx context.Context, org Organization, p Project) error {
	err := s.st.Update(ctx, func(tx storage.Store) error {
		cur, err := s.project(ctx, tx, org.ID, p.ID)
		if err != nil {
			return err
		}
		cur.State = ProjectDeleting
		return storage.PutJSON(ctx, tx, projectKey(org.ID, p.ID), cur)
	})
	if err != nil {
		return storageError("delete project", err)
	}
	if err := s.detachEndpoints(ctx, org, p); err != nil {
		return err
	}
	for _, h := range s.projectHooks() {
		if err := h(ctx, org, p); err != nil {
			return err
		}
	}
	if err := storage.DeletePrefixBatched(ctx, s.st, ProjectPrefix(org.ID, p.ID)); err != nil {
		return storageError("delete project", err)
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if id, err := getString(ctx, tx, projectNameKey(org.ID, p.Name)); err == nil && id == p.ID {
			if err := tx.Delete(ctx, projectNameKey(org.ID, p.Name)); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return tx.Delete(ctx, projectKey(org.ID, p.ID))
	})
	if err != nil {
		return storageError("delete project", err)
	}
	s.log.InfoContext(ctx, "project deleted", "org", org.Name, "project", p.Name, "id", p.ID)
	return nil
}

func normalizeVisibility(v string) (string, error) {
	switch {
	case v == "" || strings.EqualFold(v, VisibilityPrivate):
		return VisibilityPrivate, nil
	case strings.EqualFold(v, VisibilityPublic):
		return VisibilityPublic, nil
	}
	return "", BadRequest("The project visibility %q is invalid; use private or public.", clip(v))
}

// reservedProjectNames are names Azure DevOps refuses for projects (compared
// case-insensitively).
var reservedProjectNames = []string{
	"aux", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "com10",
	"con", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9", "nul", "prn",
	"server", "signalr", "defaultcollection", "web", "app_code", "app_browsers", "app_data",
	"app_globalresources", "app_localresources", "app_themes", "app_webresources", "bin", "web.config",
}

// checkProjectName applies Azure DevOps' project naming restrictions.
func checkProjectName(name string) error {
	bad := func(why string) error {
		return BadRequest("The project name %q is invalid: %s.", clip(name), why)
	}
	switch {
	case name == "":
		return BadRequest("The project name is required.")
	case len([]rune(name)) > 64:
		return bad("it is longer than 64 characters")
	case strings.HasPrefix(name, "_"):
		return bad("it must not start with an underscore")
	case strings.HasPrefix(name, ".") || strings.HasSuffix(name, "."):
		return bad("it must not start or end with a period")
	case strings.TrimSpace(name) != name:
		return bad("it must not start or end with white space")
	case slices.Contains(reservedProjectNames, strings.ToLower(name)):
		return bad("it is a reserved name")
	}
	if _, ok := normalizeGUID(name); ok {
		return bad("it has the shape of a project id")
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || strings.ContainsRune(`\/:*?"'<>;#$*{},+=[]|`, r) {
			return bad(`it must not contain control characters or any of \ / : * ? " ' < > ; # $ { } , + = [ ] |`)
		}
	}
	return nil
}
