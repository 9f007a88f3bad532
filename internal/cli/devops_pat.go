package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newPATCommand is `devops pat`: personal access tokens, e.g. the token `keystage agent
// --token` registers with (Azure DevOps manages them in its portal; az has no command).
func (a *app) newPATCommand() *cobra.Command {
	return group("pat", "Manage your personal access tokens (for 'keystage agent --token' and API clients)",
		a.patCreate(), a.patList(), a.patRevoke())
}

func patTable(v any) any {
	return tableColumns(v, []string{"Name", "displayName"}, []string{"Authorization ID", "authorizationId"},
		[]string{"Scope", "scope"}, []string{"Valid To", "validTo"})
}

func (a *app) patCreate() *cobra.Command {
	var t devopsTarget
	var name, scope, expires string
	var allOrgs bool
	return a.command(leaf{
		use:   "create",
		short: "Create a personal access token; its value is shown once",
		long: `Create a personal access token for the signed-in principal, valid in the organization
(or in all organizations with --all-orgs). The answer's patToken.token is the only time the
token's value is shown: store it safely. Scopes are Azure DevOps scope names; an agent needs
vso.agentpools_manage. Without --scope the token may do anything you may.`,
		example: `  keystage devops pat create --display-name agent --scope vso.agentpools_manage --query patToken.token -o tsv`,
		table:   func(v any) any { return patTable(lookupPath(v, "patToken")) },
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--display-name")
			}
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			n := client.NewPAT{DisplayName: name, Scope: scope, AllOrgs: allOrgs}
			if expires != "" {
				if n.ValidTo, err = parseDate("--expires", expires); err != nil {
					return nil, err
				}
			}
			raw, err := d.CreatePAT(ctx, org, n)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.StringVar(&name, "display-name", "", "Name of the token")
		f.StringVar(&scope, "scope", "", "Space-separated scopes, e.g. 'vso.agentpools_manage'; default full access (app_token)")
		f.StringVar(&expires, "expires", "", "Expiry in UTC, e.g. "+time.Now().UTC().AddDate(0, 1, 0).Format("2006-01-02")+"; default the server's default lifetime")
		f.BoolVar(&allOrgs, "all-orgs", false, "Make the token valid in every organization")
	})
}

func (a *app) patList() *cobra.Command {
	var t devopsTarget
	return a.command(leaf{
		use:   "list",
		short: "List your personal access tokens (never their values)",
		table: patTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			items, err := d.PATs(ctx, org)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, t.orgFlag)
}

func (a *app) patRevoke() *cobra.Command {
	var t devopsTarget
	var id string
	return a.command(leaf{
		use:   "revoke",
		short: "Revoke a personal access token",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if id == "" {
				return nil, requiredError("--authorization-id")
			}
			d, org, err := a.devops(t)
			if err != nil {
				return nil, err
			}
			return nil, d.RevokePAT(ctx, org, id)
		},
	}, func(f *pflag.FlagSet) {
		t.orgFlag(f)
		f.StringVar(&id, "authorization-id", "", "Authorization ID of the token (from 'pat list')")
	})
}
