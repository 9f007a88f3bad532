package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// policyTarget is the principal set-policy and delete-policy act on.
type policyTarget struct {
	objectID, spn, upn, appID string
}

func (t *policyTarget) flags(f *pflag.FlagSet) {
	f.StringVar(&t.objectID, "object-id", "", "Object id of a user, service principal or managed identity")
	f.StringVar(&t.spn, "spn", "", "Name (app id) of a service principal")
	f.StringVar(&t.upn, "upn", "", "Name of a user principal")
	f.StringVar(&t.appID, "application-id", "", "Application id of a compound identity (the app acting for --object-id)")
}

// resolvePolicyTarget returns the object id the policy is for.
func (a *app) resolvePolicyTarget(ctx context.Context, t policyTarget) (string, error) {
	n := 0
	for _, s := range []string{t.objectID, t.spn, t.upn} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return "", usageErrorf("specify exactly one: --object-id, --spn, --upn")
	}
	switch {
	case t.objectID != "":
		return t.objectID, nil
	case t.upn != "":
		return "", errorf("--upn: Keystage has no users; use --object-id or --spn")
	}
	sp, err := a.findServicePrincipal(ctx, t.spn)
	if err != nil {
		return "", err
	}
	id, _ := sp["id"].(string)
	return id, nil
}

// vaultForPolicy reads a vault and refuses RBAC vaults with az's message.
func (a *app) vaultForPolicy(ctx context.Context, name, grp string) (string, map[string]any, error) {
	id, err := a.vaultID(ctx, name, grp)
	if err != nil {
		return "", nil, err
	}
	raw, err := a.client.ARM().Get(ctx, id, apiKeyVault)
	if err != nil {
		return "", nil, err
	}
	var vault map[string]any
	if err := json.Unmarshal(raw, &vault); err != nil {
		return "", nil, err
	}
	if rbac, _ := lookupPath(vault, "properties.enableRbacAuthorization").(bool); rbac {
		return "", nil, errorf("Cannot set policies to a vault with '--enable-rbac-authorization' specified")
	}
	return id, vault, nil
}

// putVaultPolicies writes the vault back with new access policies, as az does (a PUT of
// the whole vault).
func (a *app) putVaultPolicies(ctx context.Context, id string, vault map[string]any, policies []any) (any, error) {
	props, _ := vault["properties"].(map[string]any)
	props = cloneMap(props)
	props["accessPolicies"] = policies
	body := map[string]any{"location": vault["location"], "properties": props}
	if tags, ok := vault["tags"]; ok && tags != nil {
		body["tags"] = tags
	}
	raw, err := a.client.ARM().Put(ctx, id, apiKeyVault, body)
	if err != nil {
		return nil, err
	}
	return armResult(raw)
}

func (a *app) keyvaultSetPolicy() *cobra.Command {
	var name, grp string
	var target policyTarget
	perms := map[string]*[]string{}
	flagOf := map[string]string{"keys": "key-permissions", "secrets": "secret-permissions", "certificates": "certificate-permissions", "storage": "storage-permissions"}
	cmd := a.command(leaf{
		use:     "set-policy",
		short:   "Update the security policy of a Key Vault for a principal",
		long:    "Update the access policy of a Key Vault for a principal: the categories given replace that principal's previous permissions in them; other categories keep theirs. Vaults with RBAC authorization have no access policies.",
		example: "  keystage keyvault set-policy --name MyVault --object-id OBJECT_ID --secret-permissions get list",
		nargs:   []string{"key-permissions", "secret-permissions", "certificate-permissions", "storage-permissions"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			given := map[string][]string{}
			for _, cat := range policyCategories {
				if !cmd.Flags().Changed(flagOf[cat]) {
					continue
				}
				ps, err := normalizePermissions(cat, "--"+flagOf[cat], *perms[cat])
				if err != nil {
					return nil, err
				}
				given[cat] = ps
			}
			if len(given) == 0 {
				return nil, usageErrorf("specify at least one: --key-permissions, --secret-permissions, --certificate-permissions --storage-permissions")
			}
			oid, err := a.resolvePolicyTarget(ctx, target)
			if err != nil {
				return nil, err
			}
			id, vault, err := a.vaultForPolicy(ctx, name, grp)
			if err != nil {
				return nil, err
			}
			tenant, _ := lookupPath(vault, "properties.tenantId").(string)
			policies, _ := lookupPath(vault, "properties.accessPolicies").([]any)
			merged, err := mergePolicy(policies, tenant, oid, target.appID, given)
			if err != nil {
				return nil, err
			}
			return a.putVaultPolicies(ctx, id, vault, merged)
		},
	}, func(f *pflag.FlagSet) {
		vaultNameFlags(&name, &grp)(f)
		target.flags(f)
		for _, cat := range policyCategories {
			list := new([]string)
			perms[cat] = list
			f.StringArrayVar(list, flagOf[cat], nil, "Space-separated "+cat+" permissions to grant: "+strings.Join(policyPermissions[cat], ", "))
		}
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) keyvaultDeletePolicy() *cobra.Command {
	var name, grp string
	var target policyTarget
	cmd := a.command(leaf{
		use:   "delete-policy",
		short: "Delete the security policy of a principal from a Key Vault",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			oid, err := a.resolvePolicyTarget(ctx, target)
			if err != nil {
				return nil, err
			}
			id, vault, err := a.vaultForPolicy(ctx, name, grp)
			if err != nil {
				return nil, err
			}
			tenant, _ := lookupPath(vault, "properties.tenantId").(string)
			policies, _ := lookupPath(vault, "properties.accessPolicies").([]any)
			rest, ok := removePolicy(policies, tenant, oid, target.appID)
			if !ok {
				return nil, errorf("No matching policies found")
			}
			return a.putVaultPolicies(ctx, id, vault, rest)
		},
	}, func(f *pflag.FlagSet) {
		vaultNameFlags(&name, &grp)(f)
		target.flags(f)
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}
