package cli

import (
	"context"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newPermissionsCommand is `pipelines permissions`: which pipelines may use a protected
// resource (a service connection, an agent queue, …). az has no such command: this is
// the portal's "Security" page of a resource and its "Permit" button on waiting runs.
func (a *app) newPermissionsCommand() *cobra.Command {
	return group("permissions", "Show and permit pipelines' access to protected resources (service connections, queues)",
		a.permissionsShow(), a.permissionsPermit(), a.permissionsRevoke())
}

// resourceRef names a protected resource.
type resourceRef struct {
	t    devopsTarget
	typ  string
	id   string
	name string
}

func (r *resourceRef) flags(f *pflag.FlagSet) {
	r.t.flags(f)
	f.StringVar(&r.typ, "resource-type", "", "Type of the resource: endpoint (a service connection), queue, variablegroup, environment, securefile or repository")
	f.StringVar(&r.id, "resource-id", "", "ID of the resource")
	f.StringVar(&r.name, "resource-name", "", "Name of a service connection (with --resource-type endpoint), instead of --resource-id")
}

// resolveResource returns the client, organization, project, type and id of the resource.
func (a *app) resolveResource(ctx context.Context, r resourceRef) (client.DevOps, string, string, string, string, error) {
	if r.typ == "" {
		return client.DevOps{}, "", "", "", "", requiredError("--resource-type")
	}
	if r.id == "" && r.name == "" {
		return client.DevOps{}, "", "", "", "", requiredError("--resource-id (or --resource-name)")
	}
	if r.id == "" {
		if !strings.EqualFold(r.typ, "endpoint") {
			return client.DevOps{}, "", "", "", "", usageErrorf("--resource-name names service connections only: give --resource-id for a %s", r.typ)
		}
		d, org, project, id, err := a.resolveEndpoint(ctx, endpointRef{t: r.t, name: r.name})
		return d, org, project, "endpoint", id, err
	}
	d, org, project, err := a.devopsProject(r.t)
	return d, org, project, strings.ToLower(r.typ), r.id, err
}

func (a *app) permissionsShow() *cobra.Command {
	var r resourceRef
	return a.command(leaf{
		use:     "show",
		short:   "Show which pipelines may use a resource",
		example: "  keystage pipelines permissions show --resource-type endpoint --resource-name sc-tutorial",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, typ, id, err := a.resolveResource(ctx, r)
			if err != nil {
				return nil, err
			}
			raw, err := d.PipelinePermissions(ctx, org, project, typ, id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, r.flags)
}

// permissionChange holds the flags of permit and revoke.
type permissionChange struct {
	r            resourceRef
	pipelineIDs  []string
	allPipelines bool
}

func (p *permissionChange) flags(f *pflag.FlagSet) {
	p.r.flags(f)
	f.StringArrayVar(&p.pipelineIDs, "pipeline-id", nil, "Space-separated IDs of the pipelines")
	f.BoolVar(&p.allPipelines, "all-pipelines", false, "Every pipeline of the project")
}

// updatePermissions applies a permit (authorized) or revoke to the resource.
func (a *app) updatePermissions(ctx context.Context, p permissionChange, authorized bool) (any, error) {
	if !p.allPipelines && len(p.pipelineIDs) == 0 {
		return nil, usageErrorf("give --pipeline-id or --all-pipelines")
	}
	u := client.PermissionUpdate{}
	if p.allPipelines {
		u.AllPipelines = &authorized
	}
	if len(p.pipelineIDs) > 0 {
		u.Pipelines = map[int]bool{}
		for _, s := range p.pipelineIDs {
			id, err := strconv.Atoi(s)
			if err != nil || id <= 0 {
				return nil, usageErrorf("argument --pipeline-id: %q is not a pipeline id", s)
			}
			u.Pipelines[id] = authorized
		}
	}
	d, org, project, typ, id, err := a.resolveResource(ctx, p.r)
	if err != nil {
		return nil, err
	}
	raw, err := d.UpdatePipelinePermissions(ctx, org, project, typ, id, u)
	if err != nil {
		return nil, err
	}
	return decodeJSON(raw)
}

func (a *app) permissionsPermit() *cobra.Command {
	var p permissionChange
	var runID int
	return a.command(leaf{
		use:   "permit",
		short: "Permit pipelines to use a resource, or permit what a waiting run asks for",
		long: `Permit pipelines (--pipeline-id) or every pipeline of the project (--all-pipelines) to
use a resource. Runs waiting for that permission resume; the permission is remembered.

With --run-id, permit what a run waits for, as the portal's "Permit" button does: each
of its pending permission checks is approved (remembered for later runs).`,
		example: `  keystage pipelines permissions permit --resource-type endpoint --resource-name sc-tutorial --pipeline-id 1
  keystage pipelines permissions permit --run-id 3`,
		nargs: []string{"pipeline-id"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if runID > 0 {
				if p.r.typ != "" || p.r.id != "" || p.r.name != "" || len(p.pipelineIDs) > 0 || p.allPipelines {
					return nil, usageErrorf("--run-id permits what the run waits for: give it alone")
				}
				return a.permitRun(ctx, p.r.t, runID)
			}
			return a.updatePermissions(ctx, p, true)
		},
	}, func(f *pflag.FlagSet) {
		p.flags(f)
		f.IntVar(&runID, "run-id", 0, "Permit the pending permission checks of this run")
	})
}

func (a *app) permissionsRevoke() *cobra.Command {
	var p permissionChange
	return a.command(leaf{
		use:   "revoke",
		short: "Withdraw pipelines' permission to use a resource",
		nargs: []string{"pipeline-id"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			return a.updatePermissions(ctx, p, false)
		},
	}, p.flags)
}

// permitRun approves the pending permission checks of a run through the approvals API.
func (a *app) permitRun(ctx context.Context, t devopsTarget, runID int) (any, error) {
	d, org, project, err := a.devopsProject(t)
	if err != nil {
		return nil, err
	}
	waiting, err := runWaits(ctx, d, org, project, runID)
	if err != nil {
		return nil, err
	}
	if len(waiting) == 0 {
		return nil, errorf("Run %d is not waiting for a permission.", runID)
	}
	decisions := make([]client.ApprovalDecision, 0, len(waiting))
	for _, cp := range waiting {
		decisions = append(decisions, client.ApprovalDecision{ApprovalID: cp.ID, Status: "approved"})
	}
	items, err := d.UpdateApprovals(ctx, org, project, decisions)
	if err != nil {
		return nil, err
	}
	return decodeList(items)
}
