package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// app is the state of one CLI invocation: the environment, az's global arguments, and the
// signed-in profile and API client, loaded on first use.
type app struct {
	env Env

	// az's global arguments.
	output       string
	query        string
	verbose      bool
	debug        bool
	onlyErrors   bool
	subscription string

	st     store
	cfg    config
	prof   *profile
	client *client.Client
}

func newApp(env Env) *app {
	return &app{env: env, st: store{dir: configDir(env.getenv)}}
}

// addGlobalFlags adds az's global arguments to a top-level command; every command below it
// inherits them.
func (a *app) addGlobalFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&a.output, "output", "o", "", "Output format: json, jsonc, none, table, tsv, yaml, yamlc (default json, or 'config set core.output=…')")
	f.StringVar(&a.query, "query", "", "JMESPath query string, applied to the result before it is formatted")
	f.BoolVar(&a.verbose, "verbose", false, "Increase logging verbosity")
	f.BoolVar(&a.debug, "debug", false, "Log every HTTP request and response (never tokens or bodies)")
	f.BoolVar(&a.onlyErrors, "only-show-errors", false, "Only show errors, suppressing warnings")
}

// addSubscriptionFlag adds --subscription to a command that works in one subscription.
func (a *app) addSubscriptionFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.subscription, "subscription", "", "Name or ID of subscription; default the one chosen with 'account set'")
}

// group is a command with subcommands and no action of its own: alone it prints its help,
// with an unknown subcommand it fails as az does (exit 2), suggesting close names.
func group(use, short string, children ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, SuggestionsMinimumDistance: 2}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("'%s' is misspelled or not recognized by the system.", args[0])
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return usageErrorf("%s", msg)
	}
	cmd.AddCommand(children...)
	return cmd
}

// leaf configures a client command: run returns the result az would print.
type leaf struct {
	use, short, long, example string
	// nargs names flags that, as in az, take every following word up to the next flag
	// (`--secret-permissions get list`); they are StringArray flags.
	nargs []string
	// table shapes the result for -o table (nil: az's automatic table).
	table tableFunc
	// positional allows positional arguments (cmd.Flags().Args() in run).
	positional bool
	run        func(ctx context.Context, cmd *cobra.Command) (any, error)
}

// command builds a leaf command. It parses its own flags, as az's argparse does: words
// after a multi-value flag belong to it, a boolean flag may take true/false as the next
// word, an unknown argument is a usage error (exit 2).
func (a *app) command(l leaf, flags func(f *pflag.FlagSet)) *cobra.Command {
	cmd := &cobra.Command{
		Use:                l.use,
		Short:              l.short,
		Long:               l.long,
		Example:            l.example,
		DisableFlagParsing: true,
	}
	if flags != nil {
		flags(cmd.Flags())
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cmd.InheritedFlags() // merges the parents' persistent flags into cmd.Flags()
		if slices.Contains(args, "--help") || slices.Contains(args, "-h") {
			return cmd.Help()
		}
		fs := cmd.Flags()
		if err := fs.Parse(expandArgs(fs, args, l.nargs)); err != nil {
			return flagError(err)
		}
		if rest := fs.Args(); len(rest) > 0 && !l.positional {
			return usageErrorf("unrecognized arguments: %s", strings.Join(rest, " "))
		}
		if err := a.init(); err != nil {
			return err
		}
		start := time.Now()
		if a.verbose || a.debug {
			defer func() {
				fmt.Fprintf(a.env.Stderr, "INFO: Command ran in %.3f seconds\n", time.Since(start).Seconds())
			}()
		}
		v, err := l.run(cmd.Context(), cmd)
		if err != nil {
			return asCLIError(err)
		}
		return asCLIError(a.print(v, l.table))
	}
	return cmd
}

// flagError words a flag parsing error as az's argparse does.
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: "); ok {
		return usageErrorf("unrecognized arguments: %s", name)
	}
	if rest, ok := strings.CutPrefix(msg, "unknown shorthand flag: "); ok {
		_, arg, _ := strings.Cut(rest, " in ")
		return usageErrorf("unrecognized arguments: %s", arg)
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		if _, arg, found := strings.Cut(rest, " in "); found {
			rest = arg
		}
		return usageErrorf("argument %s: expected one argument", rest)
	}
	return usageErrorf("%s", msg)
}

// expandArgs rewrites az-style arguments into pflag's: "--flag a b" for a multi-value flag
// becomes "--flag=a --flag=b" ("--flag" alone becomes "--flag="), and "--bool false"
// becomes "--bool=false" (also for az's three-state flags, which take an optional value).
func expandArgs(fs *pflag.FlagSet, args, nargs []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...)
		}
		name, hasValue := flagName(arg)
		if name == "" || hasValue {
			out = append(out, arg)
			continue
		}
		f := fs.Lookup(name)
		if f == nil && len(name) == 1 {
			f = fs.ShorthandLookup(name)
		}
		switch {
		case f != nil && slices.Contains(nargs, f.Name):
			n := 0
			for i+1 < len(args) && !isFlag(args[i+1]) {
				i++
				out = append(out, "--"+f.Name+"="+args[i])
				n++
			}
			if n == 0 {
				out = append(out, "--"+f.Name+"=")
			}
		case f != nil && (f.Value.Type() == "bool" || f.NoOptDefVal != "") && i+1 < len(args) && isBoolWord(args[i+1]):
			i++
			out = append(out, "--"+f.Name+"="+strings.ToLower(args[i]))
		default:
			out = append(out, arg)
		}
	}
	return out
}

// flagName returns the name of a flag argument ("--name", "--name=v", "-n") and whether
// the argument carries its value.
func flagName(arg string) (string, bool) {
	switch {
	case strings.HasPrefix(arg, "--") && len(arg) > 2:
		name, _, ok := strings.Cut(arg[2:], "=")
		return name, ok
	case strings.HasPrefix(arg, "-") && len(arg) == 2 && arg[1] != '-':
		return arg[1:], false
	}
	return "", false
}

func isFlag(s string) bool {
	return len(s) > 1 && s[0] == '-' && !(s[1] >= '0' && s[1] <= '9')
}

func isBoolWord(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no":
		return true
	}
	return false
}

// init loads the CLI configuration; commands that need a signed-in client call signedIn.
func (a *app) init() error {
	cfg, err := a.st.loadConfig()
	if err != nil {
		return err
	}
	a.cfg = cfg
	if a.output == "" {
		a.output = cfg.get("core", "output")
	}
	if a.output == "" {
		a.output = outJSON
	}
	if !slices.Contains(outputFormats, a.output) {
		return usageErrorf("argument --output/-o: invalid choice: '%s' (choose from %s)", a.output, strings.Join(quoteAll(outputFormats), ", "))
	}
	return nil
}

// print renders a command's result to stdout.
func (a *app) print(v any, table tableFunc) error {
	if raw, ok := v.(json.RawMessage); ok {
		var err error
		if v, err = decodeJSON(raw); err != nil {
			return err
		}
	}
	return render(a.env.Stdout, v, a.output, a.query, table)
}

// warn prints an az-style warning unless --only-show-errors is given.
func (a *app) warn(format string, args ...any) {
	if a.onlyErrors || a.env.Stderr == nil {
		return
	}
	fmt.Fprintf(a.env.Stderr, "WARNING: "+format+"\n", args...)
}

// logger is where the client's debug lines go: stderr with --debug, nowhere otherwise.
func (a *app) logger() *slog.Logger {
	if !a.debug || a.env.Stderr == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// decodeJSON decodes a JSON document into the generic values JMESPath and the formatters
// work on.
func decodeJSON(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return v, nil
}

// decodeList decodes the elements of a list result.
func decodeList(items []json.RawMessage) ([]any, error) {
	out := make([]any, 0, len(items))
	for _, it := range items {
		v, err := decodeJSON(it)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
