package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// Azure Resource Manager service connection schemes.
const (
	schemeWIF              = "WorkloadIdentityFederation"
	schemeServicePrincipal = "ServicePrincipal"
	schemeManagedIdentity  = "ManagedServiceIdentity"
)

// envServicePrincipalKey is where az devops reads a service principal's key from, so that
// it never appears on a command line.
const envServicePrincipalKey = "AZURE_DEVOPS_EXT_AZURE_RM_SERVICE_PRINCIPAL_KEY"

func (a *app) newAzureRMCommand() *cobra.Command {
	return group("azurerm", "Manage Azure Resource Manager service connections", a.azureRMCreate())
}

// azureRM holds the flags of `service-endpoint azurerm create`.
type azureRM struct {
	t                devopsTarget
	name             string
	description      string
	scheme           string
	subscriptionID   string
	subscriptionName string
	tenantID         string
	clientID         string
	resourceGroup    string
	enableForAll     bool
}

func (a *app) azureRMCreate() *cobra.Command {
	var r azureRM
	return a.command(leaf{
		use:   "create",
		short: "Create an Azure Resource Manager service connection",
		long: `Create an Azure Resource Manager service connection scoped to a subscription (or one
of its resource groups), with one of three credentials (--azure-rm-scheme):

  WorkloadIdentityFederation (default)  an app registration or user-assigned managed
      identity trusts the organization's token issuer: the answer's
      authorization.parameters.workloadIdentityFederationIssuer and
      ...Subject are what its federated credential must name (audience
      api://AzureADTokenExchange). No secret is stored.
  ServicePrincipal    an app registration's client secret, read from
      $AZURE_DEVOPS_EXT_AZURE_RM_SERVICE_PRINCIPAL_KEY or prompted for; the
      server keeps it and never returns it.
  ManagedServiceIdentity   a Keystage user-assigned managed identity; jobs get its
      tokens from the server.

--azure-rm-service-principal-id is the client (application) id of the app registration
or managed identity. Then grant the identity what the pipeline needs (e.g. Reader on the
subscription, a vault access policy) and run 'keystage devops service-endpoint verify'.`,
		example: `  keystage devops service-endpoint azurerm create --name sc-tutorial \
    --azure-rm-service-principal-id $APP_ID --azure-rm-subscription-id $SUB \
    --azure-rm-subscription-name "Keystage subscription" --azure-rm-tenant-id $TENANT`,
		table: serviceEndpointTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			return a.createAzureRM(ctx, r)
		},
	}, func(f *pflag.FlagSet) {
		r.t.flags(f)
		f.StringVarP(&r.name, "name", "n", "", "Name of the service connection")
		f.StringVarP(&r.description, "description", "d", "", "Description of the service connection")
		f.StringVar(&r.scheme, "azure-rm-scheme", "", "Credential: WorkloadIdentityFederation (default), ServicePrincipal or ManagedServiceIdentity")
		f.StringVar(&r.subscriptionID, "azure-rm-subscription-id", "", "ID of the subscription; default your default subscription")
		f.StringVar(&r.subscriptionName, "azure-rm-subscription-name", "", "Name of the subscription; default its name in your account")
		f.StringVar(&r.tenantID, "azure-rm-tenant-id", "", "Tenant (directory) ID of the identity; default your tenant")
		f.StringVar(&r.clientID, "azure-rm-service-principal-id", "", "Client (application) ID of the app registration or user-assigned managed identity")
		f.StringVar(&r.resourceGroup, "azure-rm-resource-group", "", "Scope the connection to this resource group of the subscription")
		f.BoolVar(&r.enableForAll, "enable-for-all", false, "Grant access permission to all pipelines")
	})
}

func (a *app) createAzureRM(ctx context.Context, r azureRM) (any, error) {
	if r.name == "" {
		return nil, requiredError("--name/-n")
	}
	scheme, err := azureRMScheme(r.scheme)
	if err != nil {
		return nil, err
	}
	if r.clientID == "" {
		return nil, requiredError("--azure-rm-service-principal-id")
	}
	d, org, project, err := a.devopsProject(r.t)
	if err != nil {
		return nil, err
	}
	// Signed in, the subscription and tenant default to the account's; with only a
	// personal access token they must be given.
	subID, subName, tenant := r.subscriptionID, r.subscriptionName, r.tenantID
	if a.prof != nil {
		sub, err := a.findSubscription(r.subscriptionID)
		if err != nil && r.subscriptionID == "" {
			return nil, err
		}
		if err == nil {
			subID = sub.ID
			if subName == "" {
				subName = sub.Name
			}
		}
		if tenant == "" {
			tenant = a.prof.TenantID
		}
	}
	switch {
	case subID == "":
		return nil, requiredError("--azure-rm-subscription-id")
	case tenant == "":
		return nil, requiredError("--azure-rm-tenant-id")
	}
	if subName == "" {
		subName = subID
	}
	params := map[string]string{"tenantid": tenant, "serviceprincipalid": r.clientID}
	data := map[string]string{
		"subscriptionId": subID, "subscriptionName": subName, "environment": "AzureCloud",
		"scopeLevel": "Subscription", "creationMode": "Manual",
	}
	if r.resourceGroup != "" {
		data["scopeLevel"] = "ResourceGroup"
		data["resourceGroupName"] = r.resourceGroup
		params["scope"] = "/subscriptions/" + subID + "/resourcegroups/" + r.resourceGroup
	}
	if scheme == schemeServicePrincipal {
		key, err := a.servicePrincipalKey()
		if err != nil {
			return nil, err
		}
		params["authenticationType"] = "spnKey"
		params["serviceprincipalkey"] = key
	}
	ref := map[string]string{"name": project}
	if _, err := uuid.Parse(project); err == nil {
		ref = map[string]string{"id": project}
	}
	body := map[string]any{
		"name": r.name, "type": "AzureRM", "owner": "library", "description": r.description,
		"authorization": map[string]any{"scheme": scheme, "parameters": params},
		"data":          data,
		"serviceEndpointProjectReferences": []any{map[string]any{
			"projectReference": ref, "name": r.name, "description": r.description,
		}},
	}
	raw, err := d.CreateServiceEndpoint(ctx, org, body)
	if err != nil {
		return nil, err
	}
	var e struct {
		ID            string `json:"id"`
		Authorization struct {
			Parameters map[string]*string `json:"parameters"`
		} `json:"authorization"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("decode service connection: %w", err)
	}
	if r.enableForAll {
		all := true
		if _, err := d.UpdatePipelinePermissions(ctx, org, project, "endpoint", e.ID, client.PermissionUpdate{AllPipelines: &all}); err != nil {
			return nil, fmt.Errorf("service connection %s was created, but granting access to all pipelines failed: %w", e.ID, err)
		}
	}
	if scheme == schemeWIF {
		issuer, subject := deref(e.Authorization.Parameters["workloadIdentityFederationIssuer"]), deref(e.Authorization.Parameters["workloadIdentityFederationSubject"])
		a.warn("Add a federated credential to the app registration or managed identity %s with issuer %s, subject %s and audience api://AzureADTokenExchange, then run 'keystage devops service-endpoint verify --id %s'.",
			r.clientID, issuer, subject, e.ID)
	}
	return decodeJSON(raw)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// azureRMScheme canonicalizes --azure-rm-scheme.
func azureRMScheme(s string) (string, error) {
	for _, v := range []string{schemeWIF, schemeServicePrincipal, schemeManagedIdentity} {
		if s == "" {
			return schemeWIF, nil
		}
		if strings.EqualFold(s, v) {
			return v, nil
		}
	}
	return "", usageErrorf("argument --azure-rm-scheme: invalid choice: '%s' (choose from '%s', '%s', '%s')", s, schemeWIF, schemeServicePrincipal, schemeManagedIdentity)
}

// servicePrincipalKey reads the key from the environment, as az devops does, or asks for
// it on standard input.
func (a *app) servicePrincipalKey() (string, error) {
	if k := a.env.getenv(envServicePrincipalKey); k != "" {
		return k, nil
	}
	if a.env.Stdin == nil {
		return "", usageErrorf("set %s to the service principal's key", envServicePrincipalKey)
	}
	fmt.Fprint(a.env.Stderr, "Azure RM service principal key: ")
	line, err := bufio.NewReader(a.env.Stdin).ReadString('\n')
	key := strings.TrimRight(line, "\r\n")
	if key == "" {
		if err != nil {
			return "", usageErrorf("no service principal key: set %s or type it on standard input", envServicePrincipalKey)
		}
		return "", usageErrorf("the service principal key is empty")
	}
	return key, nil
}
