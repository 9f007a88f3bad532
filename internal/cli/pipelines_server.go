package cli

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// pipelinesServerCommands are the `keystage pipelines` commands that work on the server's
// pipelines, runs, permissions and agent pools, in az pipelines' grammar.
func (a *app) pipelinesServerCommands() []*cobra.Command {
	cmds := []*cobra.Command{
		a.pipelinesCreate(), a.pipelinesList(), a.pipelinesShow(), a.pipelinesDelete(), a.pipelinesRun(),
		a.newRunsCommand(), a.newPermissionsCommand(), a.newPoolCommand(), a.newAgentCommand(), a.newQueueCommand(),
	}
	for _, c := range cmds {
		a.addGlobalFlags(c)
	}
	return cmds
}

func pipelineTable(v any) any {
	return tableColumns(v, []string{"ID", "id"}, []string{"Path", "path"}, []string{"Name", "name"},
		[]string{"Status", "queueStatus"}, []string{"Default Queue", "queue.name"})
}

// pipelineRef names one pipeline: --id, or --name (in --folder-path).
type pipelineRef struct {
	t      devopsTarget
	id     int
	name   string
	folder string
}

func (r *pipelineRef) flags(f *pflag.FlagSet) {
	r.t.flags(f)
	f.IntVar(&r.id, "id", 0, "ID of the pipeline")
	f.StringVar(&r.name, "name", "", "Name of the pipeline (instead of --id)")
	f.StringVar(&r.folder, "folder-path", "", `Folder of the pipeline named by --name, e.g. \ or \team`)
}

// resolvePipeline returns the client, organization, project and the pipeline's id.
func (a *app) resolvePipeline(ctx context.Context, r pipelineRef) (client.DevOps, string, string, int, error) {
	d, org, project, err := a.devopsProject(r.t)
	if err != nil {
		return d, "", "", 0, err
	}
	switch {
	case r.id > 0:
		return d, org, project, r.id, nil
	case r.name == "":
		return d, "", "", 0, requiredError("--id (or --name)")
	}
	items, err := d.Definitions(ctx, org, project, r.name)
	if err != nil {
		return d, "", "", 0, err
	}
	var ids []int
	for _, raw := range items {
		var def struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
			Path string `json:"path"`
		}
		if err := json.Unmarshal(raw, &def); err != nil {
			return d, "", "", 0, err
		}
		if strings.EqualFold(def.Name, r.name) && (r.folder == "" || strings.EqualFold(strings.Trim(def.Path, `\/`), strings.Trim(r.folder, `\/`))) {
			ids = append(ids, def.ID)
		}
	}
	switch len(ids) {
	case 0:
		return d, "", "", 0, notFoundf("There is no pipeline named %s in project %s.", r.name, project)
	case 1:
		return d, org, project, ids[0], nil
	}
	return d, "", "", 0, usageErrorf("There are %d pipelines named %s in project %s; give --folder-path or --id.", len(ids), r.name, project)
}

func (a *app) pipelinesCreate() *cobra.Command {
	var t devopsTarget
	var n client.NewPipeline
	var repository, repoType string
	var skipFirstRun bool
	return a.command(leaf{
		use:   "create",
		short: "Create a YAML pipeline (and queue its first run)",
		long: `Create a pipeline from a YAML file in a Git repository, and queue its first run unless
--skip-first-run is given.

--repository is a Git clone URL, or a directory on the server's machine, which the server
reads as it is on disk (its working tree; the commit of a Git work tree is HEAD's) and
agents copy: it must exist on the agents' machine too. With --repository-type git a
directory is cloned instead, through its file:// URL, at the run's branch (its committed
files), by the server and by the agents.`,
		example: `  keystage pipelines create --name tutorial --repository ~/src/tutorial --branch main --yaml-path azure-pipelines.yml`,
		table:   pipelineTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if n.Name == "" {
				return nil, requiredError("--name")
			}
			if repository == "" {
				return nil, requiredError("--repository")
			}
			var err error
			if n.RepositoryType, n.RepositoryURL, err = repositoryOf(repository, repoType); err != nil {
				return nil, err
			}
			d, org, project, err := a.devopsProject(t)
			if err != nil {
				return nil, err
			}
			raw, err := d.CreatePipeline(ctx, org, project, n)
			if err != nil {
				return nil, err
			}
			if !skipFirstRun {
				var def struct {
					ID int `json:"id"`
				}
				if err := json.Unmarshal(raw, &def); err != nil {
					return nil, err
				}
				run, err := d.RunPipeline(ctx, org, project, def.ID, client.RunOptions{Branch: n.Branch})
				if err != nil {
					return nil, errorf("Pipeline %d was created, but queuing its first run failed: %s", def.ID, asCLIError(err).Error())
				}
				var r struct {
					ID int `json:"id"`
				}
				if err := json.Unmarshal(run, &r); err != nil {
					return nil, err
				}
				a.warn("Queued run %d of pipeline %d; follow it with 'keystage pipelines runs logs --id %d --follow'.", r.ID, def.ID, r.ID)
				a.warnWaiting(ctx, d, org, project, r.ID)
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		t.flags(f)
		f.StringVar(&n.Name, "name", "", "Name of the new pipeline")
		f.StringVar(&n.Description, "description", "", "Description of the pipeline")
		f.StringVar(&repository, "repository", "", "Git clone URL, or a directory on the server's machine")
		f.StringVar(&repoType, "repository-type", "", "Repository type: git (default for URLs) or local (default for directories)")
		f.StringVar(&n.Branch, "branch", "", "Default branch, e.g. main; default the repository's default branch")
		f.StringVar(&n.YAMLPath, "yaml-path", "azure-pipelines.yml", "Path of the pipeline's YAML file in the repository")
		f.StringVar(&n.Folder, "folder-path", "", `Folder of the pipeline, e.g. \team; default \`)
		f.IntVar(&n.QueueID, "queue-id", 0, "ID of the default agent queue; default the project's queue of the Azure Pipelines pool")
		f.BoolVar(&skipFirstRun, "skip-first-run", false, "Do not queue a run of the new pipeline")
	})
}

// repositoryOf returns the repository type and URL of --repository and --repository-type.
// A directory is read by the server and copied by agents as it is on disk (type local),
// or, with --repository-type git, cloned by the server through its file:// URL.
func repositoryOf(repo, typ string) (string, string, error) {
	if strings.Contains(repo, "://") || strings.HasPrefix(repo, "git@") {
		if typ == "" {
			typ = "git"
		}
		return typ, repo, nil
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return "", "", err
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return "", "", usageErrorf("--repository %s is neither a URL nor a directory", repo)
	}
	switch strings.ToLower(typ) {
	case "", "local":
		return "local", abs, nil
	case "git":
		return "git", (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
	}
	return "", "", usageErrorf("argument --repository-type: invalid choice: '%s' for a directory (choose from 'local', 'git')", typ)
}

func (a *app) pipelinesList() *cobra.Command {
	var t devopsTarget
	var name string
	var top int
	return a.command(leaf{
		use:   "list",
		short: "List the project's pipelines",
		table: pipelineTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.devopsProject(t)
			if err != nil {
				return nil, err
			}
			items, err := d.Definitions(ctx, org, project, name)
			if err != nil {
				return nil, err
			}
			if top > 0 && len(items) > top {
				items = items[:top]
			}
			return decodeList(items)
		},
	}, func(f *pflag.FlagSet) {
		t.flags(f)
		f.StringVar(&name, "name", "", "Only pipelines with this name (* is a wildcard)")
		f.IntVar(&top, "top", 0, "Maximum number of pipelines to list")
	})
}

func (a *app) pipelinesShow() *cobra.Command {
	var r pipelineRef
	return a.command(leaf{
		use:   "show",
		short: "Show a pipeline",
		table: pipelineTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, id, err := a.resolvePipeline(ctx, r)
			if err != nil {
				return nil, err
			}
			raw, err := d.Definition(ctx, org, project, id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, r.flags)
}

func (a *app) pipelinesDelete() *cobra.Command {
	var r pipelineRef
	var yes bool
	return a.command(leaf{
		use:   "delete",
		short: "Delete a pipeline and its runs",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, id, err := a.resolvePipeline(ctx, r)
			if err != nil {
				return nil, err
			}
			if !yes {
				if err := a.confirm("Are you sure you want to delete the pipeline " + strconv.Itoa(id) + "?"); err != nil {
					return nil, err
				}
			}
			return nil, d.DeleteDefinition(ctx, org, project, id)
		},
	}, func(f *pflag.FlagSet) {
		r.flags(f)
		f.BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation")
	})
}

func (a *app) pipelinesRun() *cobra.Command {
	var r pipelineRef
	var o client.RunOptions
	var variables, parameters []string
	return a.command(leaf{
		use:   "run",
		short: "Queue a run of a pipeline",
		long: `Queue a run of a pipeline and print it (a build). When the run must wait for a
permission first (a service connection the pipeline is not authorized to use), a warning
says how to permit it. Follow the run with 'keystage pipelines runs logs --id ID --follow'.`,
		example: `  keystage pipelines run --name tutorial --branch main --variables configuration=release`,
		nargs:   []string{"variables", "parameters"},
		table:   runTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			var err error
			if o.Variables, err = pairMap("--variables", variables); err != nil {
				return nil, err
			}
			if o.Parameters, err = pairMap("--parameters", parameters); err != nil {
				return nil, err
			}
			d, org, project, id, err := a.resolvePipeline(ctx, r)
			if err != nil {
				return nil, err
			}
			raw, err := d.RunPipeline(ctx, org, project, id, o)
			if err != nil {
				return nil, err
			}
			var run struct {
				ID int `json:"id"`
			}
			if err := json.Unmarshal(raw, &run); err != nil {
				return nil, err
			}
			b, err := d.Build(ctx, org, project, run.ID)
			if err != nil {
				return nil, err
			}
			a.warnWaiting(ctx, d, org, project, run.ID)
			return decodeJSON(b)
		},
	}, func(f *pflag.FlagSet) {
		r.flags(f)
		f.StringVar(&o.Branch, "branch", "", "Branch to run, e.g. main or refs/heads/main; default the pipeline's")
		f.StringVar(&o.Commit, "commit-id", "", "Commit to run on the branch")
		f.StringArrayVar(&variables, "variables", nil, `Space-separated "name=value" pairs of variables to set`)
		f.StringArrayVar(&parameters, "parameters", nil, `Space-separated "name=value" pairs of runtime parameters`)
	})
}
