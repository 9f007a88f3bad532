package kvhttp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/keyvault"
)

// AuditPath is where AuditHandler serves a vault's audit trail:
//
//	GET {server}/keystage/keyvault/vaults/{vault}/auditEvents
//	    [?since=RFC3339][&until=RFC3339][&secretName=][&principal=][&operation=][&status=]
//	    [&top=1..1000][&$skiptoken=]
//
// with a management-plane token (audience https://management.azure.com/ or the server's
// own), answered with {"value":[events oldest first],"nextLink":"…"|null}. The caller needs
// AuditReadAction on the vault: Owner, Contributor, Reader and the Key Vault roles with
// Microsoft.KeyVault/vaults/*/read have it; data-plane-only roles (Key Vault Secrets User)
// do not.
const AuditPath = "/keystage/keyvault/vaults/{vault}/auditEvents"

// AuditReadAction is the control-plane action reading a vault's audit trail requires.
const AuditReadAction = "Microsoft.KeyVault/vaults/auditEvents/read"

// ManagementAuthenticator authenticates management-plane requests;
// *armhttp.TokenAuthenticator implements it.
type ManagementAuthenticator interface {
	Authenticate(r *http.Request) (arm.Caller, error)
}

// AuditHandler serves AuditPath.
type AuditHandler struct {
	Audit *keyvault.Audit
	ARM   *arm.Service
	Auth  ManagementAuthenticator
	// GroupsOf is as in ARMDirectory; nil means no groups.
	GroupsOf func(ctx context.Context, tenantID, objectID string) ([]string, error)
	Logger   *slog.Logger
}

type wireAuditPage struct {
	Value    []keyvault.Event `json:"value"`
	NextLink *string          `json:"nextLink"`
}

// ServeHTTP implements http.Handler.
func (h *AuditHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		fe, _ := fault.As(err)
		if fe.Kind == fault.Internal || fe.Kind == fault.Unavailable {
			h.logger().Error("kvhttp: audit query failed", "err", err)
		}
		if fe.Code == codeMethodNotAllowed {
			w.Header().Set("Allow", "GET")
		}
		body := wireError{Error: wireErrorBody{Code: fe.Code, Message: fe.Message}}
		status := fe.Kind.Status()
		if fe.Code == codeMethodNotAllowed {
			status = http.StatusMethodNotAllowed
		}
		writePlainJSON(w, status, body)
	}
}

func (h *AuditHandler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *AuditHandler) serve(w http.ResponseWriter, r *http.Request) error {
	vaultName, ok := auditVault(r.URL.Path)
	if !ok {
		return errNoSuchPath(r.URL.Path)
	}
	if r.Method != http.MethodGet {
		return errMethod(r.Method, r.URL.Path)
	}
	caller, err := h.Auth.Authenticate(r)
	if err != nil {
		return err
	}
	vi, ok := h.ARM.LookupVault(vaultName)
	if !ok || !strings.EqualFold(vi.TenantID, caller.TenantID) {
		return fault.New(fault.NotFound, "ResourceNotFound", "The vault '%s' was not found.", clip(vaultName))
	}
	p := authz.Principal{ObjectID: caller.ObjectID}
	if h.GroupsOf != nil {
		if p.GroupIDs, err = h.GroupsOf(r.Context(), caller.TenantID, caller.ObjectID); err != nil {
			return errUnavailable().Wrap(err)
		}
	}
	if d := h.ARM.CheckAccess(p, vi.Scope, AuditReadAction, false); !d.Allowed {
		return authz.ManagementDenial("", caller.ObjectID, AuditReadAction, vi.ID, d)
	}
	q, err := auditQuery(r.URL.Query(), vi.Name)
	if err != nil {
		return err
	}
	page, err := h.Audit.Query(r.Context(), q)
	if err != nil {
		return err
	}
	out := wireAuditPage{Value: page.Items}
	if out.Value == nil {
		out.Value = []keyvault.Event{}
	}
	if page.Next != "" {
		next := r.URL.Query()
		next.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(page.Next)))
		link := "https://" + r.Host + r.URL.Path + "?" + next.Encode()
		out.NextLink = &link
	}
	writePlainJSON(w, http.StatusOK, out)
	return nil
}

// auditVault returns the vault name of /keystage/keyvault/vaults/{vault}/auditEvents.
func auditVault(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/keystage/keyvault/vaults/")
	if !ok {
		return "", false
	}
	name, tail, ok := strings.Cut(rest, "/")
	if !ok || !strings.EqualFold(strings.TrimSuffix(tail, "/"), "auditEvents") || name == "" {
		return "", false
	}
	return name, true
}

func auditQuery(v url.Values, vault string) (keyvault.AuditQuery, error) {
	q := keyvault.AuditQuery{
		Vault: vault, SecretName: v.Get("secretName"), Principal: v.Get("principal"), Operation: v.Get("operation"),
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, keyvault.BadParameter("%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z.", p.name)
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"status", &q.Status}, {"top", &q.Top}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return q, keyvault.BadParameter("%s must be an integer.", p.name)
			}
			*p.dst = n
		}
	}
	if s := v.Get("$skiptoken"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return q, keyvault.BadParameter("The $skiptoken is not valid for this query.")
		}
		q.After = string(b)
	}
	return q, nil
}

func writePlainJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"The server encountered an internal error."}}`)
	}
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["Cache-Control"] = hdrNoCache
	hd["X-Content-Type-Options"] = hdrNosniff
	hd["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
