package devopshttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
)

// The build definitions area: a pipeline is a build definition (pipeline id = definition
// id). YAML definitions have process {type: 2, yamlFilename}; classic ones {type: 1,
// phases: [...]}, the ordered tasks the run orchestrator compiles like YAML.
func (h *Handler) definitionsArea() Area {
	return Area{Name: "build definitions", Routes: []Route{
		{Location: LocDefinitions, Method: http.MethodGet, Access: AccessRead, Scope: "build", Handle: h.getDefinitions},
		{Location: LocDefinitions, Method: http.MethodPost, Access: AccessManage, Scope: "build", Handle: h.createDefinition},
		{Location: LocDefinitions, Method: http.MethodPut, Access: AccessManage, Scope: "build", Handle: h.updateDefinition},
		{Location: LocDefinitions, Method: http.MethodDelete, Access: AccessManage, Scope: "build", Handle: h.deleteDefinition},
	}}
}

// Build API process types.
const (
	processDesigner = 1
	processYAML     = 2
)

type definitionBody struct {
	Name        string                  `json:"name"`
	Path        string                  `json:"path"`
	Description string                  `json:"description"`
	Revision    int                     `json:"revision"`
	QueueStatus string                  `json:"queueStatus"`
	Process     *processBody            `json:"process"`
	Repository  *repositoryBody         `json:"repository"`
	Queue       *queueRefBody           `json:"queue"`
	Variables   map[string]variableBody `json:"variables"`
	// Kept and returned, not acted on.
	Triggers       json.RawMessage `json:"triggers"`
	Options        json.RawMessage `json:"options"`
	RetentionRules json.RawMessage `json:"retentionRules"`
	// Refused when set: Keystage has no variable groups or draft definitions yet.
	VariableGroups json.RawMessage `json:"variableGroups"`
	DraftOf        json.RawMessage `json:"draftOf"`
}

type processBody struct {
	Type         int         `json:"type"`
	YAMLFilename string      `json:"yamlFilename"`
	Phases       []phaseBody `json:"phases"`
}

type phaseBody struct {
	Name                      string           `json:"name"`
	RefName                   string           `json:"refName"`
	Condition                 string           `json:"condition"`
	Dependencies              []dependencyBody `json:"dependencies"`
	JobTimeoutInMinutes       int              `json:"jobTimeoutInMinutes"`
	JobCancelTimeoutInMinutes int              `json:"jobCancelTimeoutInMinutes"`
	Target                    *phaseTargetBody `json:"target"`
	Steps                     []stepBody       `json:"steps"`
}

type dependencyBody struct {
	Scope string `json:"scope"`
	Event string `json:"event"`
}

type phaseTargetBody struct {
	Type             int           `json:"type"`
	Queue            *queueRefBody `json:"queue"`
	Demands          []string      `json:"demands"`
	ExecutionOptions *struct {
		Type int `json:"type"`
	} `json:"executionOptions"`
}

type stepBody struct {
	DisplayName             string            `json:"displayName"`
	RefName                 string            `json:"refName"`
	Enabled                 *bool             `json:"enabled"`
	ContinueOnError         bool              `json:"continueOnError"`
	AlwaysRun               bool              `json:"alwaysRun"`
	Condition               string            `json:"condition"`
	TimeoutInMinutes        int               `json:"timeoutInMinutes"`
	RetryCountOnTaskFailure int               `json:"retryCountOnTaskFailure"`
	Environment             map[string]string `json:"environment"`
	Inputs                  map[string]string `json:"inputs"`
	Task                    *struct {
		ID             string `json:"id"`
		Name           string `json:"name"` // Keystage extension: the task by name
		VersionSpec    string `json:"versionSpec"`
		DefinitionType string `json:"definitionType"`
	} `json:"task"`
}

type repositoryBody struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Type          string `json:"type"`
	URL           string `json:"url"`
	DefaultBranch string `json:"defaultBranch"`
	// FullName is the Pipelines API's GitHub "owner/repo".
	FullName string `json:"fullName"`
}

type queueRefBody struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type variableBody struct {
	Value         *string `json:"value"`
	IsSecret      bool    `json:"isSecret"`
	AllowOverride bool    `json:"allowOverride"`
}

// repository turns a wire repository into the domain's: Git repositories by URL (any of
// Azure DevOps' Git repository types), or type "Local" for a directory.
func (b *repositoryBody) repository() (devops.Repository, error) {
	if b == nil {
		return devops.Repository{}, devops.BadRequest("A pipeline needs a repository: a Git url, or type Local with the directory as url.")
	}
	r := devops.Repository{Name: b.Name, DefaultBranch: b.DefaultBranch}
	switch strings.ToLower(b.Type) {
	case "local":
		r.Kind, r.Path = devops.RepositoryLocal, b.URL
		return r, nil
	case "git", "externalgit", "github", "githubenterprise", "tfsgit", "azurereposgit", "bitbucket":
		r.Kind, r.URL = devops.RepositoryGit, b.URL
		if r.URL == "" && b.FullName != "" && strings.EqualFold(b.Type, "github") {
			r.URL = "https://github.com/" + b.FullName + ".git"
		}
		if r.URL == "" {
			return devops.Repository{}, devops.NotImplemented("Keystage hosts no repositories: give the repository's Git url (type %s without url is not supported).", clip(b.Type))
		}
		return r, nil
	}
	return devops.Repository{}, devops.BadRequest("The repository type %q is not supported; use Git (with url) or Local (with the directory as url).", clip(b.Type))
}

func (b *variableBody) input() devops.VariableInput {
	return devops.VariableInput{Value: b.Value, IsSecret: b.IsSecret, AllowOverride: b.AllowOverride}
}

// input turns a build definition body into the domain's definition input.
func (b *definitionBody) input(rq *Request) (devops.DefinitionInput, error) {
	in := devops.DefinitionInput{Name: b.Name, Folder: b.Path, Description: b.Description, Revision: b.Revision, QueueStatus: b.QueueStatus}
	if isSet(b.VariableGroups) {
		return in, devops.NotImplemented("Variable groups are not supported yet; define the variables on the pipeline.")
	}
	if isSet(b.DraftOf) {
		return in, devops.NotImplemented("Draft pipelines are not supported.")
	}
	if b.Process == nil {
		return in, devops.BadRequest("A build definition needs a process: {type: 2, yamlFilename} or {type: 1, phases}.")
	}
	var err error
	if in.Repository, err = b.Repository.repository(); err != nil {
		return in, err
	}
	switch b.Process.Type {
	case processYAML:
		in.Kind, in.YAMLPath = devops.DefinitionYAML, b.Process.YAMLFilename
		if len(b.Process.Phases) > 0 {
			return in, devops.BadRequest("A YAML process has no phases.")
		}
	case processDesigner:
		in.Kind = devops.DefinitionClassic
		if in.Process, err = classicProcess(rq, b.Process.Phases); err != nil {
			return in, err
		}
	default:
		return in, devops.BadRequest("The process type %d is not supported; use 1 (designer) or 2 (YAML).", b.Process.Type)
	}
	if b.Queue != nil {
		if in.QueueID, err = queueID(rq, b.Queue); err != nil {
			return in, err
		}
	}
	if len(b.Variables) > 0 {
		in.Variables = map[string]devops.VariableInput{}
		for name, v := range b.Variables {
			in.Variables[name] = v.input()
		}
	}
	in.Unused = map[string]json.RawMessage{}
	for name, raw := range map[string]json.RawMessage{"triggers": b.Triggers, "options": b.Options, "retentionRules": b.RetentionRules} {
		if isSet(raw) {
			in.Unused[name] = raw
		}
	}
	return in, nil
}

func isSet(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "[]" && s != "{}"
}

// queueID resolves a queue reference by id or name in the request's project.
func queueID(rq *Request, q *queueRefBody) (int, error) {
	if q.ID != 0 {
		return q.ID, nil
	}
	if q.Name == "" {
		return 0, nil
	}
	queue, err := rq.h.svc.QueueByName(rq.R.Context(), rq.Org, rq.Project.ID, q.Name)
	if err != nil {
		return 0, err
	}
	return queue.ID, nil
}

func classicProcess(rq *Request, phases []phaseBody) (*devops.ClassicProcess, error) {
	p := &devops.ClassicProcess{}
	for i, ph := range phases {
		out := devops.ClassicPhase{Name: ph.RefName, DisplayName: ph.Name, Condition: ph.Condition,
			TimeoutInMinutes: ph.JobTimeoutInMinutes, CancelTimeoutInMinutes: ph.JobCancelTimeoutInMinutes}
		for _, d := range ph.Dependencies {
			if d.Event != "" && !strings.EqualFold(d.Event, "Completed") {
				return nil, devops.BadRequest("Phase %d: the dependency event %q is not supported; use Completed.", i+1, clip(d.Event))
			}
			out.DependsOn = append(out.DependsOn, d.Scope)
		}
		if t := ph.Target; t != nil {
			if t.Type != 0 && t.Type != 1 {
				return nil, devops.NotImplemented("Phase %d: only agent jobs (target type 1) are supported; agentless and deployment group jobs are not.", i+1)
			}
			if t.ExecutionOptions != nil && t.ExecutionOptions.Type != 0 {
				return nil, devops.NotImplemented("Phase %d: multi-configuration and multi-agent execution are not supported.", i+1)
			}
			if t.Queue != nil {
				id, err := queueID(rq, t.Queue)
				if err != nil {
					return nil, err
				}
				if id != 0 {
					if _, err := rq.h.svc.Queue(rq.R.Context(), rq.Org, rq.Project.ID, id); err != nil {
						return nil, err
					}
				}
				out.QueueID = id
			}
			out.Demands = t.Demands
		}
		for j, st := range ph.Steps {
			if st.Task == nil {
				return nil, devops.BadRequest("Phase %d, step %d has no task.", i+1, j+1)
			}
			if st.Task.DefinitionType != "" && !strings.EqualFold(st.Task.DefinitionType, "task") {
				return nil, devops.NotImplemented("Phase %d, step %d: task groups and meta tasks (definitionType %s) are not supported.", i+1, j+1, clip(st.Task.DefinitionType))
			}
			version, ok := devops.ParseVersionSpec(st.Task.VersionSpec)
			if !ok {
				return nil, devops.BadRequest("Phase %d, step %d: versionSpec %q is invalid; use a major version such as \"2.*\".", i+1, j+1, clip(st.Task.VersionSpec))
			}
			enabled := st.Enabled == nil || *st.Enabled
			out.Steps = append(out.Steps, devops.ClassicStep{
				DisplayName: st.DisplayName, RefName: st.RefName, Enabled: enabled,
				Task:   devops.TaskRef{ID: st.Task.ID, Name: st.Task.Name, Version: version},
				Inputs: st.Inputs, Env: st.Environment, Condition: st.Condition, AlwaysRun: st.AlwaysRun,
				ContinueOnError: st.ContinueOnError, TimeoutInMinutes: st.TimeoutInMinutes, RetryCountOnTaskFailure: st.RetryCountOnTaskFailure,
			})
		}
		p.Phases = append(p.Phases, out)
	}
	return p, nil
}

type definitionJSON struct {
	ID             int                `json:"id"`
	Name           string             `json:"name"`
	Path           string             `json:"path"`
	Revision       int                `json:"revision"`
	Type           string             `json:"type"`
	QueueStatus    string             `json:"queueStatus"`
	Quality        string             `json:"quality"`
	URI            string             `json:"uri"`
	URL            string             `json:"url"`
	Links          map[string]link    `json:"_links"`
	Project        projectJSON        `json:"project"`
	AuthoredBy     *identityJSON      `json:"authoredBy,omitempty"`
	CreatedDate    time.Time          `json:"createdDate"`
	Queue          *agentQueueJSON    `json:"queue,omitempty"`
	Description    string             `json:"description,omitempty"`
	Process        any                `json:"process,omitempty"`
	Repository     *repositoryJSON    `json:"repository,omitempty"`
	Variables      map[string]varJSON `json:"variables,omitempty"`
	Triggers       json.RawMessage    `json:"triggers,omitempty"`
	Options        json.RawMessage    `json:"options,omitempty"`
	RetentionRules json.RawMessage    `json:"retentionRules,omitempty"`
}

type repositoryJSON struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Type               string            `json:"type"`
	URL                string            `json:"url"`
	DefaultBranch      string            `json:"defaultBranch"`
	Clean              string            `json:"clean"`
	CheckoutSubmodules bool              `json:"checkoutSubmodules"`
	Properties         map[string]string `json:"properties"`
}

type varJSON struct {
	Value         *string `json:"value"`
	IsSecret      bool    `json:"isSecret,omitempty"`
	AllowOverride bool    `json:"allowOverride,omitempty"`
}

// renderRepository shows a repository with Azure's Git type ("Git") or Keystage's Local.
func renderRepository(r devops.Repository) *repositoryJSON {
	out := &repositoryJSON{Name: r.Name, DefaultBranch: r.DefaultBranch, Clean: "false", Properties: map[string]string{}}
	if r.Kind == devops.RepositoryLocal {
		out.ID, out.Type, out.URL = r.Path, "Local", r.Path
	} else {
		out.ID, out.Type, out.URL = r.URL, "Git", r.URL
	}
	return out
}

// definitionRef renders a BuildDefinitionReference (lists) and the base of a full
// BuildDefinition.
func (rq *Request) definitionRef(d devops.Definition) definitionJSON {
	u := rq.URL(d.ProjectID, "_apis", "build", "Definitions", strconv.Itoa(d.ID)) + "?revision=" + strconv.Itoa(d.Revision)
	out := definitionJSON{
		ID: d.ID, Name: d.Name, Path: d.Folder, Revision: d.Revision, Type: "build", QueueStatus: d.QueueStatus,
		Quality: "definition", URI: "vstfs:///Build/Definition/" + strconv.Itoa(d.ID), URL: u,
		Links: map[string]link{
			"self":   {Href: u},
			"web":    {Href: rq.URL(rq.Project.Name, "_build", "definition") + "?definitionId=" + strconv.Itoa(d.ID)},
			"editor": {Href: rq.URL(rq.Project.Name, "_build", "designer") + "?id=" + strconv.Itoa(d.ID)},
		},
		Project:     rq.projectRef(rq.Project),
		AuthoredBy:  identityRef(d.CreatedBy),
		CreatedDate: d.Created,
	}
	if d.QueueID != 0 {
		out.Queue = rq.queueRef(d.ProjectID, d.QueueID)
	}
	return out
}

func (rq *Request) definition(d devops.Definition) definitionJSON {
	out := rq.definitionRef(d)
	out.Description = d.Description
	out.Repository = renderRepository(d.Repository)
	switch d.Kind {
	case devops.DefinitionYAML:
		out.Process = map[string]any{"type": processYAML, "yamlFilename": d.YAMLPath}
	case devops.DefinitionClassic:
		out.Process = renderClassic(d.Process)
	}
	if len(d.Variables) > 0 {
		out.Variables = map[string]varJSON{}
		for name, v := range d.Variables {
			j := varJSON{IsSecret: v.IsSecret, AllowOverride: v.AllowOverride}
			if !v.IsSecret {
				val := v.Value
				j.Value = &val
			}
			out.Variables[name] = j
		}
	}
	out.Triggers, out.Options, out.RetentionRules = d.Unused["triggers"], d.Unused["options"], d.Unused["retentionRules"]
	return out
}

func renderClassic(p *devops.ClassicProcess) any {
	if p == nil {
		return map[string]any{"type": processDesigner, "phases": []any{}}
	}
	phases := make([]map[string]any, 0, len(p.Phases))
	for _, ph := range p.Phases {
		deps := []map[string]string{}
		for _, d := range ph.DependsOn {
			deps = append(deps, map[string]string{"scope": d, "event": "Completed"})
		}
		steps := make([]map[string]any, 0, len(ph.Steps))
		for _, st := range ph.Steps {
			inputs, env := st.Inputs, st.Env
			if inputs == nil {
				inputs = map[string]string{}
			}
			if env == nil {
				env = map[string]string{}
			}
			steps = append(steps, map[string]any{
				"displayName": st.DisplayName, "refName": st.RefName, "enabled": st.Enabled, "continueOnError": st.ContinueOnError,
				"alwaysRun": st.AlwaysRun, "condition": st.Condition, "timeoutInMinutes": st.TimeoutInMinutes,
				"retryCountOnTaskFailure": st.RetryCountOnTaskFailure, "environment": env, "inputs": inputs,
				"task": map[string]any{"id": nullable(st.Task.ID), "name": st.Task.Name, "versionSpec": fmt.Sprintf("%d.*", st.Task.Version), "definitionType": "task"},
			})
		}
		target := map[string]any{"type": 1, "demands": nonNil(ph.Demands), "executionOptions": map[string]int{"type": 0}}
		if ph.QueueID != 0 {
			target["queue"] = map[string]int{"id": ph.QueueID}
		}
		phases = append(phases, map[string]any{
			"name": ph.DisplayName, "refName": ph.Name, "condition": ph.Condition, "dependencies": deps,
			"jobTimeoutInMinutes": ph.TimeoutInMinutes, "jobCancelTimeoutInMinutes": ph.CancelTimeoutInMinutes,
			"target": target, "steps": steps,
		})
	}
	return map[string]any{"type": processDesigner, "phases": phases}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *Handler) getDefinitions(rq *Request) error {
	ctx := rq.R.Context()
	if !rq.HasProject {
		return devops.BadRequest("Build definitions belong to a project: use /{organization}/{project}/_apis/build/definitions.")
	}
	if _, ok := rq.Value("definitionId"); ok {
		id, err := rq.IntValue("definitionId", definitionNotFound)
		if err != nil {
			return err
		}
		d, err := h.svc.Definition(ctx, rq.Org, rq.Project.ID, id)
		if err != nil {
			return err
		}
		if rev := rq.Query("revision"); rev != "" && rev != strconv.Itoa(d.Revision) {
			return devops.NotImplemented("Keystage keeps only the current revision (%d) of a pipeline; revision %s is not available.", d.Revision, clip(rev))
		}
		return rq.OK(rq.definition(d))
	}
	defs, err := h.svc.Definitions(ctx, rq.Org, rq.Project.ID)
	if err != nil {
		return err
	}
	defs, err = filterDefinitions(rq, defs)
	if err != nil {
		return err
	}
	pg, err := rq.Paging()
	if err != nil {
		return err
	}
	include, err := rq.QueryBool("includeAllProperties")
	if err != nil {
		return err
	}
	var out []definitionJSON
	for _, d := range page(rq.W, defs, pg) {
		if include {
			out = append(out, rq.definition(d))
		} else {
			out = append(out, rq.definitionRef(d))
		}
	}
	return rq.OK(newCollection(out))
}

// filterDefinitions applies GetDefinitions' filters and order.
func filterDefinitions(rq *Request, defs []devops.Definition) ([]devops.Definition, error) {
	name, folder := rq.Query("name"), rq.Query("path")
	var ids []int
	for _, s := range rq.QueryList("definitionIds") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, devops.BadRequest("definitionIds must be integers.")
		}
		ids = append(ids, n)
	}
	procType := 0
	if s := rq.Query("processType"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n != processDesigner && n != processYAML {
			return nil, devops.BadRequest("processType must be 1 or 2.")
		}
		procType = n
	}
	repoID, repoType, yamlFile := rq.Query("repositoryId"), rq.Query("repositoryType"), rq.Query("yamlFilename")
	var out []devops.Definition
	for _, d := range defs {
		repo := renderRepository(d.Repository)
		switch {
		case name != "" && !globMatch(name, d.Name),
			folder != "" && !globMatch(folder, d.Folder) && !globMatch(strings.ReplaceAll(folder, "/", `\`), d.Folder),
			len(ids) > 0 && !slices.Contains(ids, d.ID),
			procType == processYAML && d.Kind != devops.DefinitionYAML,
			procType == processDesigner && d.Kind != devops.DefinitionClassic,
			repoID != "" && !strings.EqualFold(repoID, repo.ID),
			repoType != "" && !strings.EqualFold(repoType, repo.Type),
			yamlFile != "" && !strings.EqualFold(strings.TrimPrefix(yamlFile, "/"), d.YAMLPath):
			continue
		}
		out = append(out, d)
	}
	switch order := strings.ToLower(rq.Query("queryOrder")); order {
	case "", "none", "definitionnameascending":
	case "definitionnamedescending":
		slices.Reverse(out)
	case "lastmodifiedascending":
		slices.SortStableFunc(out, func(a, b devops.Definition) int { return a.Modified.Compare(b.Modified) })
	case "lastmodifieddescending":
		slices.SortStableFunc(out, func(a, b devops.Definition) int { return b.Modified.Compare(a.Modified) })
	default:
		return nil, devops.BadRequest("queryOrder %q is invalid.", clip(rq.Query("queryOrder")))
	}
	return out, nil
}

// globMatch matches s against a pattern where * matches any run of characters,
// case-insensitively (GetDefinitions' name and path filters).
func globMatch(pattern, s string) bool {
	p, s := strings.ToLower(pattern), strings.ToLower(s)
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func definitionNotFound(v string) error {
	return fault.New(fault.NotFound, devops.CodeDefinitionNotFound, "The pipeline %s could not be found. It may have been deleted, or you may not have access to it.", clip(v))
}

func (h *Handler) createDefinition(rq *Request) error {
	if !rq.HasProject {
		return devops.BadRequest("Build definitions belong to a project: use /{organization}/{project}/_apis/build/definitions.")
	}
	if _, ok := rq.Value("definitionId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"GET", "PUT", "DELETE"}}
	}
	if rq.Query("definitionToCloneId") != "" {
		return devops.NotImplemented("Cloning a pipeline (definitionToCloneId) is not supported; get it and create a copy.")
	}
	var b definitionBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	in, err := b.input(rq)
	if err != nil {
		return err
	}
	d, err := h.svc.CreateDefinition(rq.R.Context(), rq.Org, rq.Project, rq.Caller.Identity(), in)
	if err != nil {
		return err
	}
	return rq.OK(rq.definition(d))
}

// definitionPath returns the definition id of a PUT or DELETE path.
func definitionPath(rq *Request) (int, error) {
	if !rq.HasProject {
		return 0, devops.BadRequest("Build definitions belong to a project.")
	}
	if _, ok := rq.Value("definitionId"); !ok {
		return 0, &methodError{method: rq.R.Method, allowed: []string{"GET", "POST"}}
	}
	return rq.IntValue("definitionId", definitionNotFound)
}

func (h *Handler) updateDefinition(rq *Request) error {
	id, err := definitionPath(rq)
	if err != nil {
		return err
	}
	if rq.Query("secretsSourceDefinitionId") != "" {
		return devops.NotImplemented("secretsSourceDefinitionId is not supported.")
	}
	var b definitionBody
	if err := rq.Decode(&b); err != nil {
		return err
	}
	in, err := b.input(rq)
	if err != nil {
		return err
	}
	d, err := h.svc.UpdateDefinition(rq.R.Context(), rq.Org, rq.Project, id, rq.Caller.Identity(), in)
	if err != nil {
		return err
	}
	return rq.OK(rq.definition(d))
}

func (h *Handler) deleteDefinition(rq *Request) error {
	id, err := definitionPath(rq)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteDefinition(rq.R.Context(), rq.Org, rq.Project.ID, id); err != nil {
		return err
	}
	return rq.NoContent()
}
