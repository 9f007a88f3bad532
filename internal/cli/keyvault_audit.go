package cli

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newAuditCommand is `keystage keyvault audit`: the vault's audit trail of data-plane
// calls (who, what, which secret, result; never a value), served by Keystage at
// /keystage/keyvault/vaults/{vault}/auditEvents to callers with read access to the vault.
func (a *app) newAuditCommand() *cobra.Command {
	var vault, secret, principal, operation, since, until string
	var status, top int
	list := a.command(leaf{
		use:     "list",
		short:   "List a vault's audit events, oldest first",
		example: "  keystage keyvault audit list --vault-name MyVault --since 1h -o table\n  keystage keyvault audit list --vault-name MyVault --secret-name DbPassword --status 403",
		table: func(v any) any {
			return tableColumns(v, []string{"Time", "time"}, []string{"Operation", "operation"}, []string{"SecretName", "secretName"},
				[]string{"Status", "status"}, []string{"ObjectId", "objectId"}, []string{"AppId", "appId"})
		},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if vault == "" {
				return nil, requiredError("--vault-name")
			}
			c, err := a.signedIn()
			if err != nil {
				return nil, err
			}
			q := url.Values{}
			for _, p := range []struct{ flag, name, val string }{{"--since", "since", since}, {"--until", "until", until}} {
				if p.val == "" {
					continue
				}
				t, err := parseSince(p.flag, p.val, time.Now())
				if err != nil {
					return nil, err
				}
				q.Set(p.name, t.Format(time.RFC3339Nano))
			}
			for k, v := range map[string]string{"secretName": secret, "principal": principal, "operation": operation} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if status != 0 {
				q.Set("status", strconv.Itoa(status))
			}
			if top != 0 {
				q.Set("top", strconv.Itoa(top))
			}
			path := "/keystage/keyvault/vaults/" + pathEscape(vault) + "/auditEvents"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			items, err := c.ARM().List(ctx, path, "")
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&vault, "vault-name", "", "Name of the Key Vault")
		f.StringVarP(&secret, "secret-name", "n", "", "Only events about this secret")
		f.StringVar(&principal, "principal", "", "Only events of this caller (object id or app id)")
		f.StringVar(&operation, "operation", "", "Only this operation, e.g. SecretGet, SecretSet, SecretDelete")
		f.IntVar(&status, "status", 0, "Only events with this HTTP status, e.g. 403")
		f.StringVar(&since, "since", "", "Events at or after this UTC time (2030-12-31T23:59:59Z) or this long ago (1h, 30m)")
		f.StringVar(&until, "until", "", "Events before this UTC time or this long ago")
		f.IntVar(&top, "top", 0, "Events per page requested from the server (1 to 1000)")
	})
	return group("audit", "Query a vault's audit trail of data-plane calls", list)
}

// parseSince parses a time argument: an absolute UTC time as parseDate accepts, or a Go
// duration meaning that long before now.
func parseSince(flag, s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return parseDate(flag, s)
}
