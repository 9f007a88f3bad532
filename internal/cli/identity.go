package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newIdentityCommand is `keystage identity`: user-assigned managed identities and their
// federated credentials.
func (a *app) newIdentityCommand() *cobra.Command {
	cmd := group("identity", "Manage user-assigned managed identities",
		a.identityCreate(), a.identityShow(), a.identityList(), a.identityDelete(),
		group("federated-credential", "Manage federated identity credentials of a managed identity",
			a.ficCreate(), a.ficShow(), a.ficList(), a.ficDelete()))
	a.addGlobalFlags(cmd)
	return cmd
}

func (a *app) identityPath(name, grp string) (string, error) {
	if name == "" {
		return "", requiredError("--name/-n")
	}
	g, err := a.requireGroup(grp)
	if err != nil {
		return "", err
	}
	sub, err := a.subscriptionID()
	if err != nil {
		return "", err
	}
	return "/subscriptions/" + sub + "/resourceGroups/" + pathEscape(g) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + pathEscape(name), nil
}

func identityFlags(name, grp *string) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) {
		f.StringVarP(name, "name", "n", "", "Name of the identity")
		f.StringVarP(grp, "resource-group", "g", "", "Name of resource group; default 'config set defaults.group=…'")
	}
}

func (a *app) identityCreate() *cobra.Command {
	var name, grp, location string
	var tags []string
	cmd := a.command(leaf{
		use:     "create",
		short:   "Create a user-assigned managed identity",
		example: "  keystage identity create --name MyIdentity --resource-group MyResourceGroup",
		nargs:   []string{"tags"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			path, err := a.identityPath(name, grp)
			if err != nil {
				return nil, err
			}
			t, err := parseTags(tags)
			if err != nil {
				return nil, err
			}
			g, err := a.requireGroup(grp)
			if err != nil {
				return nil, err
			}
			loc, err := a.locationFor(ctx, location, g)
			if err != nil {
				return nil, err
			}
			body := map[string]any{"location": loc}
			if t != nil {
				body["tags"] = t
			}
			raw, err := a.client.ARM().Put(ctx, path, apiIdentity, body)
			if err != nil {
				return nil, err
			}
			return flattenedResult(raw)
		},
	}, func(f *pflag.FlagSet) {
		identityFlags(&name, &grp)(f)
		f.StringVarP(&location, "location", "l", "", "Location; default 'config set defaults.location=…', else the group's")
		f.StringArrayVar(&tags, "tags", nil, "Space-separated tags: key[=value] [key[=value] ...]")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) identityShow() *cobra.Command {
	var name, grp string
	cmd := a.command(leaf{
		use:   "show",
		short: "Show a managed identity",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			path, err := a.identityPath(name, grp)
			if err != nil {
				return nil, err
			}
			raw, err := a.client.ARM().Get(ctx, path, apiIdentity)
			if err != nil {
				return nil, err
			}
			return flattenedResult(raw)
		},
	}, identityFlags(&name, &grp))
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) identityList() *cobra.Command {
	var grp string
	cmd := a.command(leaf{
		use:   "list",
		short: "List managed identities of the subscription or of a resource group",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			sub, err := a.subscriptionID()
			if err != nil {
				return nil, err
			}
			path := "/subscriptions/" + sub
			if grp != "" {
				path += "/resourceGroups/" + pathEscape(grp)
			}
			items, err := a.client.ARM().List(ctx, path+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", apiIdentity)
			if err != nil {
				return nil, err
			}
			return flattenedList(items)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&grp, "resource-group", "g", "", "Resource group; the whole subscription when omitted")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) identityDelete() *cobra.Command {
	var name, grp string
	cmd := a.command(leaf{
		use:   "delete",
		short: "Delete a managed identity",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			path, err := a.identityPath(name, grp)
			if err != nil {
				return nil, err
			}
			return nil, a.client.ARM().Delete(ctx, path, apiIdentity)
		},
	}, identityFlags(&name, &grp))
	a.addSubscriptionFlag(cmd)
	return cmd
}

func ficFlags(identity, name, grp *string) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) {
		f.StringVar(identity, "identity-name", "", "Name of the managed identity")
		f.StringVarP(name, "name", "n", "", "Name of the federated credential")
		f.StringVarP(grp, "resource-group", "g", "", "Name of resource group; default 'config set defaults.group=…'")
	}
}

func (a *app) ficPath(identity, name, grp string) (string, error) {
	if identity == "" {
		return "", requiredError("--identity-name")
	}
	p, err := a.identityPath(identity, grp)
	if err != nil {
		return "", err
	}
	p += "/federatedIdentityCredentials"
	if name != "" {
		p += "/" + pathEscape(name)
	}
	return p, nil
}

func (a *app) ficCreate() *cobra.Command {
	var identity, name, grp, issuer, subject string
	var audiences []string
	cmd := a.command(leaf{
		use:     "create",
		short:   "Create or update a federated identity credential of a managed identity",
		example: "  keystage identity federated-credential create --identity-name MyIdentity -g MyRG -n fc --issuer https://issuer --subject sc://org/project/conn",
		nargs:   []string{"audiences"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" || issuer == "" || subject == "" {
				var missing []string
				for _, m := range [][2]string{{name, "--name/-n"}, {issuer, "--issuer"}, {subject, "--subject"}} {
					if m[0] == "" {
						missing = append(missing, m[1])
					}
				}
				return nil, requiredError(missing...)
			}
			path, err := a.ficPath(identity, name, grp)
			if err != nil {
				return nil, err
			}
			if len(audiences) == 0 {
				audiences = []string{"api://AzureADTokenExchange"}
			}
			body := map[string]any{"properties": map[string]any{"issuer": issuer, "subject": subject, "audiences": toAnyList(audiences)}}
			raw, err := a.client.ARM().Put(ctx, path, apiIdentity, body)
			if err != nil {
				return nil, err
			}
			return flattenedResult(raw)
		},
	}, func(f *pflag.FlagSet) {
		ficFlags(&identity, &name, &grp)(f)
		f.StringVar(&issuer, "issuer", "", "OpenID Connect issuer URL, matched exactly")
		f.StringVar(&subject, "subject", "", "Subject of the external tokens, matched exactly")
		f.StringArrayVar(&audiences, "audiences", nil, "Audiences (default api://AzureADTokenExchange)")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) ficShow() *cobra.Command {
	var identity, name, grp string
	cmd := a.command(leaf{
		use:   "show",
		short: "Show a federated identity credential of a managed identity",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--name/-n")
			}
			path, err := a.ficPath(identity, name, grp)
			if err != nil {
				return nil, err
			}
			raw, err := a.client.ARM().Get(ctx, path, apiIdentity)
			if err != nil {
				return nil, err
			}
			return flattenedResult(raw)
		},
	}, ficFlags(&identity, &name, &grp))
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) ficList() *cobra.Command {
	var identity, grp string
	cmd := a.command(leaf{
		use:   "list",
		short: "List the federated identity credentials of a managed identity",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			path, err := a.ficPath(identity, "", grp)
			if err != nil {
				return nil, err
			}
			items, err := a.client.ARM().List(ctx, path, apiIdentity)
			if err != nil {
				return nil, err
			}
			return flattenedList(items)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&identity, "identity-name", "", "Name of the managed identity")
		f.StringVarP(&grp, "resource-group", "g", "", "Name of resource group; default 'config set defaults.group=…'")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) ficDelete() *cobra.Command {
	var identity, name, grp string
	var yes bool
	cmd := a.command(leaf{
		use:   "delete",
		short: "Delete a federated identity credential of a managed identity",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--name/-n")
			}
			path, err := a.ficPath(identity, name, grp)
			if err != nil {
				return nil, err
			}
			_, err = a.client.ARM().Do(ctx, http.MethodDelete, path, apiIdentity, nil)
			return nil, err
		},
	}, func(f *pflag.FlagSet) {
		ficFlags(&identity, &name, &grp)(f)
		f.BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}
