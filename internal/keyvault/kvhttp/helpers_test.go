package kvhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/barrier"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/keyvault"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

const (
	testAuthority = "https://localhost:8443"
	testResource  = "https://vault.localhost:8443"
	testHost      = "myvault.vault.localhost:8443"
	tenantA       = "11111111-1111-1111-1111-111111111111"
	tenantB       = "22222222-2222-2222-2222-222222222222"
	oidAdmin      = "aaaaaaaa-0000-0000-0000-000000000001"
	oidReader     = "aaaaaaaa-0000-0000-0000-000000000002"
)

// fakeDirectory serves vaults from a map and grants operations per object id: a stand-in
// for the management plane in unit tests (the real one is tested end to end in server).
type fakeDirectory struct {
	mu     sync.Mutex
	vaults map[string]Vault
	grants map[string]map[authz.SecretOperation]bool // oid -> allowed operations; nil map: everything
}

func (d *fakeDirectory) LookupVault(name string) (Vault, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vaults[strings.ToLower(name)]
	return v, ok
}

func (d *fakeDirectory) AuthorizeSecret(_ context.Context, v *Vault, c *token.Claims, op authz.SecretOperation, secret string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	g, ok := d.grants[c.ObjectID]
	if ok && (g == nil || g[op]) {
		return nil
	}
	return fault.New(fault.Forbidden, "Forbidden", "The user, group or application 'oid=%s' does not have secrets permission on key vault '%s'.", c.ObjectID, v.Name).WithInner("AccessDenied")
}

type env struct {
	t       testing.TB
	store   *barrier.Barrier
	h       *Handler
	svc     *keyvault.Service
	audit   *keyvault.Audit
	dir     *fakeDirectory
	issuer  *token.Issuer
	now     *clock
	admin   string // bearer token of oidAdmin for testResource
	handler http.Handler
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnv(t testing.TB, throttle Throttle) *env {
	t.Helper()
	ctx := context.Background()
	phys, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "kv.db")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := barrier.Open(ctx, phys, bytes.Repeat([]byte{3}, 32), barrier.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	clk := &clock{t: time.Now().Truncate(time.Second)}
	keys := token.NewKeyStore(b, token.KeyStoreConfig{Bits: 2048, Now: clk.Now})
	for _, tid := range []string{tenantA, tenantB} {
		k, err := keys.Generate(tid)
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Put(ctx, b, tid, k, true); err != nil {
			t.Fatal(err)
		}
	}
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{Authority: testAuthority, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Authority: testAuthority, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc := keyvault.New(b, b, keyvault.Config{Now: clk.Now})
	audit := keyvault.NewAudit(b, keyvault.AuditConfig{Now: clk.Now})
	dir := &fakeDirectory{
		vaults: map[string]Vault{"myvault": {Vault: keyvault.Vault{ID: "vault-1", Name: "myvault", TenantID: tenantA, RetentionDays: 7}, Location: "westeurope"}},
		grants: map[string]map[authz.SecretOperation]bool{oidAdmin: nil, oidReader: {authz.SecretGet: true, authz.SecretList: true}},
	}
	h, err := New(svc, audit, dir, verifier, Config{Authority: testAuthority, Resource: testResource, Throttle: throttle, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: b, h: h, svc: svc, audit: audit, dir: dir, issuer: issuer, now: clk, handler: h}
	e.admin = e.token(tenantA, oidAdmin, testResource, 0)
	return e
}

// token issues a token for oid in tenant for resource.
func (e *env) token(tenant, oid, resource string, lifetime time.Duration) string {
	e.t.Helper()
	tok, err := e.issuer.Issue(context.Background(), token.Grant{
		TenantID: tenant, ObjectID: oid, AppID: oid, AppIDACR: token.ACRSecret, Resource: resource, Lifetime: lifetime,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Raw
}

// do sends a request to the vault host and returns the response.
func (e *env) do(method, target, bearer string, body any) *http.Response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, "https://"+testHost+target, rd)
	req.RemoteAddr = "192.0.2.7:51000"
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec.Result()
}

// doJSON sends a request as the admin and decodes a JSON answer of wantStatus.
func (e *env) doJSON(method, target string, body any, wantStatus int) map[string]any {
	e.t.Helper()
	resp := e.do(method, target, e.admin, body)
	return decodeResp(e.t, resp, wantStatus)
}

func decodeResp(t testing.TB, resp *http.Response, wantStatus int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, wantStatus, raw)
	}
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, raw)
	}
	return m
}

// errorCodes returns error.code and error.innererror.code of an error body.
func errorCodes(m map[string]any) (code, inner string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	if ie, ok := e["innererror"].(map[string]any); ok {
		inner, _ = ie["code"].(string)
	}
	return code, inner
}

const api = "?api-version=2026-04-01"
