package cli

import (
	"context"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newLoginCommand is `keystage login`: with no arguments it signs in with the local
// administrator credential the server wrote to its data directory; with
// --service-principal it signs in with an app's client secret.
func (a *app) newLoginCommand() *cobra.Command {
	var (
		sp, allowNoSubs                 bool
		username, password, tenant, srv string
		caFile, dataDir, vaultSuffix    string
	)
	cmd := a.command(leaf{
		use:   "login",
		short: "Log in to Keystage",
		long: `Log in to Keystage.

With no arguments, log in as the local administrator: the server writes that credential
(admin.json, mode 0600) and its CA certificate (ca.pem) to its data directory
($KEYSTAGE_DATA_DIR, default ~/.local/share/keystage; --data-dir to choose another).

With --service-principal, log in as an app registration with a client secret. The server
is --server, else $KEYSTAGE_URL, else the server of the previous login, else the local
server. Its CA certificate is --ca-file, else $SSL_CERT_FILE, else the local data
directory's ca.pem.

The CLI keeps its state in $KEYSTAGE_CONFIG_DIR (default ~/.keystage), files mode 0600.`,
		example: `  keystage login
  keystage login --service-principal -u APP_ID -p SECRET --tenant TENANT_ID --server https://keystage.example:8443`,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if !sp {
				if username != "" || password != "" {
					return nil, usageErrorf("usage error: --username and --password sign in a service principal: add --service-principal")
				}
				p, cred, err := a.localLogin(dataDir)
				if err != nil {
					return nil, err
				}
				if srv != "" {
					p.Server = srv
				}
				if caFile != "" {
					p.CAFile = caFile
				}
				p.VaultSuffix = vaultSuffix
				return a.login(ctx, p, cred, allowNoSubs)
			}
			var missing []string
			if username == "" {
				missing = append(missing, "--username/-u")
			}
			if password == "" {
				missing = append(missing, "--password/-p")
			}
			if tenant == "" {
				missing = append(missing, "--tenant/-t")
			}
			if len(missing) > 0 {
				return nil, requiredError(missing...)
			}
			p := profile{Server: srv, CAFile: caFile, TenantID: tenant, VaultSuffix: vaultSuffix}
			if p.Server == "" {
				p.Server = a.env.getenv("KEYSTAGE_URL")
			}
			local, _, localErr := a.localLogin(dataDir)
			if old, err := a.st.loadProfile(); err == nil && p.Server == "" {
				p.Server = old.Server
				if p.CAFile == "" {
					p.CAFile = old.CAFile
				}
			}
			if p.Server == "" && localErr == nil {
				p.Server = local.Server
			}
			if p.CAFile == "" && a.env.getenv("SSL_CERT_FILE") == "" && localErr == nil && strings.EqualFold(p.Server, local.Server) {
				p.CAFile = local.CAFile
			}
			if p.Server == "" {
				return nil, usageErrorf("no Keystage server known: pass --server https://HOST:PORT or set KEYSTAGE_URL")
			}
			if u, err := url.Parse(p.Server); err != nil || u.Scheme != "https" || u.Host == "" {
				return nil, usageErrorf("argument --server: %q is not an https:// URL", p.Server)
			}
			return a.login(ctx, p, secretCredential{ClientID: username, Secret: password}, allowNoSubs)
		},
	}, func(f *pflag.FlagSet) {
		f.BoolVar(&sp, "service-principal", false, "The credential is a service principal (app id and client secret)")
		f.StringVarP(&username, "username", "u", "", "Application (client) id of the service principal")
		f.StringVarP(&password, "password", "p", "", "Client secret of the service principal")
		f.StringVarP(&tenant, "tenant", "t", "", "Tenant id of the service principal")
		f.StringVar(&srv, "server", "", "Keystage server URL, e.g. https://localhost:8443 ($KEYSTAGE_URL)")
		f.StringVar(&caFile, "ca-file", "", "PEM file of the CA that signed the server's certificate ($SSL_CERT_FILE)")
		f.StringVar(&dataDir, "data-dir", "", "Data directory of a local server, for the administrator credential and ca.pem ($KEYSTAGE_DATA_DIR)")
		f.StringVar(&vaultSuffix, "vault-suffix", "", "DNS suffix of vault host names, if the server does not announce it ($KEYSTAGE_VAULT_SUFFIX; default vault.localhost)")
		f.BoolVar(&allowNoSubs, "allow-no-subscriptions", false, "Log in even if the principal can see no subscription")
	})
	a.addGlobalFlags(cmd)
	return cmd
}

// newLogoutCommand is `keystage logout`: it forgets the signed-in principal, its secret
// and its tokens.
func (a *app) newLogoutCommand() *cobra.Command {
	cmd := a.command(leaf{
		use:   "logout",
		short: "Log out to remove access to Keystage",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if _, err := a.st.loadProfile(); err != nil {
				return nil, errorf("There are no active accounts.")
			}
			return nil, a.st.remove(profileFile, credentialsFile, tokensFile)
		},
	}, nil)
	a.addGlobalFlags(cmd)
	return cmd
}
