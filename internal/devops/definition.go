package devops

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Kinds of pipeline definitions.
const (
	// DefinitionYAML runs a YAML file from a repository.
	DefinitionYAML = "yaml"
	// DefinitionClassic runs an ordered list of tasks stored in the definition (the classic
	// editor's designer process), compiled into the same plan as YAML.
	DefinitionClassic = "classic"
)

// Repository kinds.
const (
	// RepositoryGit is a Git repository reached by URL (https, http, ssh, git, file or
	// scp-like user@host:path).
	RepositoryGit = "git"
	// RepositoryLocal is a directory on the machine that runs the job, used as is.
	RepositoryLocal = "local"
)

// Definition queue statuses.
const (
	QueueEnabled  = "enabled"
	QueuePaused   = "paused"
	QueueDisabled = "disabled"
)

// Definition is a pipeline (a build definition): pipeline id = definition id.
type Definition struct {
	ID        int    `json:"id"`
	ProjectID string `json:"projectId"`
	Name      string `json:"name"`
	// Folder is the definition's folder, "\" or "\a\b".
	Folder      string `json:"folder"`
	Description string `json:"description,omitempty"`
	// Revision starts at 1 and increases with every update.
	Revision   int        `json:"revision"`
	Kind       string     `json:"kind"`
	Repository Repository `json:"repository"`
	// YAMLPath is the pipeline file's path in the repository (DefinitionYAML).
	YAMLPath string `json:"yamlPath,omitempty"`
	// Process is the classic pipeline's tasks (DefinitionClassic).
	Process *ClassicProcess `json:"process,omitempty"`
	// QueueID is the queue jobs without a pool run in; 0 means none.
	QueueID int `json:"queueId,omitempty"`
	// Variables are the definition's variables. Secret values are returned by the domain
	// (the orchestrator needs them) and must never be sent to clients.
	Variables   map[string]Variable `json:"variables,omitempty"`
	QueueStatus string              `json:"queueStatus"`
	// Unused holds wire properties clients send that Keystage keeps and returns but does
	// not act on, by name (a build definition's triggers, options and retention rules:
	// Keystage queues runs only on request).
	Unused     map[string]json.RawMessage `json:"unused,omitempty"`
	CreatedBy  IdentityRef                `json:"createdBy"`
	Created    time.Time                  `json:"created"`
	ModifiedBy IdentityRef                `json:"modifiedBy"`
	Modified   time.Time                  `json:"modified"`
}

// Path returns the definition's folder and name, "\folder\name".
func (d Definition) Path() string { return joinFolder(d.Folder, d.Name) }

// Repository is where a definition's sources (and YAML file) come from.
type Repository struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	// URL is the Git URL (RepositoryGit).
	URL string `json:"url,omitempty"`
	// Path is the absolute directory (RepositoryLocal).
	Path string `json:"path,omitempty"`
	// DefaultBranch is a full ref, e.g. refs/heads/main.
	DefaultBranch string `json:"defaultBranch"`
}

// Variable is a definition variable.
type Variable struct {
	Value         string `json:"value"`
	IsSecret      bool   `json:"isSecret,omitempty"`
	AllowOverride bool   `json:"allowOverride,omitempty"`
}

// LogValue keeps secret values out of logs.
func (v Variable) LogValue() slog.Value {
	if v.IsSecret {
		return slog.StringValue("***")
	}
	return slog.StringValue(v.Value)
}

// VariableInput is a variable as a client sends it. A secret whose Value is nil keeps its
// stored value (clients never see secret values, so they send them back as null).
type VariableInput struct {
	Value         *string
	IsSecret      bool
	AllowOverride bool
}

// DefinitionInput is a definition as a client sends it, to create or replace one.
type DefinitionInput struct {
	Name        string
	Folder      string
	Description string
	Kind        string
	Repository  Repository
	YAMLPath    string
	Process     *ClassicProcess
	// QueueID is the default queue; 0 means the project's queue of the hosted pool.
	QueueID     int
	Variables   map[string]VariableInput
	QueueStatus string
	Unused      map[string]json.RawMessage
	// Revision, on update, must equal the stored revision unless it is 0.
	Revision int
}

// CreateDefinition creates a pipeline definition in project.
func (s *Service) CreateDefinition(ctx context.Context, org Organization, project Project, by IdentityRef, in DefinitionInput) (Definition, error) {
	now := s.now().UTC()
	d := Definition{ProjectID: project.ID, Revision: 1, CreatedBy: by, Created: now, ModifiedBy: by, Modified: now}
	if err := s.fillDefinition(&d, in, nil); err != nil {
		return Definition{}, err
	}
	err := s.st.Update(ctx, func(tx storage.Store) error {
		if err := s.liveProject(ctx, tx, org.ID, project.ID); err != nil {
			return err
		}
		if err := s.resolveQueue(ctx, tx, org.ID, &d); err != nil {
			return err
		}
		if ok, err := exists(ctx, tx, defNameKey(org.ID, project.ID, d.Path())); err != nil {
			return err
		} else if ok {
			return definitionExists(d)
		}
		var err error
		if d.ID, err = nextID(ctx, tx, org.ID, "definition"); err != nil {
			return err
		}
		if err := storage.PutJSON(ctx, tx, defKey(org.ID, project.ID, d.ID), d); err != nil {
			return err
		}
		return tx.Put(ctx, defNameKey(org.ID, project.ID, d.Path()), []byte(intKey(d.ID)))
	})
	if err != nil {
		return Definition{}, storageError("create definition", err)
	}
	return d, nil
}

// UpdateDefinition replaces definition id with in and increments its revision.
func (s *Service) UpdateDefinition(ctx context.Context, org Organization, project Project, id int, by IdentityRef, in DefinitionInput) (Definition, error) {
	var d Definition
	err := s.st.Update(ctx, func(tx storage.Store) error {
		old, err := s.definition(ctx, tx, org.ID, project.ID, id)
		if err != nil {
			return err
		}
		if in.Revision != 0 && in.Revision != old.Revision {
			return fault.New(fault.Conflict, CodeDefinitionRevision,
				"The definition %d has revision %d; the update was based on revision %d. Get the definition again and retry.", id, old.Revision, in.Revision)
		}
		d = Definition{
			ID: old.ID, ProjectID: old.ProjectID, Revision: old.Revision + 1,
			CreatedBy: old.CreatedBy, Created: old.Created, ModifiedBy: by, Modified: s.now().UTC(),
		}
		if err := s.fillDefinition(&d, in, old.Variables); err != nil {
			return err
		}
		if err := s.resolveQueue(ctx, tx, org.ID, &d); err != nil {
			return err
		}
		if !strings.EqualFold(d.Path(), old.Path()) {
			if ok, err := exists(ctx, tx, defNameKey(org.ID, project.ID, d.Path())); err != nil {
				return err
			} else if ok {
				return definitionExists(d)
			}
		}
		if err := tx.Delete(ctx, defNameKey(org.ID, project.ID, old.Path())); err != nil {
			return err
		}
		if err := storage.PutJSON(ctx, tx, defKey(org.ID, project.ID, d.ID), d); err != nil {
			return err
		}
		return tx.Put(ctx, defNameKey(org.ID, project.ID, d.Path()), []byte(intKey(d.ID)))
	})
	if err != nil {
		return Definition{}, storageError("update definition", err)
	}
	return d, nil
}

// Definition returns the project's definition id.
func (s *Service) Definition(ctx context.Context, org Organization, projectID string, id int) (Definition, error) {
	return s.definition(ctx, s.st, org.ID, projectID, id)
}

func (s *Service) definition(ctx context.Context, st storage.Store, orgID, projectID string, id int) (Definition, error) {
	var d Definition
	err := storage.GetJSON(ctx, st, defKey(orgID, projectID, id), &d)
	if errors.Is(err, storage.ErrNotFound) {
		return Definition{}, definitionNotFound(id)
	}
	if err != nil {
		return Definition{}, storageError("get definition", err)
	}
	return d, nil
}

// DefinitionByPath returns the definition at "\folder\name" (case-insensitively).
func (s *Service) DefinitionByPath(ctx context.Context, org Organization, projectID, folder, name string) (Definition, error) {
	p := joinFolder(normalizeFolder(folder), name)
	idKey, err := getString(ctx, s.st, defNameKey(org.ID, projectID, p))
	if errors.Is(err, storage.ErrNotFound) {
		return Definition{}, notFound(CodeDefinitionNotFound, "The pipeline %s could not be found.", clip(p))
	}
	if err != nil {
		return Definition{}, storageError("get definition", err)
	}
	var d Definition
	if err := storage.GetJSON(ctx, s.st, ProjectPrefix(org.ID, projectID)+"def/"+idKey, &d); err != nil {
		return Definition{}, storageError("get definition", err)
	}
	return d, nil
}

// Definitions lists the project's definitions by path (folder, then name).
func (s *Service) Definitions(ctx context.Context, org Organization, projectID string) ([]Definition, error) {
	ds, err := storage.ListJSON[Definition](ctx, s.st, ProjectPrefix(org.ID, projectID)+"def/", "", 0)
	if err != nil {
		return nil, storageError("list definitions", err)
	}
	slices.SortFunc(ds, func(a, b Definition) int {
		return strings.Compare(strings.ToLower(a.Path()), strings.ToLower(b.Path()))
	})
	return ds, nil
}

// DeleteDefinition deletes definition id and its per-pipeline authorizations.
func (s *Service) DeleteDefinition(ctx context.Context, org Organization, projectID string, id int) error {
	err := s.st.Update(ctx, func(tx storage.Store) error {
		d, err := s.definition(ctx, tx, org.ID, projectID, id)
		if err != nil {
			return err
		}
		if err := tx.Delete(ctx, defNameKey(org.ID, projectID, d.Path())); err != nil {
			return err
		}
		if err := tx.Delete(ctx, defKey(org.ID, projectID, id)); err != nil {
			return err
		}
		return forgetPipeline(ctx, tx, org.ID, projectID, id)
	})
	if err != nil {
		return storageError("delete definition", err)
	}
	return nil
}

func definitionNotFound(id int) error {
	return notFound(CodeDefinitionNotFound, "The pipeline %d could not be found. It may have been deleted, or you may not have access to it.", id)
}

func definitionExists(d Definition) error {
	return fault.New(fault.Conflict, CodeDefinitionExists, "A pipeline named %s already exists in folder %s.", d.Name, d.Folder)
}

// liveProject fails when the project is missing or being deleted.
func (s *Service) liveProject(ctx context.Context, tx storage.Store, orgID, projectID string) error {
	p, err := s.project(ctx, tx, orgID, projectID)
	if err != nil {
		return err
	}
	if p.State == ProjectDeleting {
		return projectNotFound(projectID)
	}
	return nil
}

// resolveQueue checks d.QueueID, or picks the project's hosted queue when it is 0.
func (s *Service) resolveQueue(ctx context.Context, tx storage.Store, orgID string, d *Definition) error {
	if d.QueueID != 0 {
		_, err := s.queue(ctx, tx, orgID, d.ProjectID, d.QueueID)
		return err
	}
	q, err := s.queueByName(ctx, tx, orgID, d.ProjectID, s.cfg.HostedPoolName)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	d.QueueID = q.ID
	return nil
}

// fillDefinition validates in into d. Secret variables sent without a value keep their
// value in old.
func (s *Service) fillDefinition(d *Definition, in DefinitionInput, old map[string]Variable) error {
	if err := checkDefinitionName(in.Name); err != nil {
		return err
	}
	d.Name = in.Name
	d.Folder = normalizeFolder(in.Folder)
	if err := checkFolder(d.Folder); err != nil {
		return err
	}
	if len(in.Description) > 4000 {
		return BadRequest("The pipeline description is longer than 4000 characters.")
	}
	d.Description = in.Description
	repo, err := normalizeRepository(in.Repository)
	if err != nil {
		return err
	}
	d.Repository = repo
	switch in.Kind {
	case DefinitionYAML:
		if in.Process != nil {
			return BadRequest("A YAML pipeline has no designer process; give yamlFilename only.")
		}
		if d.YAMLPath, err = normalizeYAMLPath(in.YAMLPath); err != nil {
			return err
		}
	case DefinitionClassic:
		if in.YAMLPath != "" {
			return BadRequest("A classic pipeline has no YAML file.")
		}
		if d.Process, err = normalizeClassic(in.Process); err != nil {
			return err
		}
	default:
		return BadRequest("The pipeline kind %q is invalid: use a YAML process (type 2) or a designer process (type 1).", clip(in.Kind))
	}
	d.Kind = in.Kind
	if in.QueueID < 0 {
		return BadRequest("The queue id %d is invalid.", in.QueueID)
	}
	d.QueueID = in.QueueID
	switch strings.ToLower(in.QueueStatus) {
	case "", QueueEnabled:
		d.QueueStatus = QueueEnabled
	case QueuePaused, QueueDisabled:
		d.QueueStatus = strings.ToLower(in.QueueStatus)
	default:
		return BadRequest("The queueStatus %q is invalid; use enabled, paused or disabled.", clip(in.QueueStatus))
	}
	if d.Variables, err = mergeVariables(in.Variables, old); err != nil {
		return err
	}
	size := 0
	for k, v := range in.Unused {
		size += len(k) + len(v)
	}
	if size > 256<<10 || len(in.Unused) > 32 {
		return BadRequest("The pipeline's other properties (triggers, options, retention rules) are larger than 256 KiB.")
	}
	d.Unused = maps.Clone(in.Unused)
	return nil
}

func mergeVariables(in map[string]VariableInput, old map[string]Variable) (map[string]Variable, error) {
	if len(in) > 1000 {
		return nil, BadRequest("A pipeline has at most 1000 variables.")
	}
	out := make(map[string]Variable, len(in))
	for name, v := range in {
		if err := checkVariableName(name); err != nil {
			return nil, err
		}
		var val string
		switch {
		case v.Value != nil:
			val = *v.Value
		case v.IsSecret:
			prev, ok := lookupFold(old, name)
			if !ok || !prev.IsSecret {
				return nil, BadRequest("The secret variable %s has no value.", name)
			}
			val = prev.Value
		}
		if len(val) > 64<<10 {
			return nil, BadRequest("The value of variable %s is longer than 64 KiB.", name)
		}
		out[name] = Variable{Value: val, IsSecret: v.IsSecret, AllowOverride: v.AllowOverride}
	}
	return out, nil
}

func lookupFold(m map[string]Variable, name string) (Variable, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.EqualFold(k, name) {
			return m[k], true
		}
	}
	return Variable{}, false
}

func checkVariableName(name string) error {
	if name == "" || len(name) > 256 {
		return BadRequest("A variable name must have 1 to 256 characters.")
	}
	for _, r := range name {
		if !(r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '_' || r == '.' || r == '-') {
			return BadRequest("The variable name %q is invalid: use letters, digits, '.', '_' and '-'.", clip(name))
		}
	}
	return nil
}

func checkDefinitionName(name string) error {
	switch {
	case name == "":
		return BadRequest("The pipeline name is required.")
	case len([]rune(name)) > 260:
		return BadRequest("The pipeline name is longer than 260 characters.")
	case strings.TrimSpace(name) != name:
		return BadRequest("The pipeline name %q must not start or end with white space.", clip(name))
	}
	for _, r := range name {
		if unicode.IsControl(r) || strings.ContainsRune(`\/:*?"<>|`, r) {
			return BadRequest(`The pipeline name %q is invalid: it must not contain control characters or any of \ / : * ? " < > |.`, clip(name))
		}
	}
	return nil
}

// normalizeFolder turns "", "/", "a/b", "\a\b\" into "\", "\", "\a\b", "\a\b".
func normalizeFolder(f string) string {
	f = strings.ReplaceAll(f, "/", `\`)
	f = strings.Trim(f, `\`)
	if f == "" {
		return `\`
	}
	return `\` + f
}

func checkFolder(f string) error {
	if len(f) > 400 {
		return BadRequest("The folder path is longer than 400 characters.")
	}
	if f == `\` {
		return nil
	}
	for _, part := range strings.Split(f[1:], `\`) {
		if part == "" || part == "." || part == ".." || strings.TrimSpace(part) != part {
			return BadRequest("The folder path %q is invalid.", clip(f))
		}
		if err := checkDefinitionName(part); err != nil {
			return BadRequest("The folder path %q is invalid.", clip(f))
		}
	}
	return nil
}

func joinFolder(folder, name string) string {
	if folder == `\` {
		return `\` + name
	}
	return folder + `\` + name
}

// NormalizeBranch turns "main" into "refs/heads/main"; full refs are kept.
func NormalizeBranch(b string) string {
	if b == "" || strings.HasPrefix(b, "refs/") {
		return b
	}
	return "refs/heads/" + b
}

func normalizeRepository(r Repository) (Repository, error) {
	r.DefaultBranch = NormalizeBranch(r.DefaultBranch)
	if r.DefaultBranch == "" {
		r.DefaultBranch = "refs/heads/main"
	}
	if strings.ContainsFunc(r.DefaultBranch, func(c rune) bool { return c <= ' ' || c == 0x7f || strings.ContainsRune("~^:?*[\\", c) }) ||
		strings.Contains(r.DefaultBranch, "..") || len(r.DefaultBranch) > 400 {
		return Repository{}, BadRequest("The default branch %q is not a valid Git ref.", clip(r.DefaultBranch))
	}
	if len(r.Name) > 256 {
		return Repository{}, BadRequest("The repository name is longer than 256 characters.")
	}
	switch r.Kind {
	case RepositoryGit:
		if r.Path != "" {
			return Repository{}, BadRequest("A Git repository is named by url, not path.")
		}
		if err := checkGitURL(r.URL); err != nil {
			return Repository{}, err
		}
	case RepositoryLocal:
		if r.URL != "" {
			return Repository{}, BadRequest("A local repository is named by path, not url.")
		}
		if !filepath.IsAbs(r.Path) || filepath.Clean(r.Path) != r.Path || len(r.Path) > 4096 {
			return Repository{}, BadRequest("The local repository path %q must be an absolute, clean path.", clip(r.Path))
		}
	default:
		return Repository{}, BadRequest("The repository kind %q is invalid: use a Git repository URL or a local path.", clip(r.Kind))
	}
	if r.Name == "" {
		r.Name = repoName(r)
	}
	return r, nil
}

func repoName(r Repository) string {
	p := r.Path
	if r.Kind == RepositoryGit {
		p = r.URL
		if i := strings.IndexAny(p, "?#"); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimSuffix(strings.TrimRight(p, "/"), ".git")
	}
	if i := strings.LastIndexAny(p, `/:\`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// checkGitURL accepts https, http, ssh, git and file URLs, and scp-like user@host:path.
func checkGitURL(u string) error {
	bad := BadRequest("The repository url %q is not a Git URL (https://, http://, ssh://, git://, file:// or user@host:path).", clip(u))
	if u == "" || len(u) > 2048 || strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return bad
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		at := strings.Index(u, "@")
		colon := strings.Index(u, ":")
		if at > 0 && colon > at+1 && colon < len(u)-1 {
			return nil
		}
		return bad
	}
	switch strings.ToLower(scheme) {
	case "https", "http", "ssh", "git":
		if host, _, _ := strings.Cut(rest, "/"); host == "" {
			return bad
		}
		return nil
	case "file":
		if !strings.HasPrefix(rest, "/") {
			return bad
		}
		return nil
	}
	return bad
}

// normalizeYAMLPath makes the file path relative to the repository root and refuses paths
// that leave it.
func normalizeYAMLPath(p string) (string, error) {
	if p == "" {
		return "azure-pipelines.yml", nil
	}
	p = strings.ReplaceAll(p, `\`, "/")
	clean := path.Clean("/" + p)
	if clean == "/" || strings.Contains(p, "\x00") || len(p) > 1024 {
		return "", BadRequest("The YAML file path %q is invalid.", clip(p))
	}
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if part == ".." {
			return "", BadRequest("The YAML file path %q must stay inside the repository.", clip(p))
		}
	}
	return strings.TrimPrefix(clean, "/"), nil
}
