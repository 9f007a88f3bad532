package cli

import (
	"context"
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

// envDevOpsPAT is az devops' environment variable for a personal access token. When it is
// set, devops and pipelines commands authenticate with it instead of the signed-in
// principal's tokens, and need no 'keystage login' when --organization is a URL (the
// server's certificate must then be trusted, e.g. through SSL_CERT_FILE).
const envDevOpsPAT = "AZURE_DEVOPS_EXT_PAT"

// devops returns the DevOps client and the organization's name.
func (a *app) devops(t devopsTarget) (client.DevOps, string, error) {
	given := a.defaultOf(t.org, "organization")
	pat := a.env.getenv(envDevOpsPAT)
	var c *client.Client
	var err error
	if _, perr := a.st.loadProfile(); pat != "" && perr != nil && strings.Contains(given, "://") {
		c, err = a.patClient(given)
	} else {
		c, err = a.signedIn()
	}
	if err != nil {
		return client.DevOps{}, "", err
	}
	if given == "" {
		return client.DevOps{}, "", usageErrorf("--organization must be specified. The value should be the URL of your Keystage organization, for example %s/MyOrganization, or its name. You can set a default value by running: keystage devops configure --defaults organization=%s/MyOrganization", c.URL(), c.URL())
	}
	org, err := orgName(given, c.URL())
	if err != nil {
		return client.DevOps{}, "", err
	}
	d := c.DevOps()
	if pat != "" {
		d = d.WithPAT(pat)
	}
	return d, org, nil
}

// patClient is a client of the server of an organization URL for a personal access token
// alone: it has no credential for other APIs.
func (a *app) patClient(orgURL string) (*client.Client, error) {
	u, err := url.Parse(orgURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, usageErrorf("--organization %q is not an https URL", orgURL)
	}
	hc, err := client.NewHTTPClient(client.TransportConfig{})
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{URL: "https://" + u.Host, HTTPClient: hc, Logger: a.logger(), Credential: patOnly{}})
}

// patOnly is the credential of a client that has only a personal access token.
type patOnly struct{}

func (patOnly) Token(context.Context, string) (client.Token, error) {
	return client.Token{}, errorf("Only %s is set, which serves devops and pipelines commands: run 'keystage login' for this one.", envDevOpsPAT)
}

func (patOnly) TenantID() string { return "" }

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
	if !strings.EqualFold(u.Scheme, "https") || !client.SameHost(u.Host, s.Host) {
		return "", usageErrorf("--organization %s is not on the server you are signed in to (%s); sign in to that server with 'keystage login'", value, serverURL)
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(u.Path, s.Path), "/")
	name, _, _ := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	if name == "" || name == "." || name == ".." {
		return "", usageErrorf("--organization %s names no organization: use %s/NAME", value, serverURL)
	}
	return name, nil
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
				return nil, requiredError("--defaults/-d (or --list/-l)")
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
		return requiredError(flag)
	}
	return nil
}
