package devopshttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/identity/token"
	"github.com/keystage/keystage/internal/storage"
)

const (
	testTenant = "11111111-1111-4111-8111-111111111111"
	adminOID   = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	ownerOID   = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	otherOID   = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
	// orgName is created mixed-case; clients lower-case the URL.
	orgName = "Fabrikam"
)

// harness is the DevOps surface served over real HTTPS on a barrier over SQLite or
// PostgreSQL, with Keystage access tokens from a real issuer and verifier.
type harness struct {
	t      testing.TB
	svc    *devops.Service
	h      *Handler
	srv    *httptest.Server
	URL    string
	pool   *x509.CertPool
	store  *identitytest.Store
	issuer *token.Issuer
	client *http.Client
	org    devops.Organization
	// AdminToken and OwnerToken are access tokens for Azure DevOps; OwnerPAT a PAT of the
	// organization's owner.
	AdminToken, OwnerToken, OtherToken string
	OwnerPAT                           string
}

func newHarness(t testing.TB, backend string) *harness {
	t.Helper()
	ctx := context.Background()
	st := identitytest.Open(t, backend)
	srv := httptest.NewUnstartedServer(nil)
	url := "https://" + srv.Listener.Addr().String()
	keys := token.NewKeyStore(st, token.KeyStoreConfig{})
	key, err := keys.Generate(testTenant)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(tx storage.Store) error { return keys.Put(ctx, tx, testTenant, key, true) }); err != nil {
		t.Fatal(err)
	}
	verifier, err := token.NewVerifier(keys, token.VerifierConfig{Authority: url})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := token.NewIssuer(keys, token.IssuerConfig{Authority: url})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := devops.New(st, st, devops.Config{
		ServerURL:      url,
		Administrators: []devops.PrincipalRef{{TenantID: testTenant, ObjectID: adminOID}},
		ReservedName:   func(n string) bool { return n == "healthz" },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := New(svc, Config{Tokens: verifier, PageSize: 50})
	srv.Config.Handler = h
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	hs := &harness{t: t, svc: svc, h: h, srv: srv, URL: url, pool: pool, store: st, issuer: issuer,
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}}
	t.Cleanup(hs.client.CloseIdleConnections)
	hs.AdminToken = hs.token(adminOID, AzureDevOpsResource)
	hs.OwnerToken = hs.token(ownerOID, AzureDevOpsResource)
	hs.OtherToken = hs.token(otherOID, AzureDevOpsResource)

	var org organizationJSON
	hs.do("POST", "/_apis/organizations", "Bearer "+hs.AdminToken, map[string]any{
		"name": orgName, "owners": []map[string]string{{"tenantId": testTenant, "objectId": ownerOID}},
	}, http.StatusCreated, &org)
	if hs.org, err = svc.Organization(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	var pat struct {
		PatToken patJSON `json:"patToken"`
	}
	hs.do("POST", "/"+orgName+"/_apis/tokens/pats", "Bearer "+hs.OwnerToken, map[string]string{"displayName": "tests"}, http.StatusOK, &pat)
	if pat.PatToken.Token == nil {
		t.Fatal("created PAT has no token")
	}
	hs.OwnerPAT = *pat.PatToken.Token
	return hs
}

// token issues an access token of principal oid for resource.
func (hs *harness) token(oid, resource string) string {
	hs.t.Helper()
	tok, err := hs.issuer.Issue(context.Background(), token.Grant{
		TenantID: testTenant, ObjectID: oid, AppID: oid, AppIDACR: token.ACRSecret, Resource: resource,
	})
	if err != nil {
		hs.t.Fatal(err)
	}
	return tok.Raw
}

func basic(secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+secret))
}

// orgURL is the organization URL as a user types it: mixed case.
func (hs *harness) orgURL() string { return hs.URL + "/" + orgName }

// conn returns a Go client connection authenticated with the owner's PAT.
func (hs *harness) conn() *azuredevops.Connection {
	c := azuredevops.NewPatConnection(hs.orgURL(), hs.OwnerPAT)
	c.TlsConfig = &tls.Config{RootCAs: hs.pool}
	return c
}

// connWith returns a connection sending authorization verbatim.
func (hs *harness) connWith(authorization string) *azuredevops.Connection {
	c := azuredevops.NewAnonymousConnection(hs.orgURL())
	c.AuthorizationString = authorization
	c.TlsConfig = &tls.Config{RootCAs: hs.pool}
	return c
}

// response is a raw answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// send issues a raw request; body is JSON-encoded unless it is a string or nil.
func (hs *harness) send(method, path, authorization string, body any, header ...string) response {
	hs.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			hs.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, hs.URL+path, rd)
	if err != nil {
		hs.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hs.client.Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		hs.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// do sends a request, requires status and decodes the answer into out (when not nil).
func (hs *harness) do(method, path, authorization string, body any, status int, out any) response {
	hs.t.Helper()
	r := hs.send(method, path, authorization, body)
	if r.Status != status {
		hs.t.Fatalf("%s %s = %d %s, want %d", method, path, r.Status, r.Body, status)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			hs.t.Fatalf("%s %s: decode %s: %v", method, path, r.Body, err)
		}
	}
	return r
}

// forEachBackend runs fn on a harness over SQLite and one over PostgreSQL (skipped when
// KEYSTAGE_TEST_POSTGRES is unset).
func forEachBackend(t *testing.T, fn func(t *testing.T, hs *harness)) {
	for _, b := range identitytest.Backends {
		t.Run(b, func(t *testing.T) { fn(t, newHarness(t, b)) })
	}
}

func ptr[T any](v T) *T { return &v }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func projectInput(name string) devops.NewProject { return devops.NewProject{Name: name} }
