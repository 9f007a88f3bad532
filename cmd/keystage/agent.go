package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keystage/keystage/internal/cli"
	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/listener"
	"github.com/keystage/keystage/internal/task"
)

// newAgentCommand is `keystage agent`: flags to listener.Config, with the task registry.
func newAgentCommand(stderr io.Writer, getenv func(string) string) *cobra.Command {
	var (
		cfg       listener.Config
		caps      []string
		logLevel  string
		logFormat string
		caFile    string
	)
	cmd := &cobra.Command{
		Use:   "agent --url ORG_URL --pool NAME --token PAT",
		Short: "Run a pipeline agent that takes jobs from a Keystage server's agent pool",
		Long: `Run a pipeline agent: register in an agent pool of a Keystage organization, wait
for jobs, and run them on this machine with the same executor as 'keystage run',
streaming their masked logs to the server and uploading their artifacts.

The agent registers under --name (default: the host name), replacing an agent of
that name, with its capabilities: its environment variables (except names that look
like credentials, and names listed in VSO_AGENT_IGNORE), Agent.Name, Agent.OS,
Agent.OSArchitecture and the like, and every --capability NAME=VALUE. Pool demands
('name' or 'name -equals value') match them case-insensitively.

One agent runs one job at a time; run several agents (each with its own --work
directory) to run jobs in parallel. The agent keeps going while the server restarts.
Ctrl-C (or SIGTERM) cancels the running job as Azure does, reports it, and exits.

The token is a personal access token that may manage the organization's agent pools;
it is used only to register. The server's certificate must be trusted: the agent
trusts --ca-file, else the ca.pem of the local server's data directory when there is
one, besides the system's CAs, and passes that bundle on to jobs as SSL_CERT_FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.Tasks = task.Builtins()
			if cfg.Capabilities, err = cli.ParsePairs("--capability", caps); err != nil {
				return err
			}
			if cfg.Token == "" {
				cfg.Token = getenv("KEYSTAGE_AGENT_TOKEN")
			}
			if err := trustServerCA(caFile, cfg.WorkDir, getenv); err != nil {
				return err
			}
			l, err := listener.New(cfg)
			if err != nil {
				return err
			}
			return l.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", getenv("KEYSTAGE_AGENT_URL"), "organization URL, https://HOST:PORT/ORGANIZATION (KEYSTAGE_AGENT_URL)")
	f.StringVar(&cfg.Pool, "pool", envOr(getenv, "KEYSTAGE_AGENT_POOL", "Default"), "agent pool name (KEYSTAGE_AGENT_POOL)")
	f.StringVar(&cfg.Token, "token", "", "personal access token used to register (KEYSTAGE_AGENT_TOKEN)")
	f.StringVar(&cfg.Name, "name", getenv("KEYSTAGE_AGENT_NAME"), "agent name (default: the host name)")
	f.StringVar(&cfg.WorkDir, "work", envOr(getenv, "KEYSTAGE_AGENT_WORK", "_work"), "work directory for jobs")
	f.StringArrayVar(&caps, "capability", nil, "user capability NAME=VALUE (repeatable)")
	f.BoolVar(&cfg.Once, "once", false, "run one job, then exit")
	f.StringVar(&caFile, "ca-file", getenv("KEYSTAGE_CA_FILE"), "CA certificate (PEM) the server's certificate chains to, trusted besides the system's; default DATA_DIR/ca.pem of a local server (KEYSTAGE_CA_FILE)")
	f.StringVar(&logLevel, "log-level", envOr(getenv, "KEYSTAGE_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	f.StringVar(&logFormat, "log-format", envOr(getenv, "KEYSTAGE_LOG_FORMAT", "text"), "log format: text or json")
	return cmd
}

// trustServerCA makes the agent (and the jobs it starts, which inherit its environment)
// trust the server's CA: caFile when given, else the local data directory's ca.pem when
// there is one. Go programs read SSL_CERT_FILE instead of the system bundle, so the agent
// writes a bundle of both into its work directory and points SSL_CERT_FILE at it; public
// CAs stay trusted.
func trustServerCA(caFile, workDir string, getenv func(string) string) error {
	if caFile == "" {
		local := filepath.Join(datadir.Default(getenv), datadir.CAFile)
		if _, err := os.Stat(local); err != nil {
			return nil // the system roots must do
		}
		caFile = local
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("--ca-file: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
	}
	var bundle []byte
	for _, f := range append([]string{getenv("SSL_CERT_FILE")}, systemBundles...) {
		if f == "" {
			continue
		}
		if b, err := os.ReadFile(f); err == nil {
			bundle = append(b, '\n')
			break
		}
	}
	dir := filepath.Join(workDir, "_ca")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("trust the server's CA: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, "ca-bundle.pem"))
	if err != nil {
		return fmt.Errorf("trust the server's CA: %w", err)
	}
	if err := os.WriteFile(path, append(bundle, ca...), 0o644); err != nil {
		return fmt.Errorf("trust the server's CA: %w", err)
	}
	return os.Setenv("SSL_CERT_FILE", path)
}

// systemBundles are where Linux distributions keep the system CA bundle (as Go looks).
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}
