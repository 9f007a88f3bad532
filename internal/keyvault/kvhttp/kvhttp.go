// Package kvhttp serves the Key Vault secrets REST API on vault host names
// ({vault}.{suffix}:{port}), so that unmodified Azure SDK clients, az and the AzureKeyVault
// pipeline task can use Keystage as their Key Vault.
//
// Every request is answered in this order: the vault is looked up from its host name; a
// request without a valid bearer token gets 401 with the challenge azsecrets needs, before
// anything else of the request is read; then the api-version, the path, the per-vault
// throttle and the caller's authorization are checked; only then is a body read. Every call
// lands in the audit trail.
package kvhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/keyvault"
	"github.com/keystage/keystage/internal/requestid"
)

// AzureResource is the audience of tokens for the real Key Vault, which Keystage accepts
// too, so credentials configured for Azure work unchanged.
const AzureResource = "https://vault.azure.net"

// Vault is a vault as the data plane sees it on one request.
type Vault struct {
	keyvault.Vault
	// Location is printed in access-denied messages ("{vault};location={location}").
	Location string
	// Ref is the Directory's own record of the vault, handed back to AuthorizeSecret.
	Ref any
}

// Directory is what the handler needs from the management plane. Both methods run on
// every request and must not do I/O.
type Directory interface {
	// LookupVault returns the active vault named name (case-insensitive).
	LookupVault(name string) (Vault, bool)
	// AuthorizeSecret returns nil when the caller may perform op on the secret (empty for
	// List, ListDeleted and Restore), or Key Vault's 403 as a *fault.Error.
	AuthorizeSecret(ctx context.Context, v *Vault, caller *token.Claims, op authz.SecretOperation, secret string) error
}

// Verifier verifies bearer tokens; *token.Verifier is the implementation.
type Verifier interface {
	Verify(ctx context.Context, raw string, want token.Expect) (*token.Claims, error)
}

// Config configures a Handler.
type Config struct {
	// Authority is the identity provider's base URL, e.g. https://localhost:8443; challenges
	// send authorization="{Authority}/{vault tenant}".
	Authority string
	// Resource is the challenge resource and the token audience, https://{suffix}[:{port}]
	// (see ChallengeResource). Tokens for AzureResource are accepted too.
	Resource string
	// Throttle limits requests per vault.
	Throttle Throttle
	Logger   *slog.Logger
	Now      func() time.Time
}

// ChallengeResource returns the resource a vault challenge names for vault host names
// {vault}.{suffix}:{port}: "https://{suffix}:{port}", without the port when it is 443.
// azsecrets accepts a challenge only when the vault host ends with "." and this host,
// port included.
func ChallengeResource(suffix string, port int) string {
	if port == 443 || port == 0 {
		return "https://" + suffix
	}
	return "https://" + suffix + ":" + strconv.Itoa(port)
}

// Handler serves the secrets API of every vault. It is safe for concurrent use.
type Handler struct {
	svc       *keyvault.Service
	audit     *keyvault.Audit
	dir       Directory
	verifier  Verifier
	authority string
	resource  string
	audiences []string
	limiter   *limiter
	log       *slog.Logger
	now       func() time.Time
}

// New returns the handler. audit may be nil to keep no audit trail (tests only).
func New(svc *keyvault.Service, audit *keyvault.Audit, dir Directory, verifier Verifier, cfg Config) (*Handler, error) {
	authority, err := token.NormalizeAuthority(cfg.Authority)
	if err != nil {
		return nil, fmt.Errorf("kvhttp: %w", err)
	}
	if !strings.HasPrefix(cfg.Resource, "https://") || strings.HasSuffix(cfg.Resource, "/") {
		return nil, fmt.Errorf("kvhttp: resource %q must be https://host[:port] without a trailing slash", cfg.Resource)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	audiences := []string{cfg.Resource}
	if cfg.Resource != AzureResource {
		audiences = append(audiences, AzureResource)
	}
	return &Handler{
		svc:       svc,
		audit:     audit,
		dir:       dir,
		verifier:  verifier,
		authority: authority,
		resource:  cfg.Resource,
		audiences: audiences,
		limiter:   newLimiter(cfg.Throttle, cfg.Now),
		log:       cfg.Logger,
		now:       cfg.Now,
	}, nil
}

// call is one request in flight: what the audit trail records about it.
type call struct {
	start      time.Time
	vault      string
	route      route
	apiVersion string
	claims     *token.Claims
	status     int
	errCode    string
}

// ServeHTTP implements http.Handler for requests whose host is a vault host name.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := call{start: h.now(), vault: vaultLabel(r.Host)}
	c.route = parseRoute(r.Method, r.URL.EscapedPath())
	defer h.record(r, &c)

	v, ok := h.dir.LookupVault(c.vault)
	if !ok {
		h.fail(w, &c, fault.New(fault.NotFound, "VaultNotFound",
			"There is no vault named %q on this Keystage server. Create it first (keystage keyvault create).", clip(c.vault)))
		return
	}
	claims, err := h.authenticate(r, &v)
	if err != nil {
		h.challenge(w, &c, &v, err)
		return
	}
	c.claims = claims
	apiVersion, present := queryValue(r.URL.RawQuery, "api-version")
	c.apiVersion = apiVersion
	if err := checkAPIVersion(apiVersion, present); err != nil {
		h.fail(w, &c, err)
		return
	}
	if c.route.err != nil {
		h.fail(w, &c, c.route.err)
		return
	}
	if namesSecret(c.route.op) && !keyvault.ValidName(c.route.name) {
		h.fail(w, &c, keyvault.ErrInvalidName(c.route.name))
		return
	}
	if ok, retry := h.limiter.allow(v.Name, c.route.op == authz.SecretSet); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		h.fail(w, &c, fault.New(fault.TooManyRequests, "Throttled",
			"Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"))
		return
	}
	if err := h.dir.AuthorizeSecret(r.Context(), &v, claims, c.route.op, c.route.name); err != nil {
		h.fail(w, &c, err)
		return
	}
	vw := view{base: "https://" + strings.ToLower(r.Host), vault: &v.Vault}
	h.serve(w, r, &c, &v, vw, apiVersion)
}

// vaultLabel returns the first label of host, lower-cased: the vault name. The router
// sends only {vault}.{suffix} hosts here.
func vaultLabel(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	name, _, _ := strings.Cut(host, ".")
	return strings.ToLower(name)
}

// record adds the call to the audit trail.
func (h *Handler) record(r *http.Request, c *call) {
	if h.audit == nil {
		return
	}
	e := keyvault.Event{
		Time:       c.start,
		RequestID:  requestid.From(r.Context()),
		Vault:      c.vault,
		Operation:  auditName(c.route.op),
		SecretName: c.route.name,
		Version:    c.route.version,
		Status:     c.status,
		ErrorCode:  c.errCode,
		APIVersion: clip(c.apiVersion),
		DurationMS: h.now().Sub(c.start).Milliseconds(),
	}
	if len(e.SecretName) > keyvault.MaxNameLength {
		e.SecretName = e.SecretName[:keyvault.MaxNameLength]
	}
	if len(e.Version) > 32 {
		e.Version = e.Version[:32]
	}
	if c.claims != nil {
		e.TenantID, e.ObjectID, e.AppID = c.claims.TenantID, c.claims.ObjectID, c.claims.AppID
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e.ClientIP = ip
	}
	h.audit.Record(e)
}

// errUnavailable is the answer when a dependency (storage) fails.
func errUnavailable() *fault.Error {
	return fault.New(fault.Unavailable, "ServiceUnavailable", "The service is temporarily unavailable; retry the request.")
}

// isCanceled reports whether err comes from the client going away.
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
