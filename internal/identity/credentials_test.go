package identity_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/identitytest"
	"github.com/keystage/keystage/internal/storage"
)

func TestClientSecrets(t *testing.T) {
	identitytest.ForEachBackend(t, func(t *testing.T, st *identitytest.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		app, err := e.svc.CreateApplication(ctx, e.tenant.ID, "app")
		if err != nil {
			t.Fatal(err)
		}
		end := e.clock.Now().Add(time.Hour)
		s, err := e.svc.AddClientSecret(ctx, e.tenant.ID, app.AppID, identity.SecretOptions{DisplayName: "ci", EndDateTime: &end})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.SecretText) < 40 || s.Hint != s.SecretText[:3] || !strings.Contains(s.SecretText, "8Q~") {
			t.Errorf("secret shape: hint %q, length %d", s.Hint, len(s.SecretText))
		}
		if strings.Contains(fmt.Sprint(s), s.SecretText) {
			t.Error("fmt output of a new secret contains the secret")
		}
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("created", "secret", s)
		if strings.Contains(logged.String(), s.SecretText) {
			t.Error("log output of a new secret contains the secret")
		}
		// Stored only as a MAC: neither the sealed nor the opened bytes contain it.
		for _, backend := range []struct {
			name string
			list func() ([][]byte, error)
		}{
			{"barrier", func() ([][]byte, error) { return values(st.List(ctx, "identity/", "", 0)) }},
			{"physical", func() ([][]byte, error) { return values(st.Phys.List(ctx, "identity/", "", 0)) }},
		} {
			vals, err := backend.list()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if bytes.Contains(v, []byte(s.SecretText)) || bytes.Contains(v, []byte(s.SecretText[6:])) {
					t.Errorf("%s storage holds the secret value", backend.name)
				}
			}
		}
		list, err := e.svc.ClientSecrets(ctx, e.tenant.ID, app.AppID)
		if err != nil || len(list) != 1 || list[0].KeyID != s.KeyID || list[0].Hint != s.Hint || !list[0].EndDateTime.Equal(end) {
			t.Fatalf("ClientSecrets = %+v, %v", list, err)
		}
		req := identity.ClientCredentialsRequest{Tenant: e.tenant.ID, ClientID: app.AppID, ClientSecret: s.SecretText, Scope: vaultRes + "/.default"}
		if _, err := e.svc.ClientCredentials(ctx, req); err != nil {
			t.Fatalf("valid secret: %v", err)
		}
		wrong := req
		wrong.ClientSecret = s.SecretText[:len(s.SecretText)-1] + "x"
		_, err = e.svc.ClientCredentials(ctx, wrong)
		wantCode(t, err, fault.Unauthorized, identity.AADSTSInvalidSecret)

		// The same secret text never authenticates another application.
		other, err := e.svc.CreateApplication(ctx, e.tenant.ID, "other")
		if err != nil {
			t.Fatal(err)
		}
		cross := req
		cross.ClientID = other.AppID
		_, err = e.svc.ClientCredentials(ctx, cross)
		wantCode(t, err, fault.Unauthorized, identity.AADSTSInvalidSecret)

		e.clock.Advance(time.Hour)
		_, err = e.svc.ClientCredentials(ctx, req)
		wantCode(t, err, fault.Unauthorized, identity.AADSTSExpiredSecret)

		if err := e.svc.RemoveClientSecret(ctx, e.tenant.ID, app.AppID, s.KeyID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.ClientCredentials(ctx, req)
		wantCode(t, err, fault.Unauthorized, identity.AADSTSInvalidSecret)
		if err := e.svc.RemoveClientSecret(ctx, e.tenant.ID, app.AppID, s.KeyID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("removing twice: %v", err)
		}
	})
}

func values(entries []storage.Entry, err error) ([][]byte, error) {
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e.Value
	}
	return out, err
}

func TestClientSecretRules(t *testing.T) {
	e := newSQLiteEnv(t)
	ctx := context.Background()
	app, _ := e.svc.CreateApplication(ctx, e.tenant.ID, "app")
	past := e.clock.Now().Add(-time.Second)
	if _, err := e.svc.AddClientSecret(ctx, e.tenant.ID, app.AppID, identity.SecretOptions{EndDateTime: &past}); !fault.Is(err, fault.BadRequest) {
		t.Errorf("expired at creation: %v", err)
	}
	seen := map[string]bool{}
	for i := range identity.MaxClientSecrets {
		s, err := e.svc.AddClientSecret(ctx, e.tenant.ID, app.AppID, identity.SecretOptions{})
		if err != nil {
			t.Fatalf("secret %d: %v", i, err)
		}
		if seen[s.SecretText] {
			t.Fatal("duplicate secret generated")
		}
		seen[s.SecretText] = true
	}
	if _, err := e.svc.AddClientSecret(ctx, e.tenant.ID, app.AppID, identity.SecretOptions{}); !fault.Is(err, fault.BadRequest) {
		t.Errorf("secret %d: %v, want BadRequest", identity.MaxClientSecrets+1, err)
	}
	if _, err := e.svc.AddClientSecret(ctx, e.tenant.ID, "00000000-0000-4000-8000-000000000000", identity.SecretOptions{}); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("unknown app: %v", err)
	}
}

// countingMAC counts MAC computations.
type countingMAC struct {
	inner identity.MAC
	n     atomic.Int64
}

func (c *countingMAC) MAC(purpose string, msg []byte) []byte {
	c.n.Add(1)
	return c.inner.MAC(purpose, msg)
}

// TestSecretCheckShape pins the shape of the constant-time check: one MAC per attempt,
// whichever of the application's secrets matches (or none), and every stored MAC compared
// (hmac.Equal) with no early exit — timing says nothing about which secret matched.
func TestSecretCheckShape(t *testing.T) {
	st := identitytest.Open(t, "sqlite")
	mac := &countingMAC{inner: st}
	svc, err := identity.New(st, mac, identity.Config{Authority: authority, Resources: resources}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	boot, err := svc.Bootstrap(ctx, identity.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app, _ := svc.CreateApplication(ctx, boot.Tenant.ID, "app")
	var secrets []string
	for range 5 {
		s, err := svc.AddClientSecret(ctx, boot.Tenant.ID, app.AppID, identity.SecretOptions{})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s.SecretText)
	}
	for i, secret := range append(secrets, "wrong") {
		before := mac.n.Load()
		_, err := svc.ClientCredentials(ctx, identity.ClientCredentialsRequest{Tenant: boot.Tenant.ID, ClientID: app.AppID, ClientSecret: secret, Scope: vaultRes + "/.default"})
		if (i < len(secrets)) != (err == nil) {
			t.Fatalf("secret %d: %v", i, err)
		}
		if n := mac.n.Load() - before; n != 1 {
			t.Errorf("secret %d: %d MAC computations, want 1", i, n)
		}
	}
}
