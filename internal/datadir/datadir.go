// Package datadir knows where Keystage keeps its data directory and the files in it that
// the server writes for local clients: the CA certificate and the administrator credential.
package datadir

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// File names inside the data directory.
const (
	CAFile    = "ca.pem"
	AdminFile = "admin.json"
)

// Default returns the data directory: $KEYSTAGE_DATA_DIR, else $XDG_DATA_HOME/keystage,
// else ~/.local/share/keystage.
func Default(getenv func(string) string) string {
	if d := getenv("KEYSTAGE_DATA_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "keystage")
	}
	home := getenv("HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	return filepath.Join(home, ".local", "share", "keystage")
}

// AdminCredential is the administrator credential the server writes (mode 0600) on first
// start, so that `keystage login` on the same machine can sign in without typing it.
type AdminCredential struct {
	URL          string `json:"url"`
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ObjectID     string `json:"objectId"`
	ClientSecret string `json:"clientSecret"`
	CAFile       string `json:"caFile"`
	// SubscriptionID is the default subscription created at bootstrap.
	SubscriptionID string `json:"subscriptionId,omitempty"`
}

// LogValue implements slog.LogValuer, keeping the secret out of logs.
func (c AdminCredential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", c.URL), slog.String("tenantId", c.TenantID),
		slog.String("clientId", c.ClientID), slog.String("clientSecret", "REDACTED"))
}

// ReadAdminCredential reads dir's administrator credential.
func ReadAdminCredential(dir string) (AdminCredential, error) {
	var c AdminCredential
	b, err := os.ReadFile(filepath.Join(dir, AdminFile))
	if err != nil {
		return c, fmt.Errorf("datadir: admin credential: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("datadir: admin credential %s: %w", filepath.Join(dir, AdminFile), err)
	}
	return c, nil
}
