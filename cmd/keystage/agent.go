package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

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
it is used only to register. The server's certificate must be trusted: on a machine
where the server created its own CA, set SSL_CERT_FILE to the server's ca.pem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.Tasks = task.Builtins()
			cfg.Capabilities = map[string]string{}
			for _, c := range caps {
				k, v, ok := strings.Cut(c, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("--capability %q: want NAME=VALUE", c)
				}
				cfg.Capabilities[strings.TrimSpace(k)] = v
			}
			if cfg.Token == "" {
				cfg.Token = getenv("KEYSTAGE_AGENT_TOKEN")
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
	f.StringVar(&logLevel, "log-level", envOr(getenv, "KEYSTAGE_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	f.StringVar(&logFormat, "log-format", envOr(getenv, "KEYSTAGE_LOG_FORMAT", "text"), "log format: text or json")
	return cmd
}
