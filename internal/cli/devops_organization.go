package cli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newOrganizationCommand is `devops organization`: Keystage's organizations, which a
// Keystage administrator creates (Azure DevOps creates them in its portal; az has no
// command for them).
func (a *app) newOrganizationCommand() *cobra.Command {
	return group("organization", "Manage organizations (create and delete need a Keystage administrator)",
		a.organizationCreate(), a.organizationList(), a.organizationShow(), a.organizationDelete())
}

func organizationTable(v any) any {
	return tableColumns(v, []string{"Name", "name"}, []string{"ID", "id"}, []string{"URL", "url"}, []string{"Created", "createdOn"})
}

func (a *app) organizationCreate() *cobra.Command {
	var name, description string
	var owners []string
	return a.command(leaf{
		use:     "create",
		short:   "Create an organization",
		long:    "Create an organization with its agent pools (Default and Azure Pipelines). Owners, object ids of principals of your tenant, may manage it; Keystage administrators always may.",
		example: "  keystage devops organization create --name fabrikam\n  keystage devops organization create --name fabrikam --owners 00000000-0000-0000-0000-000000000001",
		nargs:   []string{"owners"},
		table:   organizationTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--name/-n")
			}
			c, err := a.signedIn()
			if err != nil {
				return nil, err
			}
			refs := make([]client.PrincipalRef, 0, len(owners))
			for _, o := range owners {
				refs = append(refs, client.PrincipalRef{TenantID: a.prof.TenantID, ObjectID: o})
			}
			raw, err := c.DevOps().CreateOrganization(ctx, name, description, refs)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&name, "name", "n", "", "Name of the organization: letters, digits and hyphens")
		f.StringVarP(&description, "description", "d", "", "Description of the organization")
		f.StringArrayVar(&owners, "owners", nil, "Space-separated object ids of the principals (of your tenant) who own the organization")
	})
}

func (a *app) organizationList() *cobra.Command {
	return a.command(leaf{
		use:   "list",
		short: "List the organizations you may see (all of them, for an administrator)",
		table: organizationTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			c, err := a.signedIn()
			if err != nil {
				return nil, err
			}
			items, err := c.DevOps().Organizations(ctx)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, nil)
}

// organizationNamed returns the DevOps client and the organization --name names, else
// the one --organization/--org (a URL or name) or the configured default names.
func (a *app) organizationNamed(name string, t devopsTarget) (client.DevOps, string, error) {
	if name != "" {
		t.org = name
	}
	return a.devops(t)
}

func (a *app) organizationShow() *cobra.Command {
	var name string
	var t devopsTarget
	return a.command(leaf{
		use:   "show",
		short: "Show an organization, with the issuer of its workload identity tokens",
		table: organizationTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, err := a.organizationNamed(name, t)
			if err != nil {
				return nil, err
			}
			raw, err := d.Organization(ctx, org)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&name, "name", "n", "", "Name of the organization; default the --organization or configured one")
		t.orgFlag(f)
	})
}

func (a *app) organizationDelete() *cobra.Command {
	var name string
	var yes bool
	var t devopsTarget
	return a.command(leaf{
		use:   "delete",
		short: "Delete an organization with its projects, pipelines, runs, service connections and agent pools",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" && t.org == "" {
				return nil, requiredError("--name/-n")
			}
			d, org, err := a.organizationNamed(name, t)
			if err != nil {
				return nil, err
			}
			if !yes {
				if err := a.confirm("Are you sure you want to delete organization " + org + " and everything in it?"); err != nil {
					return nil, err
				}
			}
			return nil, d.DeleteOrganization(ctx, org)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&name, "name", "n", "", "Name of the organization")
		t.orgFlag(f)
		f.BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation")
	})
}
