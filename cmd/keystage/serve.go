package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keystage/keystage/internal/barrier"
	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/keyvault/kvhttp"
	"github.com/keystage/keystage/internal/server"
)

// newServeCommand is `keystage serve`: flags and environment to server.Config.
func newServeCommand(stderr io.Writer, getenv func(string) string) *cobra.Command {
	var (
		cfg         server.Config
		rootKeyFile string
		logLevel    string
		logFormat   string
		extraNames  []string
		pprofAddr   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Keystage server (identity provider, ARM, Key Vault, Pipelines) on one HTTPS listener",
		Long: `Run the Keystage server.

On first start it creates, in the data directory: a SQLite database (unless --database
names a PostgreSQL server), a root key file (root.key, mode 0600) that seals everything
stored, a local certificate authority (ca.pem, for SSL_CERT_FILE), a default tenant and
subscription, and an administrator credential (admin.json, mode 0600) that
'keystage login' on this machine picks up.

Flags that name an environment variable in their help can also be set through it.
In production, pass the root key through KEYSTAGE_ROOT_KEY (base64 of 32 bytes) or
--root-key-file instead of keeping it next to the database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.ExtraNames = extraNames
			if v := getenv("KEYSTAGE_KEYVAULT_THROTTLE"); v != "" && !cmd.Flags().Changed("keyvault-throttle") {
				if cfg.KeyVaultThrottle, err = kvhttp.ParseThrottle(v); err != nil {
					return fmt.Errorf("KEYSTAGE_KEYVAULT_THROTTLE: %w", err)
				}
			}
			if cfg.RootKey, err = rootKeyFrom(rootKeyFile, getenv); err != nil {
				return err
			}
			tuneGC(getenv)
			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				stop, err := servePprof(pprofAddr, log)
				if err != nil {
					return err
				}
				defer stop()
			}
			fmt.Fprintf(stderr, "Keystage is serving at %s (data directory %s)\n", srv.URL(), cfg.DataDir)
			return srv.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", envOr(getenv, "KEYSTAGE_ADDR", server.DefaultAddr), "listen address (KEYSTAGE_ADDR)")
	f.StringVar(&cfg.DataDir, "data-dir", datadir.Default(getenv), "data directory (KEYSTAGE_DATA_DIR; default $XDG_DATA_HOME/keystage or ~/.local/share/keystage)")
	f.StringVar(&cfg.Database, "database", getenv("KEYSTAGE_DATABASE"), "PostgreSQL DSN, e.g. postgres://user@host/db; empty means SQLite in the data directory (KEYSTAGE_DATABASE)")
	f.StringVar(&cfg.Hostname, "hostname", envOr(getenv, "KEYSTAGE_HOSTNAME", server.DefaultHostname), "host name clients use to reach the server (KEYSTAGE_HOSTNAME)")
	f.StringVar(&cfg.VaultSuffix, "vault-suffix", envOr(getenv, "KEYSTAGE_VAULT_SUFFIX", server.DefaultVaultSuffix), "DNS suffix of vault host names: vault NAME is https://NAME.SUFFIX:PORT (KEYSTAGE_VAULT_SUFFIX)")
	f.StringSliceVar(&extraNames, "tls-name", nil, "extra DNS name or IP address for the server certificate (repeatable)")
	f.StringVar(&rootKeyFile, "root-key-file", "", "read the root key from this file instead of DATA_DIR/root.key (KEYSTAGE_ROOT_KEY gives it directly)")
	f.StringVar(&pprofAddr, "pprof-addr", getenv("KEYSTAGE_PPROF_ADDR"), "serve Go's pprof profiles over plain HTTP on this address, e.g. 127.0.0.1:6060; keep it on loopback (KEYSTAGE_PPROF_ADDR)")
	f.StringVar(&logLevel, "log-level", envOr(getenv, "KEYSTAGE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (KEYSTAGE_LOG_LEVEL)")
	f.StringVar(&logFormat, "log-format", envOr(getenv, "KEYSTAGE_LOG_FORMAT", "text"), "log format: text or json (KEYSTAGE_LOG_FORMAT)")
	f.Var(throttleFlag{&cfg.KeyVaultThrottle}, "keyvault-throttle", "per-vault request limit: azure (4000 transactions and 300 creates per 10s), off, or TRANSACTIONS/CREATES[/WINDOW] (KEYSTAGE_KEYVAULT_THROTTLE)")
	return cmd
}

// rootKeyFrom returns the root key --root-key-file or KEYSTAGE_ROOT_KEY gives, the file
// first; nil when neither is set, for the server to use DATA_DIR/root.key.
func rootKeyFrom(file string, getenv func(string) string) ([]byte, error) {
	switch {
	case file != "":
		return barrier.ReadRootKeyFile(file)
	case getenv("KEYSTAGE_ROOT_KEY") != "":
		key, err := barrier.ParseRootKey(getenv("KEYSTAGE_ROOT_KEY"))
		if err != nil {
			return nil, fmt.Errorf("KEYSTAGE_ROOT_KEY: %w", err)
		}
		return key, nil
	}
	return nil, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// throttleFlag is a pflag.Value setting a kvhttp.Throttle.
type throttleFlag struct{ t *kvhttp.Throttle }

func (f throttleFlag) String() string {
	if f.t == nil || *f.t == (kvhttp.Throttle{}) {
		return "azure"
	}
	if f.t.Disabled {
		return "off"
	}
	return fmt.Sprintf("%d/%d/%s", f.t.Transactions, f.t.Creates, f.t.Window)
}

func (f throttleFlag) Set(s string) error {
	t, err := kvhttp.ParseThrottle(s)
	if err != nil {
		return err
	}
	*f.t = t
	return nil
}

func (throttleFlag) Type() string { return "limit" }

// servePprof serves net/http/pprof on addr until stop is called.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving pprof", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// tuneGC sets the server's garbage collector target to 400% unless GOGC is set: the live
// heap is small (tens of MB) and every request allocates, so the default 100% spends a
// noticeable share of the CPU on collection (Key Vault get-latest throughput rose about 20%
// with 400 in `keystage bench secrets`/wrk runs, for some 25 MB more resident memory).
// GOMEMLIMIT, when set, still caps the heap.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
