package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newGroupCommand is `keystage group`: resource groups.
func (a *app) newGroupCommand() *cobra.Command {
	cmd := group("group", "Manage resource groups",
		a.groupCreate(), a.groupShow(), a.groupList(), a.groupDelete(), a.groupExists())
	a.addGlobalFlags(cmd)
	return cmd
}

func groupTable(v any) any {
	return tableColumns(v, []string{"Name", "name"}, []string{"Location", "location"}, []string{"Status", "properties.provisioningState"})
}

func (a *app) groupPath(name string) (string, error) {
	sub, err := a.subscriptionID()
	if err != nil {
		return "", err
	}
	return "/subscriptions/" + sub + "/resourcegroups/" + pathEscape(name), nil
}

// locationFor returns the location of a new resource in group: --location when given,
// else defaults.location, else the group's own location.
func (a *app) locationFor(ctx context.Context, given, group string) (string, error) {
	if loc := a.defaultOf(given, "location"); loc != "" {
		return loc, nil
	}
	path, err := a.groupPath(group)
	if err != nil {
		return "", err
	}
	raw, err := a.client.ARM().Get(ctx, path, apiResources)
	if err != nil {
		return "", err
	}
	var rg struct {
		Location string `json:"location"`
	}
	if err := json.Unmarshal(raw, &rg); err != nil {
		return "", fmt.Errorf("decode resource group: %w", err)
	}
	return rg.Location, nil
}

func (a *app) groupCreate() *cobra.Command {
	var name, location string
	var tags []string
	cmd := a.command(leaf{
		use:     "create",
		short:   "Create a new resource group",
		example: "  keystage group create --name MyResourceGroup --location westus2",
		nargs:   []string{"tags"},
		table:   groupTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--name/--resource-group/-n/-g")
			}
			loc := a.defaultOf(location, "location")
			if loc == "" {
				return nil, requiredError("--location/-l")
			}
			t, err := parseTags(tags)
			if err != nil {
				return nil, err
			}
			path, err := a.groupPath(name)
			if err != nil {
				return nil, err
			}
			body := map[string]any{"location": loc}
			if t != nil {
				body["tags"] = t
			}
			raw, err := a.client.ARM().Put(ctx, path, apiResources, body)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&name, "name", "n", "", "Name of the new resource group")
		f.StringVarP(&name, "resource-group", "g", "", "Name of the new resource group")
		f.StringVarP(&location, "location", "l", "", "Location; default 'config set defaults.location=…'")
		f.StringArrayVar(&tags, "tags", nil, `Space-separated tags: key[=value] [key[=value] ...]. Use "" to clear existing tags`)
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) groupShow() *cobra.Command {
	var name string
	cmd := a.command(leaf{
		use:   "show",
		short: "Gets a resource group",
		table: groupTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			g, err := a.requireGroup(name)
			if err != nil {
				return nil, err
			}
			path, err := a.groupPath(g)
			if err != nil {
				return nil, err
			}
			raw, err := a.client.ARM().Get(ctx, path, apiResources)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, groupNameFlags(&name))
	a.addSubscriptionFlag(cmd)
	return cmd
}

func groupNameFlags(name *string) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) {
		f.StringVarP(name, "name", "n", "", "Name of resource group; default 'config set defaults.group=…'")
		f.StringVarP(name, "resource-group", "g", "", "Name of resource group; default 'config set defaults.group=…'")
	}
}

func (a *app) groupExists() *cobra.Command {
	var name string
	cmd := a.command(leaf{
		use:   "exists",
		short: "Check if a resource group exists",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			g, err := a.requireGroup(name)
			if err != nil {
				return nil, err
			}
			path, err := a.groupPath(g)
			if err != nil {
				return nil, err
			}
			_, err = a.client.ARM().Get(ctx, path, apiResources)
			if isNotFound(err) {
				return false, nil
			}
			return err == nil, err
		},
	}, groupNameFlags(&name))
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) groupList() *cobra.Command {
	cmd := a.command(leaf{
		use:   "list",
		short: "List resource groups",
		table: groupTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			sub, err := a.subscriptionID()
			if err != nil {
				return nil, err
			}
			items, err := a.client.ARM().List(ctx, "/subscriptions/"+sub+"/resourcegroups", apiResources)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, nil)
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) groupDelete() *cobra.Command {
	var name string
	var yes, noWait bool
	cmd := a.command(leaf{
		use:   "delete",
		short: "Delete a resource group and every resource in it",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			g, err := a.requireGroup(name)
			if err != nil {
				return nil, err
			}
			if !yes {
				if err := a.confirm("Are you sure you want to perform this operation?"); err != nil {
					return nil, err
				}
			}
			path, err := a.groupPath(g)
			if err != nil {
				return nil, err
			}
			if noWait {
				_, err := a.client.ARM().Start(ctx, "DELETE", path, apiResources, nil)
				return nil, err
			}
			return nil, a.client.ARM().Delete(ctx, path, apiResources)
		},
	}, func(f *pflag.FlagSet) {
		groupNameFlags(&name)(f)
		f.BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation")
		f.BoolVar(&noWait, "no-wait", false, "Do not wait for the long-running operation to finish")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

// confirm asks a yes/no question on stderr and reads the answer from stdin, as az does
// for destructive commands without --yes.
func (a *app) confirm(question string) error {
	if a.env.Stdin == nil {
		return usageErrorf("%s Run with --yes to confirm without a prompt.", question)
	}
	fmt.Fprintf(a.env.Stderr, "%s (y/n): ", question)
	line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return usageErrorf("no answer on standard input: run with --yes to confirm without a prompt")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errorf("Operation cancelled.")
}
