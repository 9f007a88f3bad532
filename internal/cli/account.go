package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newAccountCommand is `keystage account`: the subscriptions of the signed-in principal.
func (a *app) newAccountCommand() *cobra.Command {
	cmd := group("account", "Manage Keystage subscription information",
		a.accountList(), a.accountShow(), a.accountSet(), a.accountListLocations(), a.accountGetAccessToken())
	a.addGlobalFlags(cmd)
	return cmd
}

func (a *app) accountList() *cobra.Command {
	var refresh, all bool
	return a.command(leaf{
		use:   "list",
		short: "Get a list of subscriptions for the logged in account",
		table: accountTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if _, err := a.signedIn(); err != nil {
				return nil, err
			}
			if refresh {
				var cred secretCredential
				if err := a.st.read(credentialsFile, &cred); err != nil {
					return nil, err
				}
				p := *a.prof
				p.Subscriptions = nil
				if _, err := a.login(ctx, p, cred, true); err != nil {
					return nil, err
				}
				a.client = nil
				if _, err := a.signedIn(); err != nil {
					return nil, err
				}
			}
			out := []any{}
			for _, s := range a.prof.Subscriptions {
				if all || s.State == "" || s.State == "Enabled" {
					out = append(out, s)
				}
			}
			return toGeneric(out)
		},
	}, func(f *pflag.FlagSet) {
		f.BoolVar(&refresh, "refresh", false, "Retrieve up-to-date subscriptions from the server")
		f.BoolVar(&all, "all", false, "List all subscriptions, not only enabled ones")
	})
}

func accountTable(v any) any {
	list, _ := v.([]any)
	rows := []any{}
	for _, it := range list {
		m, _ := it.(map[string]any)
		rows = append(rows, orderedRow{
			{"Name", m["name"]}, {"CloudName", m["cloudName"]}, {"SubscriptionId", m["id"]},
			{"TenantId", m["tenantId"]}, {"State", m["state"]}, {"IsDefault", m["isDefault"]},
		})
	}
	return rows
}

func (a *app) accountShow() *cobra.Command {
	var name string
	return a.command(leaf{
		use:   "show",
		short: "Get the details of a subscription",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if _, err := a.signedIn(); err != nil {
				return nil, err
			}
			s, err := a.findSubscription(name + a.subscription)
			if err != nil {
				return nil, err
			}
			v, err := toGeneric(s)
			if m, ok := v.(map[string]any); ok {
				// az account show names the cloud environmentName where list says cloudName.
				m["environmentName"] = m["cloudName"]
				delete(m, "cloudName")
			}
			return v, err
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&name, "name", "n", "", "Name or ID of subscription")
		f.StringVarP(&a.subscription, "subscription", "s", "", "Name or ID of subscription")
	})
}

func (a *app) accountSet() *cobra.Command {
	var name string
	return a.command(leaf{
		use:   "set",
		short: "Set a subscription to be the current active subscription",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			want := name + a.subscription
			if want == "" || (name != "" && a.subscription != "") {
				return nil, requiredError("--subscription/-s/--name/-n")
			}
			if _, err := a.signedIn(); err != nil {
				return nil, err
			}
			s, err := a.findSubscription(want)
			if err != nil {
				return nil, err
			}
			p := *a.prof
			for i := range p.Subscriptions {
				p.Subscriptions[i].IsDefault = p.Subscriptions[i].ID == s.ID
			}
			return nil, a.st.write(profileFile, p)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&name, "name", "n", "", "Name or ID of subscription")
		f.StringVarP(&a.subscription, "subscription", "s", "", "Name or ID of subscription")
	})
}

func (a *app) accountListLocations() *cobra.Command {
	cmd := a.command(leaf{
		use:   "list-locations",
		short: "List supported regions for the current subscription",
		table: func(v any) any {
			return tableColumns(v, []string{"DisplayName", "displayName"}, []string{"Name", "name"}, []string{"RegionalDisplayName", "regionalDisplayName"})
		},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			sub, err := a.subscriptionID()
			if err != nil {
				return nil, err
			}
			items, err := a.client.ARM().List(ctx, "/subscriptions/"+sub+"/locations", apiSubscriptions)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, nil)
	a.addSubscriptionFlag(cmd)
	return cmd
}

// tableColumns picks columns (header, key path with dots) from each object of a list.
func tableColumns(v any, cols ...[]string) any {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	rows := []any{}
	for _, it := range list {
		row := orderedRow{}
		for _, c := range cols {
			row = append(row, orderedCell{c[0], lookupPath(it, c[1])})
		}
		rows = append(rows, row)
	}
	return rows
}

// lookupPath follows a dotted key path through nested objects; nil when absent.
func lookupPath(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (a *app) accountGetAccessToken() *cobra.Command {
	var resource, resourceType, tenant string
	cmd := a.command(leaf{
		use:     "get-access-token",
		short:   "Get a token for calling Keystage's APIs directly (e.g. with curl)",
		example: "  curl -H \"Authorization: Bearer $(keystage account get-access-token --query accessToken -o tsv)\" ...",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			c, err := a.signedIn()
			if err != nil {
				return nil, err
			}
			if tenant != "" && !strings.EqualFold(tenant, a.prof.TenantID) {
				return nil, errorf("You are signed in to tenant %s only.", a.prof.TenantID)
			}
			res := resource
			switch {
			case res != "" && resourceType != "":
				return nil, usageErrorf("usage error: --resource and --resource-type are mutually exclusive")
			case resourceType == "" || resourceType == "arm":
				if res == "" {
					res = client.DefaultARMResource
				}
			case resourceType == "ms-graph":
				res = client.DefaultGraphResource
			case resourceType == "data-plane", resourceType == "vault":
				res = client.DefaultVaultResource
			default:
				return nil, usageErrorf("argument --resource-type: invalid choice: '%s' (choose from 'arm', 'ms-graph', 'vault')", resourceType)
			}
			tok, err := c.Credential().Token(ctx, res)
			if err != nil {
				return nil, err
			}
			out := map[string]any{
				"accessToken": tok.Value,
				"expiresOn":   tok.ExpiresOn.Local().Format("2006-01-02 15:04:05.000000"),
				"expires_on":  tok.ExpiresOn.Unix(),
				"tenant":      a.prof.TenantID,
				"tokenType":   "Bearer",
			}
			if s, err := a.findSubscription(a.subscription); err == nil {
				out["subscription"] = s.ID
			}
			return out, nil
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&resource, "resource", "", "Resource (audience) of the token; default "+client.DefaultARMResource)
		f.StringVar(&resourceType, "resource-type", "", "Type of resource: arm, ms-graph or vault")
		f.StringVarP(&tenant, "tenant", "t", "", "Tenant of the token; only the signed-in tenant")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}
