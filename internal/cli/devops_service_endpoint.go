package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newServiceEndpointCommand is `devops service-endpoint`: service connections, as az
// devops service-endpoint, plus verify (the portal's "Verify").
func (a *app) newServiceEndpointCommand() *cobra.Command {
	return group("service-endpoint", "Manage service connections (service endpoints)",
		a.newAzureRMCommand(),
		a.serviceEndpointList(), a.serviceEndpointShow(), a.serviceEndpointDelete(),
		a.serviceEndpointUpdate(), a.serviceEndpointVerify(),
	)
}

func serviceEndpointTable(v any) any {
	return tableColumns(v, []string{"ID", "id"}, []string{"Name", "name"}, []string{"Type", "type"},
		[]string{"Scheme", "authorization.scheme"}, []string{"Is Ready", "isReady"}, []string{"Created By", "createdBy.displayName"})
}

// endpointRef names one service connection: --id, or --name in the project.
type endpointRef struct {
	t    devopsTarget
	id   string
	name string
}

func (r *endpointRef) flags(f *pflag.FlagSet) {
	r.t.flags(f)
	f.StringVar(&r.id, "id", "", "ID of the service connection")
	f.StringVarP(&r.name, "name", "n", "", "Name of the service connection (instead of --id)")
}

// resolveEndpoint returns the client, organization, project and the connection's id.
func (a *app) resolveEndpoint(ctx context.Context, r endpointRef) (client.DevOps, string, string, string, error) {
	d, org, project, err := a.devopsProject(r.t)
	if err != nil {
		return d, "", "", "", err
	}
	switch {
	case r.id != "":
		return d, org, project, r.id, nil
	case r.name == "":
		return d, "", "", "", requiredError("--id (or --name)")
	}
	items, err := d.ServiceEndpoints(ctx, org, project, client.EndpointFilter{Names: []string{r.name}})
	if err != nil {
		return d, "", "", "", err
	}
	if len(items) == 0 {
		return d, "", "", "", notFoundf("Service connection %s could not be found in project %s.", r.name, project)
	}
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(items[0], &e); err != nil {
		return d, "", "", "", err
	}
	return d, org, project, e.ID, nil
}

func (a *app) serviceEndpointList() *cobra.Command {
	var t devopsTarget
	var typ string
	var schemes, names []string
	return a.command(leaf{
		use:   "list",
		short: "List the project's service connections",
		nargs: []string{"auth-schemes", "endpoint-names"},
		table: serviceEndpointTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.devopsProject(t)
			if err != nil {
				return nil, err
			}
			items, err := d.ServiceEndpoints(ctx, org, project, client.EndpointFilter{Type: typ, AuthSchemes: schemes, Names: names})
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, func(f *pflag.FlagSet) {
		t.flags(f)
		f.StringVar(&typ, "type", "", "Type of the service connections, e.g. azurerm")
		f.StringArrayVar(&schemes, "auth-schemes", nil, "Space-separated authorization schemes, e.g. WorkloadIdentityFederation")
		f.StringArrayVar(&names, "endpoint-names", nil, "Space-separated names of service connections")
	})
}

func (a *app) serviceEndpointShow() *cobra.Command {
	var r endpointRef
	return a.command(leaf{
		use:   "show",
		short: "Show a service connection (secrets are never shown)",
		table: serviceEndpointTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, id, err := a.resolveEndpoint(ctx, r)
			if err != nil {
				return nil, err
			}
			raw, err := d.ServiceEndpoint(ctx, org, project, id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, r.flags)
}

func (a *app) serviceEndpointDelete() *cobra.Command {
	var r endpointRef
	var yes bool
	return a.command(leaf{
		use:   "delete",
		short: "Delete a service connection from the project",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, id, err := a.resolveEndpoint(ctx, r)
			if err != nil {
				return nil, err
			}
			if !yes {
				if err := a.confirm("Are you sure you want to delete this service connection?"); err != nil {
					return nil, err
				}
			}
			projectID, err := projectIDOf(ctx, d, org, project)
			if err != nil {
				return nil, err
			}
			return nil, d.DeleteServiceEndpoint(ctx, org, id, []string{projectID})
		},
	}, func(f *pflag.FlagSet) {
		r.flags(f)
		f.BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation")
	})
}

// projectIDOf returns the id of a project given by name or id.
func projectIDOf(ctx context.Context, d client.DevOps, org, project string) (string, error) {
	raw, err := d.Project(ctx, org, project)
	if err != nil {
		return "", err
	}
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", err
	}
	return p.ID, nil
}

func (a *app) serviceEndpointUpdate() *cobra.Command {
	var r endpointRef
	var enableForAll string
	return a.command(leaf{
		use:   "update",
		short: "Update a service connection: grant or withdraw access for all pipelines",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if enableForAll == "" {
				return nil, usageErrorf("nothing to update: give --enable-for-all true or false")
			}
			all, err := parseBool("--enable-for-all", enableForAll)
			if err != nil {
				return nil, err
			}
			d, org, project, id, err := a.resolveEndpoint(ctx, r)
			if err != nil {
				return nil, err
			}
			if _, err := d.UpdatePipelinePermissions(ctx, org, project, "endpoint", id, client.PermissionUpdate{AllPipelines: &all}); err != nil {
				return nil, err
			}
			raw, err := d.ServiceEndpoint(ctx, org, project, id)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		r.flags(f)
		f.StringVar(&enableForAll, "enable-for-all", "", "Grant (true) or withdraw (false) access permission to all pipelines")
		f.Lookup("enable-for-all").NoOptDefVal = "true"
	})
}

func (a *app) serviceEndpointVerify() *cobra.Command {
	var r endpointRef
	return a.command(leaf{
		use:   "verify",
		short: "Verify a service connection: exchange its credential for a token and read its scope",
		long: `Verify a service connection as the portal's "Verify" does: the server exchanges the
connection's credential for an access token at the identity provider (for workload
identity federation, with a token of the organization's issuer for the connection's
subject) and reads the subscription or resource group the connection is scoped to.
A failure explains the identity provider's or ARM's error and exits with 1.`,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, id, err := a.resolveEndpoint(ctx, r)
			if err != nil {
				return nil, err
			}
			raw, err := d.VerifyServiceEndpoint(ctx, org, project, id)
			if err != nil {
				return nil, err
			}
			var res struct {
				StatusCode   string `json:"statusCode"`
				ErrorMessage string `json:"errorMessage"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return nil, err
			}
			if !strings.EqualFold(res.StatusCode, "ok") {
				msg := res.ErrorMessage
				if msg == "" {
					msg = "the server answered " + res.StatusCode
				}
				return nil, errorf("Verification of service connection %s failed: %s", id, msg)
			}
			return decodeJSON(raw)
		},
	}, r.flags)
}
