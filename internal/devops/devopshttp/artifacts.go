package devopshttp

import (
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
)

// buildArtifactJSON is the Build API's BuildArtifact.
type buildArtifactJSON struct {
	ID       int                  `json:"id"`
	Name     string               `json:"name"`
	Source   string               `json:"source"`
	Resource artifactResourceJSON `json:"resource"`
}

type artifactResourceJSON struct {
	Type        string            `json:"type"`
	Data        string            `json:"data"`
	Properties  map[string]string `json:"properties"`
	URL         string            `json:"url"`
	DownloadURL string            `json:"downloadUrl"`
	Links       map[string]link   `json:"_links"`
}

// artifactsURL is the Build API URL of a build's artifacts.
func artifactsURL(rq *Request, buildID int64) string {
	return rq.URL(rq.Project.ID, "_apis", "build", "builds", strconv.FormatInt(buildID, 10), "artifacts")
}

func (a *runsAPI) artifactJSON(rq *Request, buildID int64, ai orchestrator.ArtifactInfo) buildArtifactJSON {
	q := url.Values{"artifactName": {ai.Name}, "api-version": {"7.1"}}
	u := artifactsURL(rq, buildID) + "?" + q.Encode()
	q.Set("$format", "zip")
	download := artifactsURL(rq, buildID) + "?" + q.Encode()
	res := artifactResourceJSON{
		Type: "Container", Data: "#/" + strconv.FormatInt(buildID, 10) + "/" + ai.Name,
		Properties:  map[string]string{"localpath": ai.Name, "artifactsize": strconv.FormatInt(ai.Size, 10)},
		URL:         u,
		DownloadURL: download,
		Links:       map[string]link{"self": {Href: u}, "download": {Href: download}},
	}
	if ai.Kind == agentproto.Pipeline {
		res.Type = "PipelineArtifact"
		res.Data = strconv.FormatInt(buildID, 10) + "/" + ai.Name
	}
	return buildArtifactJSON{ID: ai.ID, Name: ai.Name, Source: ai.JobID, Resource: res}
}

// getBuildArtifacts lists a build's artifacts, or answers one (?artifactName=) as JSON or
// as a zip (Accept: application/zip or $format=zip), or one file of it (?fileId=, as a
// path inside the artifact, with Accept: application/octet-stream).
func (a *runsAPI) getBuildArtifacts(rq *Request) error {
	p, id, err := a.build(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	name := rq.Query("artifactName")
	if name == "" {
		list, err := a.runs.Artifacts(ctx, p, id)
		if err != nil {
			return err
		}
		out := make([]buildArtifactJSON, 0, len(list))
		for _, ai := range list {
			out = append(out, a.artifactJSON(rq, id, ai))
		}
		return rq.OK(newCollection(out))
	}
	ai, err := a.runs.Artifact(ctx, p, id, name)
	if err != nil {
		return err
	}
	if fileID := rq.Query("fileId"); fileID != "" {
		fp := fileID
		if strings.HasPrefix(fp, "#/") { // a container item path: #/{containerId}/{name}/{path}
			parts := strings.SplitN(fp, "/", 3)
			if len(parts) == 3 {
				fp = parts[2]
			}
		}
		fileName := rq.Query("fileName")
		if fileName == "" {
			fileName = path.Base(fp)
		}
		rq.W.Header().Set("Content-Type", "application/octet-stream")
		rq.W.Header().Set("Content-Disposition", "attachment; filename=\""+strings.ReplaceAll(safeName(fileName), `"`, "")+"\"")
		return a.runs.WriteArtifactFile(ctx, p, id, ai.Name, fp, rq.W)
	}
	if accepts(rq, "zip") {
		rq.W.Header().Set("Content-Type", "application/zip")
		rq.W.Header().Set("Content-Disposition", "attachment; filename=\""+safeName(ai.Name)+".zip\"")
		return a.runs.WriteArtifactZip(ctx, p, id, ai.Name, rq.W)
	}
	return rq.OK(a.artifactJSON(rq, id, ai))
}

// getRunArtifact answers the Pipelines API's Artifact (?artifactName=, required).
func (a *runsAPI) getRunArtifact(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	r, err := a.runOfPipeline(ctx, rq, p)
	if err != nil {
		return err
	}
	name := rq.Query("artifactName")
	if name == "" {
		return devops.BadRequest("artifactName is required.")
	}
	ai, err := a.runs.Artifact(ctx, p, r.ID, name)
	if err != nil {
		return err
	}
	j := a.artifactJSON(rq, r.ID, ai)
	out := map[string]any{"name": ai.Name, "url": j.Resource.URL}
	if strings.EqualFold(rq.Query("$expand"), "signedContent") {
		out["signedContent"] = signedURLJSON{URL: j.Resource.DownloadURL}
	}
	return rq.OK(out)
}
