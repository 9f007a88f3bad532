package devopshttp

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/devops"
)

// The pipelines area: create, list and get pipelines (the Pipelines API's view of build
// definitions). Runs, preview, logs and artifacts belong to the run orchestrator's area.
//
// Create accepts the full YAML configuration the service needs — the Go client's
// CreatePipelineConfigurationParameters carries only "type", so Go callers send a raw
// body or use build.CreateDefinition:
//
//	{"name":"ci","folder":"\\","configuration":{"type":"yaml","path":"azure-pipelines.yml",
//	 "repository":{"type":"git","url":"https://…/repo.git","defaultBranch":"refs/heads/main"}}}
//
// Repository types are Git ones with a url (git, gitHub with fullName, …) or Keystage's
// "local" with the directory as url.
func (h *Handler) pipelinesArea() Area {
	return Area{Name: "pipelines", Routes: []Route{
		{Location: LocPipelines, Method: http.MethodGet, Access: AccessRead, Scope: "build", Handle: h.getPipelines},
		{Location: LocPipelines, Method: http.MethodPost, Access: AccessManage, Scope: "build", Handle: h.createPipeline},
	}}
}

type pipelineJSON struct {
	ID            int                 `json:"id"`
	Name          string              `json:"name"`
	Folder        string              `json:"folder"`
	Revision      int                 `json:"revision"`
	URL           string              `json:"url"`
	Links         map[string]link     `json:"_links"`
	Configuration *pipelineConfigJSON `json:"configuration,omitempty"`
}

type pipelineConfigJSON struct {
	Type       string            `json:"type"`
	Path       string            `json:"path,omitempty"`
	Repository *pipelineRepoJSON `json:"repository,omitempty"`
}

type pipelineRepoJSON struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	URL           string `json:"url"`
	DefaultBranch string `json:"defaultBranch"`
}

// pipeline renders a definition as a Pipeline; configuration is included on get and
// create, as the service does.
func (rq *Request) pipeline(d devops.Definition, configuration bool) pipelineJSON {
	u := rq.URL(d.ProjectID, "_apis", "pipelines", strconv.Itoa(d.ID)) + "?revision=" + strconv.Itoa(d.Revision)
	out := pipelineJSON{
		ID: d.ID, Name: d.Name, Folder: d.Folder, Revision: d.Revision, URL: u,
		Links: map[string]link{
			"self": {Href: u},
			"web":  {Href: rq.URL(rq.Project.Name, "_build", "definition") + "?definitionId=" + strconv.Itoa(d.ID)},
		},
	}
	if configuration {
		switch d.Kind {
		case devops.DefinitionYAML:
			repo := renderRepository(d.Repository)
			out.Configuration = &pipelineConfigJSON{Type: "yaml", Path: d.YAMLPath, Repository: &pipelineRepoJSON{
				ID: repo.ID, Name: repo.Name, Type: strings.ToLower(repo.Type), URL: repo.URL, DefaultBranch: repo.DefaultBranch,
			}}
		default:
			out.Configuration = &pipelineConfigJSON{Type: "designerJson"}
		}
	}
	return out
}

type pipelineBody struct {
	Name          string `json:"name"`
	Folder        string `json:"folder"`
	Configuration *struct {
		Type       string          `json:"type"`
		Path       string          `json:"path"`
		Repository *repositoryBody `json:"repository"`
	} `json:"configuration"`
}

func (h *Handler) createPipeline(rq *Request) error {
	if !rq.HasProject {
		return devops.BadRequest("Pipelines belong to a project: use /{organization}/{project}/_apis/pipelines.")
	}
	if _, ok := rq.Value("pipelineId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET"}}
	}
	var b pipelineBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	c := b.Configuration
	switch {
	case c == nil:
		return devops.BadRequest("A pipeline needs a configuration: {type: yaml, path, repository}.")
	case !strings.EqualFold(c.Type, "yaml"):
		return devops.BadRequest("The configuration type %q is not supported here; create YAML pipelines with this API and classic ones with the build definitions API.", clip(c.Type))
	case c.Path == "":
		return devops.BadRequest("Value cannot be null. Parameter name: Path (the YAML file's path in the repository).")
	}
	repo, err := c.Repository.repository()
	if err != nil {
		return err
	}
	d, err := h.svc.CreateDefinition(rq.R.Context(), rq.Org, rq.Project, rq.Caller.Identity(), devops.DefinitionInput{
		Name: b.Name, Folder: b.Folder, Kind: devops.DefinitionYAML, Repository: repo, YAMLPath: c.Path,
	})
	if err != nil {
		return err
	}
	return rq.OK(rq.pipeline(d, true))
}

func (h *Handler) getPipelines(rq *Request) error {
	if !rq.HasProject {
		return devops.BadRequest("Pipelines belong to a project: use /{organization}/{project}/_apis/pipelines.")
	}
	ctx := rq.R.Context()
	if _, ok := rq.Value("pipelineId"); ok {
		id, err := rq.IntValue("pipelineId", definitionNotFound)
		if err != nil {
			return err
		}
		d, err := h.svc.Definition(ctx, rq.Org, rq.Project.ID, id)
		if err != nil {
			return err
		}
		if v := rq.Query("pipelineVersion"); v != "" && v != strconv.Itoa(d.Revision) {
			return devops.NotImplemented("Keystage keeps only the current version (%d) of a pipeline; version %s is not available.", d.Revision, clip(v))
		}
		return rq.OK(rq.pipeline(d, true))
	}
	defs, err := h.svc.Definitions(ctx, rq.Org, rq.Project.ID)
	if err != nil {
		return err
	}
	switch order := strings.ToLower(strings.Join(strings.Fields(rq.Query("orderBy")), " ")); order {
	case "", "name", "name asc":
		slices.SortStableFunc(defs, func(a, b devops.Definition) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		})
	case "name desc":
		slices.SortStableFunc(defs, func(a, b devops.Definition) int {
			return strings.Compare(strings.ToLower(b.Name), strings.ToLower(a.Name))
		})
	default:
		return devops.BadRequest("orderBy %q is not supported; use \"name asc\" or \"name desc\".", clip(rq.Query("orderBy")))
	}
	pg, err := rq.Paging()
	if err != nil {
		return err
	}
	var out []pipelineJSON
	for _, d := range page(rq.W, defs, pg) {
		out = append(out, rq.pipeline(d, false))
	}
	return rq.OK(newCollection(out))
}
