package keyvault

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"time"
)

// Properties are one secret version's metadata: everything but the value.
type Properties struct {
	// Name is the secret's display name, as first created (names are case-insensitive).
	Name string
	// Version is 32 lower-case hex digits.
	Version     string
	ContentType string
	Tags        map[string]string
	Enabled     bool
	// NotBefore and Expires are informational (Key Vault does not enforce them); the zero
	// time means unset.
	NotBefore, Expires time.Time
	Created, Updated   time.Time
}

// Secret is one secret version with its value.
type Secret struct {
	Properties
	Value string
}

// LogValue keeps the value out of logs.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.String("version", s.Version),
		slog.String("value", "REDACTED"))
}

// DeletedSecret is a soft-deleted secret: its latest version's properties and when it was
// deleted and will be purged.
type DeletedSecret struct {
	Properties
	DeletedDate        time.Time
	ScheduledPurgeDate time.Time
}

// SetParams are the inputs of Set.
type SetParams struct {
	Value       string
	ContentType string
	Tags        map[string]string
	// Enabled defaults to true when nil.
	Enabled            *bool
	NotBefore, Expires *time.Time
}

// LogValue keeps the value out of logs.
func (p SetParams) LogValue() slog.Value {
	return slog.GroupValue(slog.String("contentType", p.ContentType), slog.String("value", "REDACTED"))
}

// UpdateParams are the inputs of Update: nil fields keep their current value. A non-nil Tags
// (even empty) replaces all tags.
type UpdateParams struct {
	ContentType        *string
	Tags               map[string]string
	Enabled            *bool
	NotBefore, Expires *time.Time
}

// Page is one page of a listing. Next is the continuation to pass as PageRequest.After for
// the following page, or "" on the last page.
type Page[T any] struct {
	Items []T
	Next  string
}

// PageRequest selects a page: at most Max items (1–25; 0 means 25) after the continuation
// After ("" for the first page).
type PageRequest struct {
	Max   int
	After string
}

// meta is the stored form of a version's metadata. Times are Unix seconds.
type meta struct {
	ContentType string            `json:"ct,omitempty"`
	Tags        map[string]string `json:"t,omitempty"`
	Disabled    bool              `json:"x,omitempty"`
	NotBefore   *int64            `json:"nbf,omitempty"`
	Expires     *int64            `json:"exp,omitempty"`
	Created     int64             `json:"c"`
	Updated     int64             `json:"u"`
}

// versionRecord is stored at versionKey.
type versionRecord struct {
	Value string `json:"v"`
	Meta  meta   `json:"m"`
}

// head is stored at activeKey, and inside deletedHead at deletedKey: the secret's display
// name, its latest version and that version's metadata (so listings need one read per
// item), and how many versions it has.
type head struct {
	Name     string `json:"n"`
	Latest   string `json:"l"`
	Meta     meta   `json:"m"`
	Versions int    `json:"k"`
}

// deletedHead is stored at deletedKey.
type deletedHead struct {
	Head      head  `json:"h"`
	DeletedAt int64 `json:"d"`
	PurgeAt   int64 `json:"p"`
}

func (m meta) properties(name, version string) Properties {
	return Properties{
		Name:        name,
		Version:     version,
		ContentType: m.ContentType,
		Tags:        maps.Clone(m.Tags),
		Enabled:     !m.Disabled,
		NotBefore:   unixOrZero(m.NotBefore),
		Expires:     unixOrZero(m.Expires),
		Created:     time.Unix(m.Created, 0).UTC(),
		Updated:     time.Unix(m.Updated, 0).UTC(),
	}
}

func (d deletedHead) deleted() DeletedSecret {
	return DeletedSecret{
		Properties:         d.Head.Meta.properties(d.Head.Name, d.Head.Latest),
		DeletedDate:        time.Unix(d.DeletedAt, 0).UTC(),
		ScheduledPurgeDate: time.Unix(d.PurgeAt, 0).UTC(),
	}
}

func unixOrZero(s *int64) time.Time {
	if s == nil {
		return time.Time{}
	}
	return time.Unix(*s, 0).UTC()
}

// unixPtr returns t in Unix seconds, or nil for nil or the zero time.
func unixPtr(t *time.Time) *int64 {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

func decode[T any](raw []byte, what string) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("keyvault: decode %s: %w", what, err)
	}
	return v, nil
}

// newVersion returns a random version id: 32 lower-case hex digits, like Key Vault's.
func newVersion() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
