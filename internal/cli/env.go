package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newEnvCommand is `keystage env`: the environment an unmodified Azure SDK application
// needs to use this server — trust for its CA, its authority host and tenant, and with
// --identity the managed identity endpoint of a user-assigned identity, so that
// DefaultAzureCredential works without code changes.
func (a *app) newEnvCommand() *cobra.Command {
	var identity, grp string
	cmd := a.command(leaf{
		use:   "env",
		short: "Print the environment variables an Azure SDK application needs against this server",
		long: `Print 'export NAME=VALUE' lines for a POSIX shell (or, with -o json, an object):

  SSL_CERT_FILE          the server's CA certificate, so HTTPS clients trust it
  AZURE_AUTHORITY_HOST   the server, which is the identity provider
  AZURE_TENANT_ID        the signed-in tenant

With --identity NAME (and --resource-group), also the variables of an App-Service-style
managed identity endpoint for that user-assigned identity, which DefaultAzureCredential
and ManagedIdentityCredential use without code changes:

  IDENTITY_ENDPOINT      the server's managed identity endpoint
  IDENTITY_HEADER        a credential bound to the identity (keep it secret)
  AZURE_CLIENT_ID        the identity's client id

Vault host names (NAME.vault.localhost) must also resolve: see 'keystage hosts'.`,
		example: "  eval \"$(keystage env --identity MyIdentity -g MyResourceGroup)\"",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if _, err := a.signedIn(); err != nil {
				return nil, err
			}
			vars := []envVar{}
			if a.prof.CAFile != "" {
				ca, err := filepath.Abs(a.prof.CAFile)
				if err != nil {
					return nil, err
				}
				vars = append(vars, envVar{"SSL_CERT_FILE", ca})
			}
			vars = append(vars, envVar{"AZURE_AUTHORITY_HOST", a.prof.Server}, envVar{"AZURE_TENANT_ID", a.prof.TenantID})
			if identity != "" {
				path, err := a.identityPath(identity, grp)
				if err != nil {
					return nil, err
				}
				raw, err := a.client.ARM().Do(ctx, http.MethodPost, path+"/issueIdentityEndpointCredential", apiIdentity, nil)
				if err != nil {
					return nil, err
				}
				var cred struct {
					IdentityEndpoint string `json:"identityEndpoint"`
					IdentityHeader   string `json:"identityHeader"`
					ClientID         string `json:"clientId"`
				}
				if err := json.Unmarshal(raw, &cred); err != nil {
					return nil, fmt.Errorf("decode identity endpoint credential: %w", err)
				}
				if cred.IdentityEndpoint == "" || cred.IdentityHeader == "" || cred.ClientID == "" {
					return nil, errorf("the server's identity endpoint credential is incomplete")
				}
				vars = append(vars, envVar{"IDENTITY_ENDPOINT", cred.IdentityEndpoint}, envVar{"IDENTITY_HEADER", cred.IdentityHeader},
					envVar{"AZURE_CLIENT_ID", cred.ClientID})
			} else if grp != "" {
				return nil, usageErrorf("usage error: --resource-group needs --identity")
			}
			if cmd.Flags().Changed("output") {
				m := map[string]any{}
				for _, v := range vars {
					m[v.name] = v.value
				}
				return m, nil
			}
			for _, v := range vars {
				fmt.Fprintf(a.env.Stdout, "export %s=%s\n", v.name, shellQuote(v.value))
			}
			return nil, nil
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&identity, "identity", "", "Name of a user-assigned managed identity to get tokens as")
		f.StringVarP(&grp, "resource-group", "g", "", "Resource group of the identity; default 'config set defaults.group=…'")
	})
	a.addGlobalFlags(cmd)
	a.addSubscriptionFlag(cmd)
	return cmd
}

type envVar struct{ name, value string }

// shellQuote quotes s for a POSIX shell: bare when it is plainly safe, else in single
// quotes with embedded single quotes escaped.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
