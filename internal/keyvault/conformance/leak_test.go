package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keystage/keystage/internal/server"
	"github.com/keystage/keystage/internal/server/servertest"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNothingLeaks is identity.md §5 items 44 and 45: after a session of secret operations,
// failures included, neither the server's debug log nor the audit trail nor any error body
// holds a secret value (in clear, base64, JSON- or URL-escaped), the administrator's client
// secret or an access token.
func TestNothingLeaks(t *testing.T) {
	var logs syncBuffer
	opts := servertest.Options{Config: func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}}
	servertest.Each(t, opts, func(t *testing.T, e *servertest.Env) {
		h := newHarness(t, e)
		h.vault("leaks", vaultSpec{})
		const value = "Leak-Canary-7Q2w\"9x/+é"
		rec := &recorder{next: e.Client}
		c := h.secrets("leaks", h.cred, func(o *azsecrets.ClientOptions) { o.Transport = rec })
		if _, err := c.SetSecret(ctx(t), "canary", azsecrets.SetSecretParameters{Value: ptr(value)}, nil); err != nil {
			t.Fatal(err)
		}
		c.GetSecret(ctx(t), "canary", "", nil)
		b, _ := c.BackupSecret(ctx(t), "canary", nil)
		c.SetSecret(ctx(t), "too-long", azsecrets.SetSecretParameters{Value: ptr(value + strings.Repeat("x", 25600))}, nil)
		c.SetSecret(ctx(t), "bad_name", azsecrets.SetSecretParameters{Value: ptr(value)}, nil)
		c.RestoreSecret(ctx(t), azsecrets.RestoreSecretParameters{SecretBackup: b.Value}, nil)
		tok, err := h.cred.GetToken(ctx(t), policy.TokenRequestOptions{Scopes: []string{h.resource() + "/.default"}})
		if err != nil {
			t.Fatal(err)
		}
		h.call("PUT", e.VaultURL("leaks")+"secrets/body?api-version=7.6", tok.Token, map[string]any{"value": value, "tags": map[string]any{"k": 1}}, nil)
		var audit json.RawMessage
		h.arm("GET", "/keystage/keyvault/vaults/leaks/auditEvents?top=1000", nil, &audit)
		if !strings.Contains(string(audit), "SecretSet") {
			t.Fatalf("the audit trail lacks the calls: %s", audit)
		}

		jsonValue, _ := json.Marshal(value)
		forbidden := map[string]string{
			"value":          value,
			"value (JSON)":   strings.Trim(string(jsonValue), `"`),
			"value (URL)":    url.QueryEscape(value),
			"value (base64)": base64.StdEncoding.EncodeToString([]byte(value)),
			"client secret":  h.admin.ClientSecret,
			"access token":   tok.Token,
			"token payload":  strings.Split(tok.Token, ".")[1],
		}
		places := map[string]string{"server log": logs.String(), "audit trail": string(audit)}
		errorBodies := 0
		for i, ex := range rec.exchanges() {
			if ex.Status >= 400 && ex.Status != 401 {
				places[fmt.Sprintf("error body %d (%s %s)", i, ex.Method, ex.Path)] = ex.ErrorBody
				errorBodies++
			}
		}
		if errorBodies < 3 {
			t.Errorf("only %d error bodies recorded", errorBodies)
		}
		for where, text := range places {
			for what, s := range forbidden {
				if strings.Contains(text, s) {
					t.Errorf("the %s holds the %s", where, what)
				}
			}
		}
		if !strings.Contains(logs.String(), `"api":"keyvault"`) {
			t.Error("the server log has no Key Vault request lines: the scan proves nothing")
		}
	})
}
