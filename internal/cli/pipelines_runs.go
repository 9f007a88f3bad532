package cli

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newRunsCommand is `pipelines runs`: a pipeline's runs (builds), their logs and artifacts.
func (a *app) newRunsCommand() *cobra.Command {
	return group("runs", "Manage pipeline runs: list, show, cancel, logs and artifacts",
		a.runsList(), a.runsShow(), a.runsCancel(), a.runsLogs(), a.newRunArtifactCommand())
}

func runTable(v any) any {
	return tableColumns(v, []string{"Run ID", "id"}, []string{"Number", "buildNumber"}, []string{"Status", "status"},
		[]string{"Result", "result"}, []string{"Pipeline ID", "definition.id"}, []string{"Pipeline Name", "definition.name"},
		[]string{"Source Branch", "sourceBranch"}, []string{"Queued Time", "queueTime"}, []string{"Reason", "reason"})
}

// runRef names one run of the project.
type runRef struct {
	t  devopsTarget
	id int
}

func (r *runRef) flags(flag string) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) {
		r.t.flags(f)
		f.IntVar(&r.id, flag, 0, "ID of the pipeline run")
	}
}

func (a *app) resolveRun(r runRef, flag string) (client.DevOps, string, string, error) {
	if err := requireInt("--"+flag, r.id); err != nil {
		return client.DevOps{}, "", "", err
	}
	return a.devopsProject(r.t)
}

func (a *app) runsList() *cobra.Command {
	var t devopsTarget
	var f client.BuildFilter
	var pipelineIDs []string
	return a.command(leaf{
		use:   "list",
		short: "List the project's pipeline runs, newest first",
		nargs: []string{"pipeline-ids"},
		table: runTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			for _, s := range pipelineIDs {
				id, err := strconv.Atoi(s)
				if err != nil || id <= 0 {
					return nil, usageErrorf("argument --pipeline-ids: %q is not a pipeline id", s)
				}
				f.DefinitionIDs = append(f.DefinitionIDs, id)
			}
			d, org, project, err := a.devopsProject(t)
			if err != nil {
				return nil, err
			}
			items, err := d.Builds(ctx, org, project, f)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, func(fs *pflag.FlagSet) {
		t.flags(fs)
		fs.StringArrayVar(&pipelineIDs, "pipeline-ids", nil, "Space-separated IDs of pipelines whose runs to list")
		fs.StringVar(&f.Branch, "branch", "", "Only runs of this branch")
		fs.StringVar(&f.Status, "status", "", "Only runs with this status: notStarted, inProgress, cancelling, completed, all")
		fs.StringVar(&f.Result, "result", "", "Only runs with this result: succeeded, partiallySucceeded, failed, canceled")
		fs.IntVar(&f.Top, "top", 0, "Maximum number of runs to list")
	})
}

func (a *app) runsShow() *cobra.Command {
	var r runRef
	return a.command(leaf{
		use:   "show",
		short: "Show a pipeline run (and whether it waits for a permission)",
		table: runTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.resolveRun(r, "id")
			if err != nil {
				return nil, err
			}
			raw, err := d.Build(ctx, org, project, r.id)
			if err != nil {
				return nil, err
			}
			a.warnWaiting(ctx, d, org, project, r.id)
			return decodeJSON(raw)
		},
	}, r.flags("id"))
}

func (a *app) runsCancel() *cobra.Command {
	var r runRef
	return a.command(leaf{
		use:   "cancel",
		short: "Cancel a pipeline run",
		table: runTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.resolveRun(r, "id")
			if err != nil {
				return nil, err
			}
			raw, err := d.CancelBuild(ctx, org, project, r.id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, r.flags("id"))
}

// timelineRecord is what the CLI reads of a timeline record.
type timelineRecord struct {
	ID               string  `json:"id"`
	ParentID         *string `json:"parentId"`
	Type             string  `json:"type"`
	Name             string  `json:"name"`
	State            string  `json:"state"`
	Result           *string `json:"result"`
	CurrentOperation *string `json:"currentOperation"`
	Log              *struct {
		ID int `json:"id"`
	} `json:"log"`
}

func timeline(ctx context.Context, d client.DevOps, org, project string, id int) ([]timelineRecord, error) {
	raw, err := d.Timeline(ctx, org, project, id)
	if err != nil {
		return nil, err
	}
	var tl struct {
		Records []timelineRecord `json:"records"`
	}
	if err := json.Unmarshal(raw, &tl); err != nil {
		return nil, err
	}
	return tl.Records, nil
}

// waitingCheckpoints returns the checkpoint records of a run that wait for a decision
// (Checkpoint.Authorization: a pipeline permission).
func waitingCheckpoints(records []timelineRecord) []timelineRecord {
	var out []timelineRecord
	for _, r := range records {
		if strings.HasPrefix(r.Type, "Checkpoint.") && r.State != "completed" {
			out = append(out, r)
		}
	}
	return out
}

// warnWaiting warns when run id waits for a permission, with what to run to permit it.
// It only informs: errors reading the run are ignored.
func (a *app) warnWaiting(ctx context.Context, d client.DevOps, org, project string, id int) {
	waiting, err := runWaits(ctx, d, org, project, id)
	if err != nil {
		return
	}
	a.warnCheckpoints(ctx, d, org, project, id, waiting)
}

// runWaits returns the checkpoints a run that has not completed waits on.
func runWaits(ctx context.Context, d client.DevOps, org, project string, id int) ([]timelineRecord, error) {
	done, err := runCompleted(ctx, d, org, project, id)
	if err != nil || done {
		return nil, err
	}
	records, err := timeline(ctx, d, org, project, id)
	if err != nil {
		return nil, err
	}
	return waitingCheckpoints(records), nil
}

// runCompleted reports whether a run (build) has completed.
func runCompleted(ctx context.Context, d client.DevOps, org, project string, id int) (bool, error) {
	raw, err := d.Build(ctx, org, project, id)
	if err != nil {
		return false, err
	}
	var b struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, err
	}
	return b.Status == "completed", nil
}

func (a *app) warnCheckpoints(ctx context.Context, d client.DevOps, org, project string, id int, waiting []timelineRecord) {
	if len(waiting) == 0 {
		return
	}
	instructions := map[string]string{}
	if approvals, err := d.Approvals(ctx, org, project); err == nil {
		for _, raw := range approvals {
			var ap struct {
				ID           string `json:"id"`
				Instructions string `json:"instructions"`
			}
			if json.Unmarshal(raw, &ap) == nil {
				instructions[strings.ToLower(ap.ID)] = ap.Instructions
			}
		}
	}
	for _, cp := range waiting {
		msg := cp.Name
		if cp.CurrentOperation != nil && *cp.CurrentOperation != "" {
			msg = *cp.CurrentOperation
		}
		if in := instructions[strings.ToLower(cp.ID)]; in != "" {
			msg += " (" + strings.TrimSuffix(in, ".") + ")"
		}
		a.warn("Run %d is waiting: %s. To permit it, run 'keystage pipelines permissions permit --run-id %d'.", id, msg, id)
	}
}
