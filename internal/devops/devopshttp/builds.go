package devopshttp

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// buildJSON is the Build API's Build.
type buildJSON struct {
	ID                int               `json:"id"`
	BuildNumber       string            `json:"buildNumber"`
	Status            string            `json:"status"`
	Result            string            `json:"result,omitempty"`
	QueueTime         time.Time         `json:"queueTime"`
	StartTime         *time.Time        `json:"startTime,omitempty"`
	FinishTime        *time.Time        `json:"finishTime,omitempty"`
	URL               string            `json:"url"`
	URI               string            `json:"uri"`
	Definition        buildDefJSON      `json:"definition"`
	Project           projectJSON       `json:"project"`
	SourceBranch      string            `json:"sourceBranch"`
	SourceVersion     string            `json:"sourceVersion,omitempty"`
	Queue             *buildQueueJSON   `json:"queue,omitempty"`
	Priority          string            `json:"priority"`
	Reason            string            `json:"reason"`
	RequestedBy       *identityJSON     `json:"requestedBy,omitempty"`
	RequestedFor      *identityJSON     `json:"requestedFor,omitempty"`
	LastChangedDate   time.Time         `json:"lastChangedDate"`
	OrchestrationPlan planRefJSON       `json:"orchestrationPlan"`
	Plans             []planRefJSON     `json:"plans"`
	Logs              logsRefJSON       `json:"logs"`
	Repository        *buildRepoJSON    `json:"repository,omitempty"`
	Parameters        string            `json:"parameters,omitempty"`
	TemplateParams    map[string]string `json:"templateParameters,omitempty"`
	Tags              []string          `json:"tags"`
	ValidationResults []validationJSON  `json:"validationResults"`
	KeepForever       bool              `json:"keepForever"`
	RetainedByRelease bool              `json:"retainedByRelease"`
	Links             map[string]link   `json:"_links"`
}

type buildDefJSON struct {
	ID       int         `json:"id"`
	Name     string      `json:"name"`
	Path     string      `json:"path"`
	Revision int         `json:"revision"`
	Type     string      `json:"type"`
	URL      string      `json:"url"`
	Project  projectJSON `json:"project"`
}

type buildQueueJSON struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Pool *struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"pool,omitempty"`
}

type planRefJSON struct {
	PlanID string `json:"planId"`
}

type logsRefJSON struct {
	ID   int    `json:"id"`
	Type string `json:"type"`
	URL  string `json:"url"`
}

type buildRepoJSON struct {
	ID                 string  `json:"id"`
	Type               string  `json:"type"`
	Name               string  `json:"name,omitempty"`
	URL                string  `json:"url,omitempty"`
	Clean              *string `json:"clean"`
	CheckoutSubmodules bool    `json:"checkoutSubmodules"`
}

type validationJSON struct {
	Result  string `json:"result"`
	Message string `json:"message"`
}

func (a *runsAPI) buildJSON(rq *Request, r orchestrator.Run) buildJSON {
	id := strconv.FormatInt(r.ID, 10)
	u := rq.URL(rq.Project.ID, "_apis", "build", "Builds", id)
	proj := rq.projectRef(rq.Project)
	folder := r.Pipeline.Folder
	if folder == "" {
		folder = `\`
	}
	out := buildJSON{
		ID: int(r.ID), BuildNumber: r.BuildNumber, Status: r.Status, QueueTime: r.QueueTime, URL: u,
		URI: "vstfs:///Build/Build/" + id,
		Definition: buildDefJSON{ID: r.Pipeline.ID, Name: r.Pipeline.Name, Path: folder, Revision: r.Pipeline.Revision, Type: "build",
			URL: rq.URL(rq.Project.ID, "_apis", "build", "Definitions", strconv.Itoa(r.Pipeline.ID)) + "?revision=" + strconv.Itoa(r.Pipeline.Revision), Project: proj},
		Project:      proj,
		SourceBranch: r.SourceBranch, SourceVersion: r.SourceVersion,
		Priority: "normal", Reason: r.Reason,
		RequestedBy:       identityRef(devops.IdentityRef{ID: r.RequestedBy.ID, DisplayName: r.RequestedBy.DisplayName}),
		RequestedFor:      identityRef(devops.IdentityRef{ID: r.RequestedFor.ID, DisplayName: r.RequestedFor.DisplayName}),
		LastChangedDate:   r.LastChanged,
		OrchestrationPlan: planRefJSON{PlanID: r.PlanID},
		Plans:             []planRefJSON{{PlanID: r.PlanID}},
		Logs:              logsRefJSON{Type: "Container", URL: u + "/logs"},
		Tags:              nonNil(r.Tags),
		TemplateParams:    r.TemplateParameters,
		ValidationResults: []validationJSON{},
		Links: map[string]link{
			"self":     {Href: u},
			"web":      {Href: rq.URL(rq.Project.Name, "_build", "results") + "?buildId=" + id},
			"timeline": {Href: u + "/Timeline"},
		},
	}
	if !r.StartTime.IsZero() {
		st := r.StartTime
		out.StartTime = &st
	}
	if r.Done() {
		out.Result = r.Result
		ft := r.FinishTime
		out.FinishTime = &ft
	}
	if r.Queue.ID != 0 {
		q := &buildQueueJSON{ID: r.Queue.ID, Name: r.Queue.Name}
		q.Pool = &struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		}{r.Queue.PoolID, r.Queue.PoolName}
		out.Queue = q
	}
	repo := &buildRepoJSON{ID: r.Repository.ID, Type: "Git", Name: r.Repository.Name, URL: r.Repository.Location}
	if r.Repository.Kind == orchestrator.RepositoryLocal {
		repo.Type = "Local"
	}
	out.Repository = repo
	if len(r.Parameters) > 0 {
		b, _ := json.Marshal(r.Parameters)
		out.Parameters = string(b)
	}
	for _, is := range r.Issues {
		out.ValidationResults = append(out.ValidationResults, validationJSON{Result: is.Type, Message: is.Message})
	}
	return out
}

// queueBody is the part of a Build that QueueBuild reads.
type queueBody struct {
	Definition *struct {
		ID int `json:"id"`
	} `json:"definition"`
	SourceBranch       string         `json:"sourceBranch"`
	SourceVersion      *string        `json:"sourceVersion"`
	Parameters         string         `json:"parameters"`
	TemplateParameters map[string]any `json:"templateParameters"`
	Reason             string         `json:"reason"`
}

// parseParameters reads Build.parameters: a JSON object as text. az sends it through a
// Python str(), so single-quoted dicts are accepted too.
func parseParameters(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		if err2 := json.Unmarshal([]byte(strings.ReplaceAll(s, "'", `"`)), &m); err2 != nil {
			return nil, devops.BadRequest("parameters must be a JSON object of variable names to values, as text.")
		}
	}
	return templateParameters(m), nil
}

func (a *runsAPI) queueBuild(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	if _, ok := rq.Value("buildId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "PATCH", "DELETE"}}
	}
	var b queueBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	defID := 0
	if b.Definition != nil {
		defID = b.Definition.ID
	}
	if q := rq.Query("definitionId"); defID == 0 && q != "" {
		defID, _ = strconv.Atoi(q)
	}
	if defID <= 0 {
		return devops.BadRequest("A build needs definition.id: the pipeline to run.")
	}
	d, err := a.definition(rq, defID)
	if err != nil {
		return err
	}
	params, err := parseParameters(b.Parameters)
	if err != nil {
		return err
	}
	o := orchestrator.QueueOptions{Branch: b.SourceBranch, Reason: "manual", RequestedBy: requester(rq)}
	if b.SourceVersion != nil {
		o.Commit = *b.SourceVersion
	}
	if b.Reason != "" {
		o.Reason = strings.ToLower(b.Reason[:1]) + b.Reason[1:]
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		o.Variables = append(o.Variables, job.Variable{Name: k, Value: params[k]})
	}
	o.Parameters = templateParameters(b.TemplateParameters)
	run, err := a.runs.Queue(rq.R.Context(), p, pipelineOf(d), o)
	if err != nil {
		return err
	}
	return rq.OK(a.buildJSON(rq, run))
}

func (a *runsAPI) getBuilds(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	ctx := rq.R.Context()
	if _, ok := rq.Value("buildId"); ok {
		id, err := runID(rq, "buildId")
		if err != nil {
			return err
		}
		r, err := a.runs.Run(ctx, p, id)
		if err != nil {
			return err
		}
		return rq.OK(a.buildJSON(rq, r))
	}
	f := orchestrator.RunFilter{Status: rq.Query("statusFilter"), Result: rq.Query("resultFilter"), Branch: rq.Query("branchName")}
	for _, s := range rq.QueryList("definitions") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return devops.BadRequest("definitions must be a list of pipeline ids.")
		}
		f.DefinitionIDs = append(f.DefinitionIDs, n)
	}
	for _, s := range rq.QueryList("buildIds") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return devops.BadRequest("buildIds must be a list of build ids.")
		}
		f.RunIDs = append(f.RunIDs, n)
	}
	if s := rq.Query("$top"); s != "" {
		if f.Top, err = strconv.Atoi(s); err != nil || f.Top < 0 {
			return devops.BadRequest("$top must be a non-negative integer.")
		}
	}
	if s := rq.Query("continuationToken"); s != "" {
		if f.Continuation, err = strconv.ParseInt(s, 10, 64); err != nil || f.Continuation < 0 {
			return devops.BadRequest("continuationToken must be the token of a previous page.")
		}
	}
	switch order := strings.ToLower(rq.Query("queryOrder")); order {
	case "", "queuetimedescending", "starttimedescending", "finishtimedescending":
	default:
		return devops.NotImplemented("queryOrder %s is not supported; builds are listed newest first.", clip(rq.Query("queryOrder")))
	}
	runs, next, err := a.runs.List(ctx, p, f)
	if err != nil {
		return err
	}
	if next > 0 {
		rq.W.Header().Set("X-MS-ContinuationToken", strconv.FormatInt(next, 10))
	}
	out := make([]buildJSON, 0, len(runs))
	for _, r := range runs {
		out = append(out, a.buildJSON(rq, r))
	}
	return rq.OK(newCollection(out))
}

// updateBody is the part of a Build that UpdateBuild reads: only a cancel is supported.
type updateBody struct {
	Status *string `json:"status"`
}

func (a *runsAPI) updateBuild(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	if _, ok := rq.Value("buildId"); !ok {
		return devops.NotImplemented("Updating several builds at once is not supported; PATCH one build.")
	}
	id, err := runID(rq, "buildId")
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := rq.Decode(&raw); err != nil {
		return err
	}
	var b updateBody
	if err := decodeBytes(mustJSON(raw), &b); err != nil {
		return err
	}
	for k := range raw {
		if !strings.EqualFold(k, "status") && !strings.EqualFold(k, "id") {
			return devops.NotImplemented("Keystage updates only a build's status (to cancelling); %s cannot be changed.", clip(k))
		}
	}
	ctx := rq.R.Context()
	if b.Status == nil {
		r, err := a.runs.Run(ctx, p, id)
		if err != nil {
			return err
		}
		return rq.OK(a.buildJSON(rq, r))
	}
	if !strings.EqualFold(*b.Status, orchestrator.StatusCancelling) {
		return devops.BadRequest("A build's status can only be set to cancelling, not %s.", clip(*b.Status))
	}
	r, err := a.runs.Cancel(ctx, p, id)
	if err != nil {
		return err
	}
	return rq.OK(a.buildJSON(rq, r))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func (a *runsAPI) deleteBuild(rq *Request) error {
	p, err := a.project(rq)
	if err != nil {
		return err
	}
	if _, ok := rq.Value("buildId"); !ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "POST"}}
	}
	id, err := runID(rq, "buildId")
	if err != nil {
		return err
	}
	if err := a.runs.Delete(rq.R.Context(), p, id); err != nil {
		return err
	}
	return rq.NoContent()
}
