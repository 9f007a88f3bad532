package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/keystage/keystage/internal/client"
)

// The CLI keeps its state in a config directory, like az's ~/.azure: $KEYSTAGE_CONFIG_DIR,
// default ~/.keystage, mode 0700, every file 0600.
const (
	profileFile     = "profile.json"     // server, tenant, signed-in principal, subscriptions
	credentialsFile = "credentials.json" // the signed-in principal's client secret
	tokensFile      = "tokens.json"      // access tokens cached until near expiry
	configFile      = "config.json"      // `config set` values, e.g. defaults.group
)

// configDir returns the CLI's config directory.
func configDir(getenv func(string) string) string {
	if d := getenv("KEYSTAGE_CONFIG_DIR"); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	return filepath.Join(home, ".keystage")
}

// profile is who is signed in where: az's azureProfile.json plus the server's address.
type profile struct {
	Server      string `json:"server"`
	CAFile      string `json:"caFile,omitempty"`
	VaultSuffix string `json:"vaultSuffix,omitempty"`
	// DataDir is set when the local administrator credential was used to sign in.
	DataDir  string `json:"dataDir,omitempty"`
	TenantID string `json:"tenantId"`
	// ObjectID is the signed-in principal's object id (its tokens' oid).
	ObjectID      string         `json:"objectId,omitempty"`
	User          profileUser    `json:"user"`
	Subscriptions []subscription `json:"subscriptions"`
}

type profileUser struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// subscription is one entry of `account list`, in az's shape.
type subscription struct {
	CloudName        string      `json:"cloudName"`
	HomeTenantID     string      `json:"homeTenantId"`
	ID               string      `json:"id"`
	IsDefault        bool        `json:"isDefault"`
	ManagedByTenants []any       `json:"managedByTenants"`
	Name             string      `json:"name"`
	State            string      `json:"state"`
	TenantID         string      `json:"tenantId"`
	User             profileUser `json:"user"`
}

// secretCredential is the stored client secret of the signed-in service principal.
type secretCredential struct {
	ClientID string `json:"clientId"`
	Secret   string `json:"clientSecret"`
}

// store reads and writes the files of one config directory.
type store struct{ dir string }

func (s store) path(name string) string { return filepath.Join(s.dir, name) }

func (s store) read(name string, v any) error {
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", s.path(name), err)
	}
	return nil
}

// write replaces a file atomically with mode 0600, creating the directory with mode 0700.
func (s store) write(name string, v any) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("config directory: %w", err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("config directory: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path(name))
}

func (s store) remove(names ...string) error {
	var errs []error
	for _, n := range names {
		if err := os.Remove(s.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// loadProfile returns the signed-in profile, or the az error for not being signed in.
func (s store) loadProfile() (profile, error) {
	var p profile
	if err := s.read(profileFile, &p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return p, errorf("Please run 'keystage login' to setup account.")
		}
		return p, err
	}
	if p.Server == "" {
		return p, errorf("Please run 'keystage login' to setup account.")
	}
	return p, nil
}

// config is the `config set` store: section -> key -> value, as az's ~/.azure/config.
type config map[string]map[string]string

func (s store) loadConfig() (config, error) {
	c := config{}
	if err := s.read(configFile, &c); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return c, nil
}

func (c config) get(section, key string) string {
	return c[strings.ToLower(section)][strings.ToLower(key)]
}

// settings lists every setting as az's `config get` does.
func (c config) settings() map[string]any {
	out := map[string]any{}
	sections := make([]string, 0, len(c))
	for s := range c {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	for _, s := range sections {
		var list []any
		keys := make([]string, 0, len(c[s]))
		for k := range c[s] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			list = append(list, map[string]any{"name": k, "source": "", "value": c[s][k]})
		}
		out[s] = list
	}
	return out
}

// fileTokenCache is a client.TokenCache kept in tokens.json, so that commands run one
// after another reuse tokens as az does.
type fileTokenCache struct {
	s  store
	mu sync.Mutex
}

func (c *fileTokenCache) load() map[string]client.Token {
	m := map[string]client.Token{}
	_ = c.s.read(tokensFile, &m) // a missing or damaged cache only costs a token request
	return m
}

// Get implements client.TokenCache.
func (c *fileTokenCache) Get(key string) (client.Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.load()[key]
	return t, ok
}

// Put implements client.TokenCache.
func (c *fileTokenCache) Put(key string, t client.Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.load()
	m[key] = t
	_ = c.s.write(tokensFile, m) // failing to cache is not worth failing the command
}

var _ client.TokenCache = (*fileTokenCache)(nil)
