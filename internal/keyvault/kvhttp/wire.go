package kvhttp

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/keyvault"
)

// The JSON shapes of keyvault.md §1.3. Times are integer Unix seconds; ids are
// https://{host}/secrets/{name}[/{version}].

type wireAttributes struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

// wireBundle is SecretBundle, SecretItem, DeletedSecretBundle and DeletedSecretItem: the
// fields a shape lacks stay empty and are omitted.
type wireBundle struct {
	Value              *string           `json:"value,omitempty"`
	ID                 string            `json:"id"`
	ContentType        string            `json:"contentType,omitempty"`
	Attributes         wireAttributes    `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
}

type wireList struct {
	Value    []wireBundle `json:"value"`
	NextLink *string      `json:"nextLink"`
}

type wireBackup struct {
	Value string `json:"value"`
}

type wireError struct {
	Error wireErrorBody `json:"error"`
}

type wireErrorBody struct {
	Code       string         `json:"code"`
	Message    string         `json:"message"`
	InnerError *wireInnerCode `json:"innererror,omitempty"`
}

type wireInnerCode struct {
	Code string `json:"code"`
}

// view renders domain values for one request: ids use the request's host.
type view struct {
	base  string // https://{host}
	vault *keyvault.Vault
}

func (vw view) secretID(name, version string) string {
	if version == "" {
		return vw.base + "/secrets/" + name
	}
	return vw.base + "/secrets/" + name + "/" + version
}

func (vw view) attributes(p *keyvault.Properties) wireAttributes {
	return wireAttributes{
		Enabled:         p.Enabled,
		NotBefore:       unixPtr(p.NotBefore),
		Expires:         unixPtr(p.Expires),
		Created:         p.Created.Unix(),
		Updated:         p.Updated.Unix(),
		RecoveryLevel:   vw.vault.RecoveryLevel(),
		RecoverableDays: vw.vault.Retention(),
	}
}

// bundle renders a version; withVersion false gives the versionless id of list items.
func (vw view) bundle(p *keyvault.Properties, withVersion bool) wireBundle {
	version := ""
	if withVersion {
		version = p.Version
	}
	return wireBundle{
		ID:          vw.secretID(p.Name, version),
		ContentType: p.ContentType,
		Attributes:  vw.attributes(p),
		Tags:        p.Tags,
	}
}

func (vw view) deleted(d *keyvault.DeletedSecret, withVersion bool) wireBundle {
	b := vw.bundle(&d.Properties, withVersion)
	b.RecoveryID = vw.base + "/deletedsecrets/" + d.Name
	b.DeletedDate = d.DeletedDate.Unix()
	b.ScheduledPurgeDate = d.ScheduledPurgeDate.Unix()
	return b
}

// nextLink returns the absolute link to the page after next: it carries api-version,
// $skiptoken and maxresults, since clients follow it verbatim (keyvault.md §0.10).
func (vw view) nextLink(path, apiVersion, next string, maxResults int) *string {
	if next == "" {
		return nil
	}
	link := vw.base + path + "?api-version=" + apiVersion +
		"&$skiptoken=" + base64.RawURLEncoding.EncodeToString([]byte(next)) +
		"&maxresults=" + strconv.Itoa(maxResults)
	return &link
}

func unixPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

func timePtr(u *int64) *time.Time {
	if u == nil {
		return nil
	}
	t := time.Unix(*u, 0)
	return &t
}

// Request bodies. Read-only attributes (created, updated, recoveryLevel, ...) are ignored,
// as Key Vault ignores them.

type wireSetParams struct {
	Value       *string            `json:"value"`
	ContentType *string            `json:"contentType"`
	Tags        map[string]string  `json:"tags"`
	Attributes  *wireAttributesArg `json:"attributes"`
}

type wireUpdateParams struct {
	ContentType *string            `json:"contentType"`
	Tags        *map[string]string `json:"tags"`
	Attributes  *wireAttributesArg `json:"attributes"`
}

type wireAttributesArg struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

type wireRestoreParams struct {
	Value *string `json:"value"`
}

// Request body limits: a set or update body holds at most a 25 KB value and 15 tags, even
// fully \u-escaped; a restore body a base64url blob of keyvault.MaxBackupBytes.
const (
	maxBodyBytes    = 1 << 20
	maxRestoreBytes = keyvault.MaxBackupBytes/3*4 + 4<<10
)

// decodeBody reads one JSON object from r into dst. Every failure is a 400 (413 past limit)
// whose message quotes no part of the body.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	err := dec.Decode(dst)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return keyvault.BadParameter("The request body must hold one JSON object and nothing after it.")
		}
		return nil
	}
	var (
		maxErr  *http.MaxBytesError
		typeErr *json.UnmarshalTypeError
		syntax  *json.SyntaxError
	)
	switch {
	case errors.Is(err, io.EOF):
		return keyvault.BadParameter("The request body is empty; it must be a JSON object.")
	case errors.As(err, &maxErr):
		return fault.New(fault.TooLarge, "RequestTooLarge", "The request body is larger than %d bytes.", limit)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return keyvault.BadParameter("The request body must be a JSON object.")
		}
		return keyvault.BadParameter("Property %s has an invalid value: it must be %s.", typeErr.Field, jsonKind(typeErr.Type.String()))
	case errors.As(err, &syntax):
		return keyvault.BadParameter("The request body is not valid JSON (error at byte %d).", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return keyvault.BadParameter("The request body is not valid JSON (it ends too early).")
	}
	return keyvault.BadParameter("The request body could not be read.")
}

func jsonKind(goType string) string {
	switch goType {
	case "string", "*string":
		return "a string"
	case "bool", "*bool":
		return "true or false"
	case "int64", "*int64":
		return "an integer (Unix time in seconds)"
	}
	return "an object with string values"
}

func (a *wireAttributesArg) times() (nbf, exp *time.Time) {
	if a == nil {
		return nil, nil
	}
	return timePtr(a.NotBefore), timePtr(a.Expires)
}

func (a *wireAttributesArg) enabled() *bool {
	if a == nil {
		return nil
	}
	return a.Enabled
}
