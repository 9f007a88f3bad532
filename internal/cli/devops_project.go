package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newProjectCommand is `devops project`, as az devops project.
func (a *app) newProjectCommand() *cobra.Command {
	return group("project", "Manage projects",
		a.projectCreate(), a.projectList(), a.projectShow(), a.projectDelete())
}

func projectTable(v any) any {
	if m, ok := v.(map[string]any); ok {
		if list, ok := m["value"]; ok {
			v = list
		}
	}
	return tableColumns(v, []string{"ID", "id"}, []string{"Name", "name"}, []string{"Visibility", "visibility"})
}

func (a *app) projectCreate() *cobra.Command {
	var t devopsTarget
	var name, description, process, sourceControl, visibility string
	cmd := a.command(leaf{
		use:     "create",
		short:   "Create a project",
		example: "  keystage devops project create --name webapp --org https://localhost:8443/fabrikam",
		table:   projectTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--name/-n")
			}
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			n := client.NewProject{Name: name, Description: description}
			switch strings.ToLower(visibility) {
			case "", "private", "public":
				n.Visibility = strings.ToLower(visibility)
			default:
				return nil, usageErrorf("argument --visibility: invalid choice: '%s' (choose from 'private', 'public')", visibility)
			}
			switch strings.ToLower(sourceControl) {
			case "", "git":
				n.SourceControlType = "Git"
			case "tfvc":
				n.SourceControlType = "Tfvc"
			default:
				return nil, usageErrorf("argument --source-control: invalid choice: '%s' (choose from 'git', 'tfvc')", sourceControl)
			}
			if process != "" {
				if n.ProcessTemplateID, err = processID(ctx, d, org, process); err != nil {
					return nil, err
				}
			}
			raw, err := d.CreateProject(ctx, org, n)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.StringVarP(&name, "name", "n", "", "Name of the project")
		f.StringVarP(&description, "description", "d", "", "Description of the project")
		f.StringVarP(&process, "process", "", "", "Process of the project (Basic, Agile, Scrum, CMMI); default the organization's default")
		f.StringVarP(&sourceControl, "source-control", "s", "", "Source control type: git (default) or tfvc")
		f.StringVar(&visibility, "visibility", "", "Visibility: private (default) or public")
	})
	return cmd
}

// processID resolves a process name (or id) through the organization's processes.
func processID(ctx context.Context, d client.DevOps, org, name string) (string, error) {
	items, err := d.Processes(ctx, org)
	if err != nil {
		return "", err
	}
	var names []string
	for _, raw := range items {
		var p struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", err
		}
		if strings.EqualFold(p.Name, name) || strings.EqualFold(p.ID, name) {
			return p.ID, nil
		}
		names = append(names, p.Name)
	}
	return "", usageErrorf("argument --process: %q is not a process of this organization (%s)", name, strings.Join(names, ", "))
}

func (a *app) projectList() *cobra.Command {
	var t devopsTarget
	var state string
	var top, skip int
	return a.command(leaf{
		use:   "list",
		short: "List the organization's projects",
		table: projectTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			items, err := d.Projects(ctx, org, state)
			if err != nil {
				return nil, err
			}
			if skip > 0 {
				items = items[min(skip, len(items)):]
			}
			if top > 0 && len(items) > top {
				items = items[:top]
			}
			list, err := decodeList(items)
			if err != nil {
				return nil, err
			}
			// az devops project list answers the page with its continuation token.
			return map[string]any{"continuationToken": nil, "value": list}, nil
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.StringVar(&state, "state-filter", "", "Project state: wellFormed (default), all, deleting, new, createPending, unchanged")
		f.IntVar(&top, "top", 0, "Maximum number of projects to list")
		f.IntVar(&skip, "skip", 0, "Number of projects to skip")
	})
}

func (a *app) projectShow() *cobra.Command {
	var t devopsTarget
	return a.command(leaf{
		use:   "show",
		short: "Show a project",
		table: projectTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.devopsProject(t)
			if err != nil {
				return nil, err
			}
			raw, err := d.Project(ctx, org, project)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, t.flags)
}

func (a *app) projectDelete() *cobra.Command {
	var t devopsTarget
	var id string
	var yes bool
	return a.command(leaf{
		use:   "delete",
		short: "Delete a project with its pipelines, runs, logs, artifacts and service connections",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if id == "" {
				return nil, requiredError("--id")
			}
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			if !yes {
				if err := a.confirm("Are you sure you want to delete this project?"); err != nil {
					return nil, err
				}
			}
			return nil, d.DeleteProject(ctx, org, id)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.StringVar(&id, "id", "", "ID (or name) of the project to delete")
		f.BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation")
	})
}
