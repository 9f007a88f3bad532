package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// A pipeline is a build definition (pipeline id = definition id) and a run is a build (run
// id = build id), as in Azure DevOps; these methods use the Build API where az pipelines
// does, and the Pipelines API to create and run.

// Definitions lists the project's pipelines (name: only those with that name; * is a
// wildcard).
func (d DevOps) Definitions(ctx context.Context, org, project, name string) ([]json.RawMessage, error) {
	p := projPath(org, project, "build/definitions")
	if name != "" {
		p += "?name=" + url.QueryEscape(name)
	}
	return d.List(ctx, p)
}

// Definition returns one pipeline (build definition) by id.
func (d DevOps) Definition(ctx context.Context, org, project string, id int) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, projPath(org, project, "build/definitions/"+itoa(id)), nil)
}

// DeleteDefinition deletes a pipeline and its runs.
func (d DevOps) DeleteDefinition(ctx context.Context, org, project string, id int) error {
	_, err := d.Do(ctx, http.MethodDelete, projPath(org, project, "build/definitions/"+itoa(id)), nil)
	return err
}

// NewPipeline is a YAML pipeline for CreatePipeline: the YAML file at YAMLPath in a Git
// repository (RepositoryType git with RepositoryURL, a clone URL or a path the server can
// clone) or in a directory of the server's machine (RepositoryType local). Branch is the
// default branch; QueueID the default agent queue (0: the hosted pool's queue).
type NewPipeline struct {
	Name           string
	Description    string
	Folder         string
	YAMLPath       string
	RepositoryType string
	RepositoryURL  string
	RepositoryName string
	Branch         string
	QueueID        int
}

// CreatePipeline creates a YAML pipeline as az pipelines does, with the build definitions
// API, and returns the definition.
func (d DevOps) CreatePipeline(ctx context.Context, org, project string, n NewPipeline) (json.RawMessage, error) {
	repo := map[string]string{"type": n.RepositoryType, "url": n.RepositoryURL}
	if n.RepositoryName != "" {
		repo["name"] = n.RepositoryName
	}
	if n.Branch != "" {
		repo["defaultBranch"] = refName(n.Branch)
	}
	body := map[string]any{
		"name":       n.Name,
		"process":    map[string]any{"type": 2, "yamlFilename": n.YAMLPath},
		"repository": repo,
	}
	if n.Description != "" {
		body["description"] = n.Description
	}
	if n.Folder != "" {
		body["path"] = n.Folder
	}
	if n.QueueID != 0 {
		body["queue"] = map[string]int{"id": n.QueueID}
	}
	return d.Do(ctx, http.MethodPost, projPath(org, project, "build/definitions"), body)
}

// RunOptions are the parameters of RunPipeline. Branch is a ref name (refs/heads/main)
// or a branch name; Commit a commit id on it.
type RunOptions struct {
	Branch     string
	Commit     string
	Variables  map[string]string
	Parameters map[string]string
}

// RunPipeline queues a run of a pipeline with the Pipelines API and returns the Run.
func (d DevOps) RunPipeline(ctx context.Context, org, project string, pipelineID int, o RunOptions) (json.RawMessage, error) {
	body := map[string]any{}
	if o.Branch != "" || o.Commit != "" {
		self := map[string]string{}
		if o.Branch != "" {
			self["refName"] = refName(o.Branch)
		}
		if o.Commit != "" {
			self["version"] = o.Commit
		}
		body["resources"] = map[string]any{"repositories": map[string]any{"self": self}}
	}
	if len(o.Variables) > 0 {
		vars := map[string]any{}
		for k, v := range o.Variables {
			vars[k] = map[string]string{"value": v}
		}
		body["variables"] = vars
	}
	if len(o.Parameters) > 0 {
		body["templateParameters"] = o.Parameters
	}
	return d.Do(ctx, http.MethodPost, projPath(org, project, "pipelines/"+itoa(pipelineID)+"/runs"), body)
}

// refName turns a branch name into a ref name; refs/… names are kept.
func refName(branch string) string {
	if strings.HasPrefix(branch, "refs/") {
		return branch
	}
	return "refs/heads/" + branch
}

// BuildFilter selects runs (builds) of a project; zero fields match all. Top bounds the
// answer (0: every run).
type BuildFilter struct {
	DefinitionIDs []int
	Branch        string
	Status        string
	Result        string
	Top           int
}

// Builds lists the project's runs, newest first.
func (d DevOps) Builds(ctx context.Context, org, project string, f BuildFilter) ([]json.RawMessage, error) {
	q := url.Values{}
	if len(f.DefinitionIDs) > 0 {
		ids := make([]string, len(f.DefinitionIDs))
		for i, id := range f.DefinitionIDs {
			ids[i] = itoa(id)
		}
		q.Set("definitions", strings.Join(ids, ","))
	}
	for k, v := range map[string]string{"statusFilter": f.Status, "resultFilter": f.Result} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Branch != "" {
		q.Set("branchName", refName(f.Branch))
	}
	if f.Top > 0 {
		q.Set("$top", strconv.Itoa(f.Top))
	}
	p := projPath(org, project, "build/builds")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	if f.Top > 0 {
		raw, err := d.Do(ctx, http.MethodGet, p, nil)
		if err != nil {
			return nil, err
		}
		return collectionValue(raw)
	}
	return d.List(ctx, p)
}

// Build returns one run (build) by id.
func (d DevOps) Build(ctx context.Context, org, project string, id int) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, projPath(org, project, "build/builds/"+itoa(id)), nil)
}

// CancelBuild asks a run to stop (status cancelling) and returns the build.
func (d DevOps) CancelBuild(ctx context.Context, org, project string, id int) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodPatch, projPath(org, project, "build/builds/"+itoa(id)), map[string]string{"status": "cancelling"})
}

// Timeline returns a run's timeline: its stages, jobs, steps and checkpoints as records.
func (d DevOps) Timeline(ctx context.Context, org, project string, buildID int) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, projPath(org, project, "build/builds/"+itoa(buildID)+"/timeline"), nil)
}

// BuildLogs lists a run's logs ({id, lineCount, …}).
func (d DevOps) BuildLogs(ctx context.Context, org, project string, buildID int) ([]json.RawMessage, error) {
	return d.List(ctx, buildLogsPath(org, project, buildID))
}

func buildLogsPath(org, project string, buildID int) string {
	return projPath(org, project, "build/builds/"+itoa(buildID)+"/logs")
}

// BuildLog opens a log of a run as text from line from (1-based; 0 means the first). With
// follow, the server streams the log while it is written and ends the answer when the log
// is complete. The caller closes the reader.
func (d DevOps) BuildLog(ctx context.Context, org, project string, buildID, logID, from int, follow bool) (io.ReadCloser, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("startLine", strconv.Itoa(from))
	}
	if follow {
		q.Set("follow", "true")
	}
	p := buildLogsPath(org, project, buildID) + "/" + itoa(logID)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return d.Open(ctx, p, "text/plain")
}

// BuildArtifacts lists a run's artifacts.
func (d DevOps) BuildArtifacts(ctx context.Context, org, project string, buildID int) ([]json.RawMessage, error) {
	return d.List(ctx, buildArtifactsPath(org, project, buildID))
}

// BuildArtifact returns one artifact of a run by name.
func (d DevOps) BuildArtifact(ctx context.Context, org, project string, buildID int, name string) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, buildArtifactsPath(org, project, buildID)+"?artifactName="+url.QueryEscape(name), nil)
}

// BuildArtifactZip opens an artifact of a run as a zip of its files (paths inside start
// with the artifact's name). The caller closes the reader.
func (d DevOps) BuildArtifactZip(ctx context.Context, org, project string, buildID int, name string) (io.ReadCloser, error) {
	return d.Open(ctx, buildArtifactsPath(org, project, buildID)+"?artifactName="+url.QueryEscape(name)+"&%24format=zip", "application/zip")
}

func buildArtifactsPath(org, project string, buildID int) string {
	return projPath(org, project, "build/builds/"+itoa(buildID)+"/artifacts")
}
