package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// keyvaultUpdate is `keyvault update`: it changes a vault's permission model, purge
// protection, SKU or tags with a PATCH of the properties given.
func (a *app) keyvaultUpdate() *cobra.Command {
	var name, grp, rbac, purge, sku string
	var tags []string
	cmd := a.command(leaf{
		use:     "update",
		short:   "Update the properties of a Key Vault",
		example: "  keystage keyvault update --name MyVault --enable-rbac-authorization true",
		nargs:   []string{"tags"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			props := map[string]any{}
			if rbac != "" {
				b, err := parseBool("--enable-rbac-authorization", rbac)
				if err != nil {
					return nil, err
				}
				props["enableRbacAuthorization"] = b
			}
			if purge != "" {
				b, err := parseBool("--enable-purge-protection", purge)
				if err != nil {
					return nil, err
				}
				if !b {
					return nil, usageErrorf("argument --enable-purge-protection: purge protection cannot be turned off once enabled")
				}
				props["enablePurgeProtection"] = true
			}
			if sku != "" {
				if sku != "standard" && sku != "premium" {
					return nil, usageErrorf("argument --sku: invalid choice: '%s' (choose from 'premium', 'standard')", sku)
				}
				props["sku"] = map[string]any{"family": "A", "name": sku}
			}
			t, err := parseTags(tags)
			if err != nil {
				return nil, err
			}
			if len(props) == 0 && t == nil {
				return nil, usageErrorf("usage error: give at least one of --enable-rbac-authorization, --enable-purge-protection, --sku, --tags")
			}
			id, err := a.vaultID(ctx, name, grp)
			if err != nil {
				return nil, err
			}
			body := map[string]any{}
			if len(props) > 0 {
				body["properties"] = props
			}
			if t != nil {
				body["tags"] = t
			}
			raw, err := a.client.ARM().Do(ctx, http.MethodPatch, id, apiKeyVault, body)
			if err != nil {
				return nil, err
			}
			return armResult(raw)
		},
	}, func(f *pflag.FlagSet) {
		vaultNameFlags(&name, &grp)(f)
		f.StringVar(&rbac, "enable-rbac-authorization", "", "Authorize data actions with RBAC (true) or access policies (false)")
		f.Lookup("enable-rbac-authorization").NoOptDefVal = "true"
		f.StringVar(&purge, "enable-purge-protection", "", "Turn purge protection on (irreversible)")
		f.Lookup("enable-purge-protection").NoOptDefVal = "true"
		f.StringVar(&sku, "sku", "", "SKU: standard or premium")
		f.StringArrayVar(&tags, "tags", nil, `Space-separated tags: key[=value] [key[=value] ...]. Use "" to clear existing tags`)
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}
