package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newConfigCommand is `keystage config`: settings such as defaults.group and
// defaults.location, kept in the config directory's config.json.
func (a *app) newConfigCommand() *cobra.Command {
	cmd := group("config", "Manage Keystage CLI configuration",
		a.configSet(), a.configGet(), a.configUnset())
	a.addGlobalFlags(cmd)
	return cmd
}

// newConfigureCommand is az's older `configure --defaults group=RG location=L`.
func (a *app) newConfigureCommand() *cobra.Command {
	var defaults []string
	cmd := a.command(leaf{
		use:   "configure",
		short: "Manage Keystage CLI configuration (use --defaults KEY=VALUE …)",
		nargs: []string{"defaults"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if len(defaults) == 0 {
				return nil, requiredError("--defaults/-d")
			}
			pairs := make([]string, len(defaults))
			for i, d := range defaults {
				pairs[i] = "defaults." + d
			}
			return nil, a.setConfig(pairs)
		},
	}, func(f *pflag.FlagSet) {
		f.StringArrayVarP(&defaults, "defaults", "d", nil, "Space-separated defaults, e.g. group=MyRG location=westus2; an empty value clears one")
	})
	a.addGlobalFlags(cmd)
	return cmd
}

func (a *app) configSet() *cobra.Command {
	return a.command(leaf{
		use:        "set KEY=VALUE [KEY=VALUE ...]",
		short:      "Set configurations, e.g. defaults.group=MyRG defaults.location=westus2",
		example:    "  keystage config set defaults.location=westus2 defaults.group=MyResourceGroup",
		positional: true,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			args := cmd.Flags().Args()
			if len(args) == 0 {
				return nil, requiredError("key_value")
			}
			return nil, a.setConfig(args)
		},
	}, nil)
}

func (a *app) setConfig(pairs []string) error {
	cfg := a.cfg
	for _, kv := range pairs {
		section, key, value, err := parseConfigPair(kv)
		if err != nil {
			return usageErrorf("%v", err)
		}
		if cfg[section] == nil {
			cfg[section] = map[string]string{}
		}
		if value == "" {
			delete(cfg[section], key)
			continue
		}
		cfg[section][key] = value
	}
	return a.st.write(configFile, cfg)
}

// parseConfigPair parses "section.key=value" (section and key are case-insensitive and
// stored lower-case; the value is kept as given).
func parseConfigPair(kv string) (section, key, value string, err error) {
	name, value, ok := strings.Cut(kv, "=")
	if !ok {
		return "", "", "", fmt.Errorf("%q: expected KEY=VALUE, e.g. defaults.group=MyRG", kv)
	}
	section, key, ok = strings.Cut(strings.TrimSpace(name), ".")
	if !ok || section == "" || key == "" || strings.ContainsAny(name, " \t\r\n") {
		return "", "", "", fmt.Errorf("%q: the key must be SECTION.NAME, e.g. defaults.location", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", "", fmt.Errorf("%q: the value must be a single line", name)
	}
	return strings.ToLower(section), strings.ToLower(key), value, nil
}

func (a *app) configGet() *cobra.Command {
	return a.command(leaf{
		use:        "get [KEY]",
		short:      "Get a configuration",
		positional: true,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			args := cmd.Flags().Args()
			switch len(args) {
			case 0:
				return a.cfg.settings(), nil
			case 1:
			default:
				return nil, usageErrorf("unrecognized arguments: %s", strings.Join(args[1:], " "))
			}
			section, key, _ := strings.Cut(strings.ToLower(args[0]), ".")
			if key == "" {
				list, ok := a.cfg.settings()[section]
				if !ok {
					return nil, errorf("Configuration section '%s' is not set.", section)
				}
				return list, nil
			}
			v := a.cfg.get(section, key)
			if v == "" {
				return nil, errorf("Configuration '%s' is not set.", args[0])
			}
			return map[string]any{"name": key, "source": a.st.path(configFile), "value": v}, nil
		},
	}, nil)
}

func (a *app) configUnset() *cobra.Command {
	return a.command(leaf{
		use:        "unset KEY [KEY ...]",
		short:      "Unset configurations",
		positional: true,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			args := cmd.Flags().Args()
			if len(args) == 0 {
				return nil, requiredError("key")
			}
			var errs []error
			pairs := make([]string, 0, len(args))
			for _, k := range args {
				if strings.Contains(k, "=") {
					errs = append(errs, fmt.Errorf("%q: give the key only", k))
				}
				pairs = append(pairs, k+"=")
			}
			if err := errors.Join(errs...); err != nil {
				return nil, usageErrorf("%v", err)
			}
			return nil, a.setConfig(pairs)
		},
	}, nil)
}
