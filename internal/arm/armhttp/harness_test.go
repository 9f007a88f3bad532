package armhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/arm/armhttp"
	"github.com/keystage/keystage/internal/arm/armtest"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/server/servertest"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

// sdkEnv is a running management plane that the SDK scenarios drive over HTTPS.
type sdkEnv struct {
	URL          string
	Client       *http.Client
	TenantID     string
	Subscription string
	Admin        azcore.TokenCredential
	AdminID      string
	// NewPrincipal creates a service principal without any role and returns a credential
	// for it and its object id.
	NewPrincipal func(t *testing.T) (azcore.TokenCredential, string)
	// Service is the management plane itself, for checks the REST API cannot make.
	Service *arm.Service
	// SmallPages is set when lists are cut into pages of two, so that paging is exercised.
	SmallPages bool
}

// options returns SDK client options that reach env: only the endpoint, audience and
// transport differ from Azure's.
func (e *sdkEnv) options() *azarm.ClientOptions {
	return &azarm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: e.URL + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: e.URL, Audience: "https://management.azure.com/"},
			},
		},
		Transport: e.Client,
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
}

// staticToken is a TokenCredential with a fixed token, for the in-process harness whose
// authenticator maps tokens to callers.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// mapAuthenticator authenticates "Bearer {object id}" tokens of known callers.
type mapAuthenticator struct {
	mu      sync.Mutex
	callers map[string]arm.Caller
}

func (m *mapAuthenticator) Authenticate(r *http.Request) (arm.Caller, error) {
	tok, err := armhttp.BearerToken(r)
	if err != nil {
		return arm.Caller{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.callers[tok]
	if !ok {
		return arm.Caller{}, fault.New(fault.Unauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
	}
	return c, nil
}

// newFakeEnv serves the ARM handler over TLS with an in-memory directory and a token map
// instead of the identity service.
func newFakeEnv(t *testing.T) *sdkEnv {
	t.Helper()
	e, h := newFakeHandler(t)
	// HTTP/2, as Keystage serves: armauthorization sends $filter unencoded (with spaces),
	// which an HTTP/1.1 request line cannot carry.
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	e.URL, e.Client = srv.URL, srv.Client()
	return e
}

// newFakeHandler returns an environment without a server, and its handler.
func newFakeHandler(t testing.TB) (*sdkEnv, http.Handler) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "arm.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir := armtest.NewDirectory()
	svc, err := arm.New(ctx, db, dir, arm.Config{VaultSuffix: "vault.localhost"})
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.NewString()
	auth := &mapAuthenticator{callers: map[string]arm.Caller{}}
	add := func() (azcore.TokenCredential, string) {
		id := dir.AddPrincipal(tenant, arm.PrincipalServicePrincipal)
		auth.mu.Lock()
		auth.callers[id] = arm.Caller{TenantID: tenant, ObjectID: id, AppID: uuid.NewString(), Type: arm.PrincipalServicePrincipal}
		auth.mu.Unlock()
		return staticToken(id), id
	}
	admin, adminID := add()
	sub, err := svc.Bootstrap(ctx, tenant, adminID, arm.PrincipalServicePrincipal)
	if err != nil {
		t.Fatal(err)
	}
	h := armhttp.New(svc, auth, armhttp.Config{PageSize: 2})
	return &sdkEnv{
		TenantID: tenant, Subscription: sub.ID, Admin: admin, AdminID: adminID, Service: svc, SmallPages: true,
		NewPrincipal: func(*testing.T) (azcore.TokenCredential, string) { return add() },
	}, h
}

// forEachEnv runs fn against the handler alone (an in-memory directory, tokens mapped to
// callers), then against the real server on SQLite and on PostgreSQL, where tokens come
// from Keystage's identity provider.
func forEachEnv(t *testing.T, fn func(t *testing.T, e *sdkEnv)) {
	t.Run("handler", func(t *testing.T) { fn(t, newFakeEnv(t)) })
	servertest.Each(t, servertest.Options{}, func(t *testing.T, e *servertest.Env) { fn(t, newServerEnv(t, e)) })
}

// respErr returns the *azcore.ResponseError in err, failing the test when there is none.
func respErr(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an *azcore.ResponseError", err)
	}
	return re
}

// wantError checks that err is an ARM error with status and code.
func wantError(t *testing.T, err error, status int, code string) {
	t.Helper()
	re := respErr(t, err)
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("error = %d %s (%v), want %d %s", re.StatusCode, re.ErrorCode, firstLine(err.Error()), status, code)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func ptr[T any](v T) *T { return &v }
