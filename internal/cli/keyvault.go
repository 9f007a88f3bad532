package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newKeyvaultCommand is `keystage keyvault`: vaults, their access policies, and (below
// `secret`) the secrets in them.
func (a *app) newKeyvaultCommand() *cobra.Command {
	cmd := group("keyvault", "Manage Key Vaults and their secrets",
		a.keyvaultCreate(), a.keyvaultShow(), a.keyvaultList(), a.keyvaultUpdate(), a.keyvaultDelete(),
		a.keyvaultPurge(), a.keyvaultListDeleted(), a.keyvaultShowDeleted(), a.keyvaultRecover(),
		a.keyvaultSetPolicy(), a.keyvaultDeletePolicy(),
		a.newSecretCommand(), a.newAuditCommand())
	a.addGlobalFlags(cmd)
	return cmd
}

func (a *app) vaultsPath(sub string) string {
	return "/subscriptions/" + sub + "/providers/Microsoft.KeyVault"
}

// vaultID returns the resource id of vault name: in group when one is given (-g or
// defaults.group is not used here, as in az), else found among the subscription's vaults.
func (a *app) vaultID(ctx context.Context, name, group string) (string, error) {
	if name == "" {
		return "", requiredError("--name/-n")
	}
	sub, err := a.subscriptionID()
	if err != nil {
		return "", err
	}
	if group != "" {
		return "/subscriptions/" + sub + "/resourceGroups/" + pathEscape(group) + "/providers/Microsoft.KeyVault/vaults/" + pathEscape(name), nil
	}
	items, err := a.client.ARM().List(ctx, a.vaultsPath(sub)+"/vaults", apiKeyVault)
	if err != nil {
		return "", err
	}
	for _, raw := range items {
		var v struct{ ID, Name string }
		if json.Unmarshal(raw, &v) == nil && strings.EqualFold(v.Name, name) {
			return v.ID, nil
		}
	}
	return "", notFoundf("The Vault '%s' not found within subscription.", name)
}

func vaultNameFlags(name, group *string) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) {
		f.StringVarP(name, "name", "n", "", "Name of the Key Vault")
		f.StringVarP(group, "resource-group", "g", "", "Resource group of the vault; found from the name when omitted")
	}
}

func (a *app) keyvaultCreate() *cobra.Command {
	var name, grp, location, sku, rbac string
	var retention int
	var purgeProtection, noSelfPerms bool
	var tags []string
	cmd := a.command(leaf{
		use:     "create",
		short:   "Create a Key Vault",
		example: "  keystage keyvault create --name MyVault --resource-group MyResourceGroup",
		nargs:   []string{"tags"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--name/-n")
			}
			g, err := a.requireGroup(grp)
			if err != nil {
				return nil, err
			}
			t, err := parseTags(tags)
			if err != nil {
				return nil, err
			}
			enableRBAC := false
			if rbac != "" {
				if enableRBAC, err = parseBool("--enable-rbac-authorization", rbac); err != nil {
					return nil, err
				}
			}
			if sku = strings.ToLower(sku); sku != "standard" && sku != "premium" {
				return nil, usageErrorf("argument --sku: invalid choice: '%s' (choose from 'premium', 'standard')", sku)
			}
			if retention < 7 || retention > 90 {
				return nil, usageErrorf("argument --retention-days: must be between 7 and 90")
			}
			sub, err := a.subscriptionID()
			if err != nil {
				return nil, err
			}
			groupPath := "/subscriptions/" + sub + "/resourcegroups/" + pathEscape(g)
			id := groupPath + "/providers/Microsoft.KeyVault/vaults/" + pathEscape(name)
			if _, err := a.client.ARM().Get(ctx, id, apiKeyVault); err == nil {
				return nil, errorf("The specified vault: %s already exists", name)
			} else if !isNotFound(err) {
				return nil, err
			}
			loc, err := a.locationFor(ctx, location, g)
			if err != nil {
				return nil, err
			}
			props := map[string]any{
				"tenantId":                  a.prof.TenantID,
				"sku":                       map[string]any{"family": "A", "name": sku},
				"enableRbacAuthorization":   enableRBAC,
				"enableSoftDelete":          true,
				"softDeleteRetentionInDays": retention,
				"accessPolicies":            []any{},
			}
			if purgeProtection {
				props["enablePurgeProtection"] = true
			}
			if !enableRBAC && !noSelfPerms && a.prof.ObjectID != "" {
				perms := map[string]any{}
				for cat, ps := range defaultCreatorPolicy {
					perms[cat] = toAnyList(ps)
				}
				props["accessPolicies"] = []any{map[string]any{"tenantId": a.prof.TenantID, "objectId": a.prof.ObjectID, "permissions": perms}}
			}
			body := map[string]any{"location": loc, "properties": props}
			if t != nil {
				body["tags"] = t
			}
			raw, err := a.client.ARM().Put(ctx, id, apiKeyVault, body)
			if err != nil {
				return nil, err
			}
			return armResult(raw)
		},
	}, func(f *pflag.FlagSet) {
		vaultNameFlags(&name, &grp)(f)
		f.Lookup("resource-group").Usage = "Name of resource group; default 'config set defaults.group=…'"
		f.StringVarP(&location, "location", "l", "", "Location; default 'config set defaults.location=…', else the group's location")
		f.StringVar(&sku, "sku", "standard", "SKU: standard or premium")
		f.IntVar(&retention, "retention-days", 90, "Soft-delete retention in days, 7 to 90")
		f.BoolVar(&purgeProtection, "enable-purge-protection", false, "Forbid purging deleted vaults and secrets until retention ends (irreversible)")
		f.StringVar(&rbac, "enable-rbac-authorization", "", "Authorize data actions with RBAC instead of access policies (true/false; default false)")
		f.Lookup("enable-rbac-authorization").NoOptDefVal = "true"
		f.BoolVar(&noSelfPerms, "no-self-perms", false, "Do not give the signed-in principal an access policy")
		f.StringArrayVar(&tags, "tags", nil, "Space-separated tags: key[=value] [key[=value] ...]")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) keyvaultShow() *cobra.Command {
	var name, grp string
	cmd := a.command(leaf{
		use:   "show",
		short: "Show details of a Key Vault",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			id, err := a.vaultID(ctx, name, grp)
			if err != nil {
				return nil, err
			}
			raw, err := a.client.ARM().Get(ctx, id, apiKeyVault)
			if err != nil {
				return nil, err
			}
			return armResult(raw)
		},
	}, vaultNameFlags(&name, &grp))
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) keyvaultList() *cobra.Command {
	var grp string
	cmd := a.command(leaf{
		use:   "list",
		short: "List Key Vaults of the subscription or of a resource group",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			sub, err := a.subscriptionID()
			if err != nil {
				return nil, err
			}
			path := a.vaultsPath(sub) + "/vaults"
			if grp != "" {
				path = "/subscriptions/" + sub + "/resourceGroups/" + pathEscape(grp) + "/providers/Microsoft.KeyVault/vaults"
			}
			items, err := a.client.ARM().List(ctx, path, apiKeyVault)
			if err != nil {
				return nil, err
			}
			return armList(items)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&grp, "resource-group", "g", "", "Resource group; all of the subscription's vaults when omitted")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) keyvaultDelete() *cobra.Command {
	var name, grp string
	cmd := a.command(leaf{
		use:   "delete",
		short: "Delete a Key Vault (it stays recoverable until its retention ends or it is purged)",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			id, err := a.vaultID(ctx, name, grp)
			if err != nil {
				return nil, err
			}
			return nil, a.client.ARM().Delete(ctx, id, apiKeyVault)
		},
	}, vaultNameFlags(&name, &grp))
	a.addSubscriptionFlag(cmd)
	return cmd
}

// deletedVault finds a soft-deleted vault by name (and location when given).
func (a *app) deletedVault(ctx context.Context, name, location string) (map[string]any, error) {
	if name == "" {
		return nil, requiredError("--name/-n")
	}
	sub, err := a.subscriptionID()
	if err != nil {
		return nil, err
	}
	if location != "" {
		raw, err := a.client.ARM().Get(ctx, a.vaultsPath(sub)+"/locations/"+pathEscape(location)+"/deletedVaults/"+pathEscape(name), apiKeyVault)
		if err != nil {
			return nil, err
		}
		v, err := decodeJSON(raw)
		m, _ := v.(map[string]any)
		return m, err
	}
	items, err := a.client.ARM().List(ctx, a.vaultsPath(sub)+"/deletedVaults", apiKeyVault)
	if err != nil {
		return nil, err
	}
	list, err := decodeList(items)
	if err != nil {
		return nil, err
	}
	for _, v := range list {
		m, _ := v.(map[string]any)
		if n, _ := m["name"].(string); strings.EqualFold(n, name) {
			return m, nil
		}
	}
	return nil, notFoundf("No deleted Vault or HSM was found with name %s", name)
}

func deletedVaultNameFlags(name, location *string) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) {
		f.StringVarP(name, "name", "n", "", "Name of the deleted Key Vault")
		f.StringVarP(location, "location", "l", "", "Location of the deleted vault; found from the name when omitted")
	}
}

func (a *app) keyvaultPurge() *cobra.Command {
	var name, location string
	var noWait bool
	cmd := a.command(leaf{
		use:   "purge",
		short: "Permanently delete a soft-deleted Key Vault",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			dv, err := a.deletedVault(ctx, name, location)
			if err != nil {
				return nil, err
			}
			loc, _ := lookupPath(dv, "properties.location").(string)
			sub, _ := a.subscriptionID()
			path := a.vaultsPath(sub) + "/locations/" + pathEscape(loc) + "/deletedVaults/" + pathEscape(name) + "/purge"
			if noWait {
				_, err = a.client.ARM().Start(ctx, http.MethodPost, path, apiKeyVault, nil)
			} else {
				_, err = a.client.ARM().Do(ctx, http.MethodPost, path, apiKeyVault, nil)
			}
			return nil, err
		},
	}, func(f *pflag.FlagSet) {
		deletedVaultNameFlags(&name, &location)(f)
		f.BoolVar(&noWait, "no-wait", false, "Do not wait for the purge to finish")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) keyvaultListDeleted() *cobra.Command {
	var resourceType string
	cmd := a.command(leaf{
		use:   "list-deleted",
		short: "List soft-deleted Key Vaults of the subscription",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if !strings.EqualFold(resourceType, "vault") {
				return nil, usageErrorf("argument --resource-type: Keystage has no managed HSMs: only 'vault' is supported, not '%s'", resourceType)
			}
			sub, err := a.subscriptionID()
			if err != nil {
				return nil, err
			}
			items, err := a.client.ARM().List(ctx, a.vaultsPath(sub)+"/deletedVaults", apiKeyVault)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&resourceType, "resource-type", "vault", "Type of the deleted resources: vault (Keystage has no managed HSMs)")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) keyvaultShowDeleted() *cobra.Command {
	var name, location string
	cmd := a.command(leaf{
		use:   "show-deleted",
		short: "Show details of a soft-deleted Key Vault",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			return a.deletedVault(ctx, name, location)
		},
	}, deletedVaultNameFlags(&name, &location))
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) keyvaultRecover() *cobra.Command {
	var name, grp, location string
	cmd := a.command(leaf{
		use:   "recover",
		short: "Recover a soft-deleted Key Vault",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			dv, err := a.deletedVault(ctx, name, location)
			if err != nil {
				return nil, err
			}
			vaultID, _ := lookupPath(dv, "properties.vaultId").(string)
			if grp != "" && !strings.EqualFold(resourceGroupOf(vaultID), grp) {
				return nil, errorf("The resource group '%s' does not match the deleted vault's resource group '%s'.", grp, resourceGroupOf(vaultID))
			}
			loc, _ := lookupPath(dv, "properties.location").(string)
			body := map[string]any{
				"location": loc,
				"properties": map[string]any{
					"tenantId":   a.prof.TenantID,
					"sku":        map[string]any{"family": "A", "name": "standard"},
					"createMode": "recover",
				},
			}
			if tags, ok := lookupPath(dv, "properties.tags").(map[string]any); ok && len(tags) > 0 {
				body["tags"] = tags
			}
			if vaultID == "" {
				return nil, fmt.Errorf("the deleted vault %s has no vaultId", name)
			}
			raw, err := a.client.ARM().Put(ctx, vaultID, apiKeyVault, body)
			if err != nil {
				return nil, err
			}
			return armResult(raw)
		},
	}, func(f *pflag.FlagSet) {
		deletedVaultNameFlags(&name, &location)(f)
		f.StringVarP(&grp, "resource-group", "g", "", "Resource group of the deleted vault (checked when given)")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}
