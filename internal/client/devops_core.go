package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Organizations are Keystage's own server-level resource (Azure DevOps creates them in its
// portal): administrators create and delete them.

// Organizations lists the organizations the caller may see (all, for an administrator).
func (d DevOps) Organizations(ctx context.Context) ([]json.RawMessage, error) {
	return d.List(ctx, "/_apis/organizations")
}

// Organization returns one organization by name.
func (d DevOps) Organization(ctx context.Context, name string) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, "/_apis/organizations/"+segment(name), nil)
}

// PrincipalRef names an organization owner: a principal of a tenant.
type PrincipalRef struct {
	TenantID string `json:"tenantId"`
	ObjectID string `json:"objectId"`
}

// CreateOrganization creates an organization (a Keystage administrator action).
func (d DevOps) CreateOrganization(ctx context.Context, name, description string, owners []PrincipalRef) (json.RawMessage, error) {
	if owners == nil {
		owners = []PrincipalRef{}
	}
	return d.Do(ctx, http.MethodPost, "/_apis/organizations", map[string]any{
		"name": name, "description": description, "owners": owners,
	})
}

// DeleteOrganization deletes an organization with everything in it.
func (d DevOps) DeleteOrganization(ctx context.Context, name string) error {
	_, err := d.Do(ctx, http.MethodDelete, "/_apis/organizations/"+segment(name), nil)
	return err
}

// Projects lists the organization's projects in state (empty: wellFormed).
func (d DevOps) Projects(ctx context.Context, org, state string) ([]json.RawMessage, error) {
	p := orgPath(org, "projects")
	if state != "" {
		p += "?stateFilter=" + url.QueryEscape(state)
	}
	return d.List(ctx, p)
}

// Project returns a project by name or id, with its capabilities.
func (d DevOps) Project(ctx context.Context, org, project string) (json.RawMessage, error) {
	return d.Do(ctx, http.MethodGet, orgPath(org, "projects/"+segment(project))+"?includeCapabilities=true", nil)
}

// NewProject is what CreateProject sends; empty fields take the server's defaults
// (private, Git, the default process).
type NewProject struct {
	Name              string
	Description       string
	Visibility        string
	SourceControlType string
	ProcessTemplateID string
}

// CreateProject queues the creation of a project, waits for its operation and returns the
// project.
func (d DevOps) CreateProject(ctx context.Context, org string, n NewProject) (json.RawMessage, error) {
	body := map[string]any{"name": n.Name}
	if n.Description != "" {
		body["description"] = n.Description
	}
	if n.Visibility != "" {
		body["visibility"] = n.Visibility
	}
	caps := map[string]any{}
	if n.SourceControlType != "" {
		caps["versioncontrol"] = map[string]string{"sourceControlType": n.SourceControlType}
	}
	if n.ProcessTemplateID != "" {
		caps["processTemplate"] = map[string]string{"templateTypeId": n.ProcessTemplateID}
	}
	if len(caps) > 0 {
		body["capabilities"] = caps
	}
	raw, err := d.Do(ctx, http.MethodPost, orgPath(org, "projects"), body)
	if err != nil {
		return nil, err
	}
	if err := d.waitOperation(ctx, org, raw); err != nil {
		return nil, err
	}
	return d.Project(ctx, org, n.Name)
}

// DeleteProject queues the deletion of a project (by id or name) with everything in it —
// pipelines, runs, service connections, artifacts — and waits for its operation.
func (d DevOps) DeleteProject(ctx context.Context, org, project string) error {
	raw, err := d.Do(ctx, http.MethodDelete, orgPath(org, "projects/"+segment(project)), nil)
	if err != nil {
		return err
	}
	return d.waitOperation(ctx, org, raw)
}

// Processes lists the organization's process templates.
func (d DevOps) Processes(ctx context.Context, org string) ([]json.RawMessage, error) {
	return d.List(ctx, orgPath(org, "process/processes"))
}

// waitOperation polls the operation an OperationReference names until it is final; a
// failed or cancelled operation is an error carrying its result message.
func (d DevOps) waitOperation(ctx context.Context, org string, ref json.RawMessage) error {
	var op struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		ResultMessage string `json:"resultMessage"`
	}
	if err := json.Unmarshal(ref, &op); err != nil {
		return fmt.Errorf("client: operation reference: %w", err)
	}
	wait := 100 * time.Millisecond
	for !isTerminalOperation(op.Status) {
		if op.ID == "" {
			return fmt.Errorf("client: the server answered an operation without an id")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, d.c.cfg.PollInterval)
		raw, err := d.Do(ctx, http.MethodGet, orgPath(org, "operations/"+segment(op.ID)), nil)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			return fmt.Errorf("client: operation: %w", err)
		}
	}
	if op.Status != "succeeded" {
		msg := op.ResultMessage
		if msg == "" {
			msg = "The operation " + op.Status + "."
		}
		return &ResponseError{StatusCode: http.StatusOK, Message: msg, Method: http.MethodGet, URL: orgPath(org, "operations/"+op.ID)}
	}
	return nil
}

// NewPAT is what CreatePAT sends. Scope is space-separated Azure DevOps scopes
// ("vso.agentpools_manage"); empty means full access. A zero ValidTo takes the server's
// default lifetime.
type NewPAT struct {
	DisplayName string
	Scope       string
	ValidTo     time.Time
	AllOrgs     bool
}

// CreatePAT creates a personal access token of the signed-in principal in org; the answer
// ({"patToken":{…,"token"}}) is the only time the token's value is shown. Only an access
// token (not a PAT) may manage PATs.
func (d DevOps) CreatePAT(ctx context.Context, org string, n NewPAT) (json.RawMessage, error) {
	body := map[string]any{"displayName": n.DisplayName, "allOrgs": n.AllOrgs}
	if n.Scope != "" {
		body["scope"] = n.Scope
	}
	if !n.ValidTo.IsZero() {
		body["validTo"] = n.ValidTo.UTC().Format(time.RFC3339)
	}
	return d.Do(ctx, http.MethodPost, orgPath(org, "tokens/pats"), body)
}

// PATs lists the signed-in principal's personal access tokens (never their values).
func (d DevOps) PATs(ctx context.Context, org string) ([]json.RawMessage, error) {
	raw, err := d.Do(ctx, http.MethodGet, orgPath(org, "tokens/pats"), nil)
	if err != nil {
		return nil, err
	}
	var page struct {
		PATTokens []json.RawMessage `json:"patTokens"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, fmt.Errorf("client: list personal access tokens: %w", err)
	}
	if page.PATTokens == nil {
		page.PATTokens = []json.RawMessage{}
	}
	return page.PATTokens, nil
}

// RevokePAT revokes the personal access token with authorization id id.
func (d DevOps) RevokePAT(ctx context.Context, org, id string) error {
	_, err := d.Do(ctx, http.MethodDelete, orgPath(org, "tokens/pats")+"?authorizationId="+url.QueryEscape(id), nil)
	return err
}

// itoa formats an id for a path.
func itoa(n int) string { return strconv.Itoa(n) }
