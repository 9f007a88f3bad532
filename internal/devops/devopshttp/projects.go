package devopshttp

import (
	"net/http"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
)

// The core area: projects (create, update and delete complete at once and answer a
// succeeded operation), processes, and operations.
func (h *Handler) projectsArea() Area {
	return Area{Name: "core", Routes: []Route{
		{Location: LocProjects, Method: http.MethodGet, Access: AccessRead, Scope: "project", Handle: h.getProjects},
		{Location: LocProjects, Method: http.MethodPost, Access: AccessManage, Scope: "project", Handle: h.createProject},
		{Location: LocProjects, Method: http.MethodPatch, Access: AccessManage, Scope: "project", Handle: h.updateProject},
		{Location: LocProjects, Method: http.MethodDelete, Access: AccessManage, Scope: "project", Handle: h.deleteProject},
		{Location: LocProcesses, Method: http.MethodGet, Access: AccessRead, Scope: "project", Handle: h.getProcesses},
		{Location: LocOperations, Method: http.MethodGet, Access: AccessRead, Scope: "project", Handle: h.getOperation},
	}}
}

type projectJSON struct {
	ID             string                       `json:"id"`
	Name           string                       `json:"name"`
	Description    string                       `json:"description,omitempty"`
	URL            string                       `json:"url"`
	State          string                       `json:"state"`
	Revision       uint64                       `json:"revision"`
	Visibility     string                       `json:"visibility"`
	LastUpdateTime time.Time                    `json:"lastUpdateTime"`
	Capabilities   map[string]map[string]string `json:"capabilities,omitempty"`
	DefaultTeam    *teamRefJSON                 `json:"defaultTeam,omitempty"`
	Links          map[string]link              `json:"_links,omitempty"`
}

type teamRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

type link struct {
	Href string `json:"href"`
}

// projectRef is a TeamProjectReference (lists, and the project of other objects).
func (rq *Request) projectRef(p devops.Project) projectJSON {
	return projectJSON{
		ID: p.ID, Name: p.Name, Description: p.Description, URL: rq.URL("_apis", "projects", p.ID),
		State: p.State, Revision: p.Revision, Visibility: p.Visibility, LastUpdateTime: p.LastUpdateTime,
	}
}

func (rq *Request) project(p devops.Project, capabilities bool) projectJSON {
	out := rq.projectRef(p)
	out.DefaultTeam = &teamRefJSON{ID: p.DefaultTeamID, Name: p.DefaultTeamName(),
		URL: rq.URL("_apis", "projects", p.ID, "teams", p.DefaultTeamID)}
	out.Links = map[string]link{
		"self":       {Href: out.URL},
		"collection": {Href: rq.URL("_apis", "projectCollections", rq.Org.ID)},
		"web":        {Href: rq.URL(p.Name)},
	}
	if capabilities {
		proc, err := devops.ProcessByID(p.ProcessTemplateID)
		if err != nil {
			proc = devops.Process{ID: p.ProcessTemplateID, Name: "Unknown"}
		}
		out.Capabilities = map[string]map[string]string{
			"versioncontrol":  {"sourceControlType": p.SourceControlType, "gitEnabled": "True", "tfvcEnabled": "False"},
			"processTemplate": {"templateName": proc.Name, "templateTypeId": proc.ID},
		}
	}
	return out
}

func (h *Handler) getProjects(rq *Request) error {
	ctx := rq.R.Context()
	if id, ok := rq.Value("projectId"); ok {
		p, err := h.svc.Project(ctx, rq.Org, id)
		if err != nil {
			return err
		}
		caps, err := rq.QueryBool("includeCapabilities")
		if err != nil {
			return err
		}
		if _, err := rq.QueryBool("includeHistory"); err != nil {
			return err
		}
		return rq.OK(rq.project(p, caps))
	}
	state := strings.ToLower(rq.Query("stateFilter"))
	switch state {
	case "", "wellformed", "all", "deleting", "new", "createpending", "unchanged", "deleted":
	default:
		return devops.BadRequest("stateFilter %q is invalid; use wellFormed, deleting, all, createPending, new, unchanged or deleted.", clip(rq.Query("stateFilter")))
	}
	pg, err := rq.Paging()
	if err != nil {
		return err
	}
	all, err := h.svc.Projects(ctx, rq.Org, true)
	if err != nil {
		return err
	}
	var keep []projectJSON
	for _, p := range all {
		if state == "all" || strings.EqualFold(p.State, state) || state == "" && p.State == devops.ProjectWellFormed {
			keep = append(keep, rq.projectRef(p))
		}
	}
	return rq.OK(newCollection(page(rq.W, keep, pg)))
}

type projectBody struct {
	Name         *string `json:"name"`
	Description  *string `json:"description"`
	Visibility   *string `json:"visibility"`
	Abbreviation *string `json:"abbreviation"`
	State        *string `json:"state"`
	Capabilities *struct {
		VersionControl *struct {
			SourceControlType string `json:"sourceControlType"`
		} `json:"versioncontrol"`
		ProcessTemplate *struct {
			TemplateTypeID string `json:"templateTypeId"`
		} `json:"processTemplate"`
	} `json:"capabilities"`
}

type operationRefJSON struct {
	ID       string  `json:"id"`
	PluginID *string `json:"pluginId"`
	Status   string  `json:"status"`
	URL      string  `json:"url"`
}

func (rq *Request) operationRef(op devops.Operation) operationRefJSON {
	return operationRefJSON{ID: op.ID, Status: op.Status, URL: rq.URL("_apis", "operations", op.ID)}
}

func (h *Handler) createProject(rq *Request) error {
	if _, ok := rq.Value("projectId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "PATCH", "DELETE"}}
	}
	var b projectBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	if b.Name == nil {
		return devops.BadRequest("The project name is required.")
	}
	if b.Abbreviation != nil && *b.Abbreviation != "" {
		return devops.NotImplemented("Project abbreviations are not supported.")
	}
	n := devops.NewProject{Name: *b.Name}
	if b.Description != nil {
		n.Description = *b.Description
	}
	if b.Visibility != nil {
		n.Visibility = *b.Visibility
	}
	if c := b.Capabilities; c != nil {
		if c.VersionControl != nil {
			n.SourceControlType = c.VersionControl.SourceControlType
		}
		if c.ProcessTemplate != nil {
			n.ProcessTemplateID = c.ProcessTemplate.TemplateTypeID
		}
	}
	_, op, err := h.svc.CreateProject(rq.R.Context(), rq.Org, rq.Caller.Identity(), n)
	if err != nil {
		return err
	}
	return rq.JSON(http.StatusAccepted, rq.operationRef(op))
}

func (h *Handler) updateProject(rq *Request) error {
	id, ok := rq.Value("projectId")
	if !ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "POST"}}
	}
	var b projectBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	if b.Capabilities != nil {
		return devops.BadRequest("A project's capabilities (process and version control) cannot change.")
	}
	if b.Abbreviation != nil && *b.Abbreviation != "" {
		return devops.NotImplemented("Project abbreviations are not supported.")
	}
	if b.State != nil && !strings.EqualFold(*b.State, devops.ProjectWellFormed) {
		return devops.BadRequest("A project's state cannot be set to %q.", clip(*b.State))
	}
	_, op, err := h.svc.UpdateProject(rq.R.Context(), rq.Org, id, devops.ProjectUpdate{
		Name: b.Name, Description: b.Description, Visibility: b.Visibility,
	})
	if err != nil {
		return err
	}
	return rq.JSON(http.StatusAccepted, rq.operationRef(op))
}

func (h *Handler) deleteProject(rq *Request) error {
	id, ok := rq.Value("projectId")
	if !ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "POST"}}
	}
	op, err := h.svc.DeleteProject(rq.R.Context(), rq.Org, id)
	if err != nil {
		return err
	}
	return rq.JSON(http.StatusAccepted, rq.operationRef(op))
}

type processJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	IsDefault   bool            `json:"isDefault"`
	Type        string          `json:"type"`
	URL         string          `json:"url"`
	Links       map[string]link `json:"_links"`
}

func (rq *Request) process(p devops.Process) processJSON {
	u := rq.URL("_apis", "process", "processes", p.ID)
	return processJSON{ID: p.ID, Name: p.Name, Description: p.Description, IsDefault: p.IsDefault, Type: "system",
		URL: u, Links: map[string]link{"self": {Href: u}}}
}

func (h *Handler) getProcesses(rq *Request) error {
	if id, ok := rq.Value("processId"); ok {
		p, err := devops.ProcessByID(id)
		if err != nil {
			return err
		}
		return rq.OK(rq.process(p))
	}
	var out []processJSON
	for _, p := range devops.Processes() {
		out = append(out, rq.process(p))
	}
	return rq.OK(newCollection(out))
}

type operationJSON struct {
	operationRefJSON
	Links           map[string]link `json:"_links"`
	DetailedMessage *string         `json:"detailedMessage"`
	ResultMessage   *string         `json:"resultMessage"`
	ResultURL       *struct {
		ResultURL string `json:"resultUrl"`
	} `json:"resultUrl"`
}

func (h *Handler) getOperation(rq *Request) error {
	id, ok := rq.Value("operationId")
	if !ok {
		return devops.BadRequest("An operation id is required.")
	}
	op, err := h.svc.Operation(rq.R.Context(), rq.Org, id)
	if err != nil {
		return err
	}
	out := operationJSON{operationRefJSON: rq.operationRef(op)}
	out.Links = map[string]link{"self": {Href: out.URL}}
	if op.ResultMessage != "" {
		out.ResultMessage = &op.ResultMessage
	}
	if op.ResourceKind == "project" {
		out.ResultURL = &struct {
			ResultURL string `json:"resultUrl"`
		}{ResultURL: rq.URL("_apis", "projects", op.ResourceID)}
	}
	return rq.OK(out)
}
