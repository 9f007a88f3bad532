package devopshttp

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// The runs area: pipeline runs, preview, run logs and artifacts (Pipelines API), builds,
// timelines, build logs and build artifacts (Build API), served by the run orchestrator.
// Files: runs.go (this file: area, Pipelines API runs and preview), builds.go,
// timeline.go, logs.go, artifacts.go; the agent protocol is agentprotocol.go.

// runsAPI serves the runs area.
type runsAPI struct {
	h    *Handler
	runs *orchestrator.Service
}

// RunsArea returns the routes of runs, timelines, logs and artifacts, served by runs.
func RunsArea(h *Handler, runs *orchestrator.Service) Area {
	a := &runsAPI{h: h, runs: runs}
	read := func(loc, method string, fn func(*Request) error) Route {
		return Route{Location: loc, Method: method, Access: AccessRead, Scope: "build", Handle: fn}
	}
	execute := func(loc, method string, fn func(*Request) error) Route {
		return Route{Location: loc, Method: method, Access: AccessManage, Scope: "build", Handle: fn}
	}
	return Area{Name: "runs", Routes: []Route{
		execute(LocPipelineRuns, http.MethodPost, a.runPipeline),
		read(LocPipelineRuns, http.MethodGet, a.getRuns),
		execute(LocPipelinePreview, http.MethodPost, a.preview),
		read(LocPipelineLogs, http.MethodGet, a.getRunLogs),
		read(LocPipelineArtifacts, http.MethodGet, a.getRunArtifact),
		execute(LocBuilds, http.MethodPost, a.queueBuild),
		read(LocBuilds, http.MethodGet, a.getBuilds),
		execute(LocBuilds, http.MethodPatch, a.updateBuild),
		execute(LocBuilds, http.MethodDelete, a.deleteBuild),
		read(LocBuildTimeline, http.MethodGet, a.getTimeline),
		read(LocBuildLogs, http.MethodGet, a.getBuildLogs),
		read(LocBuildArtifacts, http.MethodGet, a.getBuildArtifacts),
	}}
}

// project is the request's project as the orchestrator names it.
func (a *runsAPI) project(rq *Request) (orchestrator.Project, error) {
	if !rq.HasProject {
		return orchestrator.Project{}, devops.BadRequest("Runs belong to a project: use /{organization}/{project}/_apis/...")
	}
	return orchestrator.Project{OrgID: rq.Org.ID, OrgName: rq.Org.Name, ID: rq.Project.ID, Name: rq.Project.Name}, nil
}

// pipelineOf turns a definition into what the orchestrator runs.
func pipelineOf(d devops.Definition) orchestrator.Pipeline {
	pl := orchestrator.Pipeline{ID: d.ID, Name: d.Name, Folder: d.Folder, Revision: d.Revision, QueueID: d.QueueID}
	pl.Repository = orchestrator.PipelineRepository{Name: d.Repository.Name, DefaultBranch: d.Repository.DefaultBranch}
	if d.Repository.Kind == devops.RepositoryLocal {
		pl.Repository.Kind, pl.Repository.Location = orchestrator.RepositoryLocal, d.Repository.Path
	} else {
		pl.Repository.Kind, pl.Repository.Location = orchestrator.RepositoryGit, d.Repository.URL
	}
	pl.Repository.ID = pl.Repository.Location
	if d.Kind == devops.DefinitionClassic {
		pl.Classic = d.Process
	} else {
		pl.YAMLPath = d.YAMLPath
	}
	for _, n := range slices.Sorted(maps.Keys(d.Variables)) {
		v := d.Variables[n]
		pl.Variables = append(pl.Variables, orchestrator.DefinitionVariable{Name: n, Value: v.Value, Secret: v.IsSecret, AllowOverride: v.AllowOverride})
	}
	return pl
}

// definition loads the definition a run is queued for, refusing disabled ones.
func (a *runsAPI) definition(rq *Request, id int) (devops.Definition, error) {
	d, err := a.h.svc.Definition(rq.R.Context(), rq.Org, rq.Project.ID, id)
	if err != nil {
		return devops.Definition{}, err
	}
	if d.QueueStatus == devops.QueueDisabled {
		return devops.Definition{}, devops.BadRequest("The pipeline %s is disabled; enable it to queue runs.", d.Name)
	}
	return d, nil
}

// runPipelineBody is RunPipelineParameters.
type runPipelineBody struct {
	Resources *struct {
		Repositories map[string]struct {
			RefName string `json:"refName"`
			Version string `json:"version"`
		} `json:"repositories"`
	} `json:"resources"`
	Variables map[string]struct {
		Value    *string `json:"value"`
		IsSecret bool    `json:"isSecret"`
	} `json:"variables"`
	TemplateParameters map[string]any `json:"templateParameters"`
	StagesToSkip       []string       `json:"stagesToSkip"`
	PreviewRun         bool           `json:"previewRun"`
	YamlOverride       string         `json:"yamlOverride"`
}

// options turns the body into queue options.
func (b *runPipelineBody) options(rq *Request) (orchestrator.QueueOptions, error) {
	o := orchestrator.QueueOptions{StagesToSkip: b.StagesToSkip, YAMLOverride: b.YamlOverride, Reason: "manual",
		RequestedBy: requester(rq)}
	if b.Resources != nil {
		for alias, r := range b.Resources.Repositories {
			if !strings.EqualFold(alias, "self") {
				return o, devops.NotImplemented("Keystage runs only the self repository; resources.repositories.%s cannot be set when queuing.", clip(alias))
			}
			o.Branch, o.Commit = r.RefName, r.Version
		}
	}
	for _, n := range slices.Sorted(maps.Keys(b.Variables)) {
		v := b.Variables[n]
		val := ""
		if v.Value != nil {
			val = *v.Value
		}
		o.Variables = append(o.Variables, job.Variable{Name: n, Value: val, Secret: v.IsSecret})
	}
	o.Parameters = templateParameters(b.TemplateParameters)
	return o, nil
}

// requester is the caller as a run's requestedBy.
func requester(rq *Request) orchestrator.IdentityRef {
	id := rq.Caller.Identity()
	name := id.DisplayName
	if name == "" {
		name = id.ID
	}
	return orchestrator.IdentityRef{ID: id.ID, DisplayName: name, UniqueName: id.ID}
}

func (a *runsAPI) runPipeline(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	if _, ok := rq.Value("runId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET"}}
	}
	id, err := rq.IntValue("pipelineId", definitionNotFound)
	if err != nil {
		return err
	}
	var b runPipelineBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	d, err := a.definition(rq, id)
	if err != nil {
		return err
	}
	o, err := b.options(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	if b.PreviewRun {
		final, err := a.runs.Preview(ctx, p, pipelineOf(d), o)
		if err != nil {
			return err
		}
		return rq.OK(map[string]any{"finalYaml": final, "pipeline": a.pipelineRef(rq, orchestrator.PipelineRef{ID: d.ID, Name: d.Name, Folder: d.Folder, Revision: d.Revision})})
	}
	run, err := a.runs.Queue(ctx, p, pipelineOf(d), o)
	if err != nil {
		return err
	}
	return rq.OK(a.runJSON(rq, run))
}

func (a *runsAPI) preview(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	id, err := rq.IntValue("pipelineId", definitionNotFound)
	if err != nil {
		return err
	}
	var b runPipelineBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	d, err := a.h.svc.Definition(rq.R.Context(), rq.Org, rq.Project.ID, id)
	if err != nil {
		return err
	}
	o, err := b.options(rq)
	if err != nil {
		return err
	}
	final, err := a.runs.Preview(rq.R.Context(), p, pipelineOf(d), o)
	if err != nil {
		return err
	}
	return rq.OK(map[string]string{"finalYaml": final})
}

// runJSON is the Pipelines API's Run.
type runJSON struct {
	ID                 int                   `json:"id"`
	Name               string                `json:"name"`
	State              string                `json:"state"`
	Result             string                `json:"result,omitempty"`
	CreatedDate        time.Time             `json:"createdDate"`
	FinishedDate       *time.Time            `json:"finishedDate,omitempty"`
	URL                string                `json:"url"`
	Pipeline           pipelineRefJSON       `json:"pipeline"`
	Resources          runResourcesJSON      `json:"resources"`
	TemplateParameters map[string]any        `json:"templateParameters,omitempty"`
	Variables          map[string]runVarJSON `json:"variables,omitempty"`
	FinalYaml          string                `json:"finalYaml,omitempty"`
	Links              map[string]link       `json:"_links"`
}

type pipelineRefJSON struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Folder   string `json:"folder"`
	Revision int    `json:"revision"`
	URL      string `json:"url"`
}

type runResourcesJSON struct {
	Repositories map[string]runRepoJSON `json:"repositories"`
}

type runRepoJSON struct {
	RefName    string `json:"refName"`
	Version    string `json:"version,omitempty"`
	Repository struct {
		Type string `json:"type"`
	} `json:"repository"`
}

type runVarJSON struct {
	Value    *string `json:"value"`
	IsSecret bool    `json:"isSecret,omitempty"`
}

func (a *runsAPI) pipelineRef(rq *Request, p orchestrator.PipelineRef) pipelineRefJSON {
	folder := p.Folder
	if folder == "" {
		folder = `\`
	}
	return pipelineRefJSON{ID: p.ID, Name: p.Name, Folder: folder, Revision: p.Revision,
		URL: rq.URL(rq.Project.ID, "_apis", "pipelines", strconv.Itoa(p.ID)) + "?revision=" + strconv.Itoa(p.Revision)}
}

// runState maps a Build status to the Pipelines API's RunState: queued runs are
// inProgress there.
func runState(status string) string {
	switch status {
	case orchestrator.StatusCompleted:
		return "completed"
	case orchestrator.StatusCancelling:
		return "canceling"
	}
	return "inProgress"
}

// runResult maps a Build result to RunResult, which has no partiallySucceeded: such runs
// read "succeeded" (the Build API keeps the distinction).
func runResult(r string) string {
	switch r {
	case orchestrator.ResultSucceeded, orchestrator.ResultPartiallySucceeded:
		return "succeeded"
	case orchestrator.ResultFailed:
		return "failed"
	case orchestrator.ResultCanceled:
		return "canceled"
	}
	return ""
}

func (a *runsAPI) runJSON(rq *Request, r orchestrator.Run) runJSON {
	u := rq.URL(rq.Project.ID, "_apis", "pipelines", strconv.Itoa(r.Pipeline.ID), "runs", strconv.FormatInt(r.ID, 10))
	out := runJSON{
		ID: int(r.ID), Name: r.BuildNumber, State: runState(r.Status), CreatedDate: r.QueueTime, URL: u,
		Pipeline:  a.pipelineRef(rq, r.Pipeline),
		FinalYaml: r.FinalYAML,
		Links: map[string]link{
			"self":         {Href: u},
			"web":          {Href: rq.URL(rq.Project.Name, "_build", "results") + "?buildId=" + strconv.FormatInt(r.ID, 10)},
			"pipeline.web": {Href: rq.URL(rq.Project.Name, "_build", "definition") + "?definitionId=" + strconv.Itoa(r.Pipeline.ID)},
			"pipeline":     {Href: a.pipelineRef(rq, r.Pipeline).URL},
		},
	}
	if r.Done() {
		out.Result = runResult(r.Result)
		ft := r.FinishTime
		out.FinishedDate = &ft
	}
	repo := runRepoJSON{RefName: r.SourceBranch, Version: r.SourceVersion}
	repo.Repository.Type = "git"
	if r.Repository.Kind == orchestrator.RepositoryLocal {
		repo.Repository.Type = "local"
	}
	out.Resources.Repositories = map[string]runRepoJSON{"self": repo}
	if len(r.TemplateParameters) > 0 {
		out.TemplateParameters = map[string]any{}
		for k, v := range r.TemplateParameters {
			out.TemplateParameters[k] = v
		}
	}
	if len(r.Parameters)+len(r.SecretParameters) > 0 {
		out.Variables = map[string]runVarJSON{}
		for k, v := range r.Parameters {
			out.Variables[k] = runVarJSON{Value: &v}
		}
		for _, k := range r.SecretParameters {
			out.Variables[k] = runVarJSON{IsSecret: true}
		}
	}
	return out
}

// runNotFound is the answer for a run id that cannot exist.
func runNotFound(v string) error {
	return devops.BadRequest("The run id %q is not a positive integer.", clip(v))
}

// runID returns the route value name as a run id.
func runID(rq *Request, name string) (int64, error) {
	v, _ := rq.Value(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, runNotFound(v)
	}
	return n, nil
}

// build returns the project and build id of a Build API path.
func (a *runsAPI) build(rq *Request) (orchestrator.Project, int64, error) {
	p, err := a.project(rq)
	if err != nil {
		return p, 0, err
	}
	id, err := runID(rq, "buildId")
	return p, id, err
}

// runOfPipeline loads a run and checks that it belongs to the pipeline of the path.
func (a *runsAPI) runOfPipeline(ctx context.Context, rq *Request, p orchestrator.Project) (orchestrator.Run, error) {
	pid, err := rq.IntValue("pipelineId", definitionNotFound)
	if err != nil {
		return orchestrator.Run{}, err
	}
	id, err := runID(rq, "runId")
	if err != nil {
		return orchestrator.Run{}, err
	}
	r, err := a.runs.Run(ctx, p, id)
	if err != nil {
		return orchestrator.Run{}, err
	}
	if r.Pipeline.ID != pid {
		return orchestrator.Run{}, orchestrator.RunNotFound(id)
	}
	return r, nil
}

func (a *runsAPI) getRuns(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	if _, ok := rq.Value("runId"); ok {
		r, err := a.runOfPipeline(ctx, rq, p)
		if err != nil {
			return err
		}
		return rq.OK(a.runJSON(rq, r))
	}
	pid, err := rq.IntValue("pipelineId", definitionNotFound)
	if err != nil {
		return err
	}
	runs, _, err := a.runs.List(ctx, p, orchestrator.RunFilter{DefinitionIDs: []int{pid}, Top: 1000})
	if err != nil {
		return err
	}
	out := make([]runJSON, 0, len(runs))
	for _, r := range runs {
		j := a.runJSON(rq, r)
		j.FinalYaml = ""
		out = append(out, j)
	}
	return rq.OK(newCollection(out))
}

// templateParameters renders template parameter values as text; nil when there are none.
func templateParameters(params map[string]any) map[string]string {
	if len(params) == 0 {
		return nil
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		out[k] = stringify(v)
	}
	return out
}

// stringify renders a template parameter value as text (objects and lists as JSON).
func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
