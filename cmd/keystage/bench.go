package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/loadgen"
	"github.com/keystage/keystage/internal/server"
)

// newBenchCommand is `keystage bench`: load commands against a running server.
func newBenchCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a running Keystage server",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchSecretsCommand(stdout, getenv))
	return cmd
}

func newBenchSecretsCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var (
		serverURL, vault, vaultSuffix, vaultURL, connect string
		dataDir, caFile, token, op, secret, apiVersion   string
		connections                                      []int
		duration, warmup                                 time.Duration
		valueSize                                        int
		asJSON                                           bool
	)
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Drive a vault's secrets API over HTTPS and report requests/s and p50/p99 latency",
		Long: `Drive a vault's secrets API over HTTPS with keep-alive connections (HTTP/1.1, one
request in flight per connection) and report requests per second and p50/p99 latency
for get-latest (GET /secrets/{name}/) and set (PUT /secrets/{name}) at each connection
count.

The vault is https://VAULT.SUFFIX:PORT, with the port of --url; connections go to the
host of --url, so the vault name needs no DNS entry. The token comes from --token,
or from the administrator credential in the data directory (admin.json) through the
vault's challenge and the identity provider's token endpoint.

The server throttles each vault to Azure's 4,000 requests per 10 s unless started with
--keyvault-throttle off; throttled requests are reported as errors (429).`,
		Example: `  keystage bench secrets --url https://localhost:8443 --vault bench
  keystage bench secrets --url https://localhost:8443 --vault bench --op get --connections 64 --duration 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var admin datadir.AdminCredential
			if token == "" {
				var err error
				if admin, err = datadir.ReadAdminCredential(dataDir); err != nil {
					return fmt.Errorf("no --token, and %w", err)
				}
				if serverURL == "" {
					serverURL = admin.URL
				}
				if caFile == "" {
					caFile = admin.CAFile
				}
			}
			if caFile == "" {
				caFile = filepath.Join(dataDir, datadir.CAFile)
			}
			roots, err := loadRoots(caFile)
			if err != nil {
				return err
			}
			if vaultURL == "" {
				if vault == "" || serverURL == "" {
					return errors.New("give --vault and --url (the server's URL), or --vault-url")
				}
				u, err := url.Parse(serverURL)
				if err != nil || u.Host == "" {
					return fmt.Errorf("--url %q is not a URL", serverURL)
				}
				port := u.Port()
				if port == "" {
					port = "443"
				}
				vaultURL = "https://" + vault + "." + vaultSuffix + ":" + port
				if connect == "" {
					connect = net.JoinHostPort(u.Hostname(), port)
				}
			}
			tokens := loadgen.StaticToken(token)
			if token == "" {
				ch, err := loadgen.DiscoverChallenge(ctx, vaultURL, connect, roots)
				if err != nil {
					return err
				}
				tokens = loadgen.ClientSecretToken(ch, admin.ClientID, admin.ClientSecret, roots)
			}
			ops := []string{loadgen.OpGet, loadgen.OpSet}
			if op != "both" {
				ops = []string{op}
			}
			var all []loadgen.Result
			for _, o := range ops {
				res, err := loadgen.Run(ctx, loadgen.Config{
					VaultURL: vaultURL, Connect: connect, RootCAs: roots, Token: tokens, Op: o,
					Connections: connections, Duration: duration, Warmup: warmup,
					Secret: secret, ValueSize: valueSize, APIVersion: apiVersion,
				})
				all = append(all, res...)
				if err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(all)
			}
			fmt.Fprintf(stdout, "%s, %s per level after %s warm-up, %d-byte values\n", vaultURL, duration, warmup, valueSize)
			return loadgen.WriteTable(stdout, all)
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "url", getenv("KEYSTAGE_URL"), "the server's URL, e.g. https://localhost:8443 (default: from admin.json)")
	f.StringVar(&vault, "vault", "", "the vault to drive (it must exist, and the caller needs secrets get and set on it)")
	f.StringVar(&vaultSuffix, "vault-suffix", envOr(getenv, "KEYSTAGE_VAULT_SUFFIX", server.DefaultVaultSuffix), "DNS suffix of vault host names")
	f.StringVar(&vaultURL, "vault-url", "", "the vault URL, instead of --vault and --url")
	f.StringVar(&connect, "connect", "", "host:port to connect to instead of the vault host (default: the host of --url)")
	f.StringVar(&dataDir, "data-dir", datadir.Default(getenv), "data directory with admin.json and ca.pem")
	f.StringVar(&caFile, "ca-file", "", "CA certificate (PEM) to trust (default: the data directory's)")
	f.StringVar(&token, "token", getenv("KEYSTAGE_BENCH_TOKEN"), "bearer token for the vault, instead of the administrator credential (KEYSTAGE_BENCH_TOKEN)")
	f.StringVar(&op, "op", "both", "operation: get, set or both")
	f.StringVar(&secret, "secret", "bench", "secret name read by get; prefix of the names set writes")
	f.StringVar(&apiVersion, "api-version", loadgen.DefaultAPIVersion, "api-version to send")
	f.IntSliceVar(&connections, "connections", []int{1, 16, 64}, "connection counts to measure")
	f.DurationVar(&duration, "duration", 10*time.Second, "measurement time per connection count")
	f.DurationVar(&warmup, "warmup", 2*time.Second, "warm-up time per connection count, not measured")
	f.IntVar(&valueSize, "value-size", 200, "size of the secret values in bytes")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	cmd.MarkFlagsMutuallyExclusive("vault", "vault-url")
	return cmd
}

func loadRoots(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA certificate %s holds no PEM certificate", caFile)
	}
	return pool, nil
}
