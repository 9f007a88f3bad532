package cli

import (
	"context"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newDevOpsCommand is `keystage devops`: organizations, projects, service connections and
// personal access tokens on the server's Azure-DevOps-shaped API, in az devops' grammar.
func (a *app) newDevOpsCommand() *cobra.Command {
	cmd := group("devops", "Manage Azure DevOps organizations, projects, service connections and access tokens",
		a.devopsConfigure(),
		a.newOrganizationCommand(),
		a.newProjectCommand(),
		a.newServiceEndpointCommand(),
		a.newPATCommand(),
	)
	a.addGlobalFlags(cmd)
	return cmd
}

// devopsTarget is where a devops or pipelines command works: --organization and --project,
// else the defaults of 'devops configure'.
type devopsTarget struct {
	org     string
	project string
}

func (t *devopsTarget) orgFlag(f *pflag.FlagSet) {
	f.StringVar(&t.org, "organization", "", "Organization URL (https://HOST:PORT/NAME) or name; default 'devops configure --defaults organization=…'")
	f.StringVar(&t.org, "org", "", "Organization URL (https://HOST:PORT/NAME) or name; default 'devops configure --defaults organization=…'")
}

func (t *devopsTarget) flags(f *pflag.FlagSet) {
	t.orgFlag(f)
	f.StringVarP(&t.project, "project", "p", "", "Name or ID of the project; default 'devops configure --defaults project=…'")
}

// devops returns the signed-in DevOps client and the organization's name.
func (a *app) devops(t devopsTarget) (client.DevOps, string, error) {
	c, err := a.signedIn()
	if err != nil {
		return client.DevOps{}, "", err
	}
	given := a.defaultOf(t.org, "organization")
	if given == "" {
		return client.DevOps{}, "", usageErrorf("--organization must be specified. The value should be the URL of your Keystage organization, for example %s/MyOrganization, or its name. You can set a default value by running: keystage devops configure --defaults organization=%s/MyOrganization", c.URL(), c.URL())
	}
	org, err := orgName(given, c.URL())
	if err != nil {
		return client.DevOps{}, "", err
	}
	return c.DevOps(), org, nil
}

// devopsProject is devops plus the project (a name or an id).
func (a *app) devopsProject(t devopsTarget) (client.DevOps, string, string, error) {
	d, org, err := a.devops(t)
	if err != nil {
		return d, "", "", err
	}
	project := a.defaultOf(t.project, "project")
	if project == "" {
		return d, "", "", usageErrorf("--project must be specified. The value should be the ID or name of a project. You can set a default value by running: keystage devops configure --defaults project=<ProjectName>")
	}
	return d, org, project, nil
}

// orgName returns the organization an --organization value names: a name, or a URL of the
// signed-in server whose first path segment is the organization (az devops takes
// https://dev.azure.com/NAME). A URL of another server is refused: the signed-in
// credential is for this server only.
func orgName(value, serverURL string) (string, error) {
	if !strings.Contains(value, "://") {
		if value == "" || value == "." || value == ".." || strings.ContainsAny(value, "/?#") {
			return "", usageErrorf("--organization %q: give the organization URL (%s/NAME) or its name", value, serverURL)
		}
		return value, nil
	}
	u, err := url.Parse(value)
	if err != nil || u.Host == "" {
		return "", usageErrorf("--organization %q is not a URL", value)
	}
	s, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(u.Scheme, "https") || !sameHost(u.Host, s.Host) {
		return "", usageErrorf("--organization %s is not on the server you are signed in to (%s); sign in to that server with 'keystage login'", value, serverURL)
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(u.Path, s.Path), "/")
	name, _, _ := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	if name == "" || name == "." || name == ".." {
		return "", usageErrorf("--organization %s names no organization: use %s/NAME", value, serverURL)
	}
	return name, nil
}

// sameHost compares host[:port] values case-insensitively, an absent port meaning 443.
func sameHost(a, b string) bool {
	norm := func(h string) string {
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.Trim(h, "[]"), "443"
		}
		return strings.ToLower(net.JoinHostPort(host, port))
	}
	return norm(a) == norm(b)
}

// devopsConfigure is `devops configure`: az devops' defaults for --organization and
// --project, stored with the CLI's other defaults.
func (a *app) devopsConfigure() *cobra.Command {
	var defaults []string
	var list bool
	return a.command(leaf{
		use:     "configure",
		short:   "Configure the defaults of the devops and pipelines commands (organization, project)",
		example: "  keystage devops configure --defaults organization=https://localhost:8443/fabrikam project=webapp",
		nargs:   []string{"defaults"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if list {
				return a.devopsDefaults(), nil
			}
			if len(defaults) == 0 {
				return nil, usageErrorf("the following arguments are required: --defaults/-d (or --list/-l)")
			}
			pairs := make([]string, 0, len(defaults))
			for _, d := range defaults {
				k, v, err := SplitPair("--defaults", d)
				if err != nil {
					return nil, usageErrorf("%v", err)
				}
				k = strings.ToLower(k)
				if k != "organization" && k != "project" {
					return nil, usageErrorf("--defaults: unknown key %q: use organization or project", k)
				}
				pairs = append(pairs, "defaults."+k+"="+v)
			}
			return nil, a.setConfig(pairs)
		},
	}, func(f *pflag.FlagSet) {
		f.StringArrayVarP(&defaults, "defaults", "d", nil, "Space-separated organization=URL and project=NAME; an empty value clears one")
		f.BoolVarP(&list, "list", "l", false, "Show the configured defaults")
	})
}

func (a *app) devopsDefaults() map[string]any {
	out := map[string]any{}
	for _, k := range []string{"organization", "project"} {
		if v := a.cfg.get("defaults", k); v != "" {
			out[k] = v
		}
	}
	return out
}

// pairMap parses NAME=VALUE words (as az's --variables and --parameters) into a map.
func pairMap(flag string, words []string) (map[string]string, error) {
	m, err := ParsePairs(flag, words)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return m, nil
}

// requireInt checks that an integer id flag was given.
func requireInt(flag string, v int) error {
	if v <= 0 {
		return usageErrorf("the following arguments are required: %s", flag)
	}
	return nil
}
