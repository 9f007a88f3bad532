package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

const (
	// MaxClientSecrets caps the secrets of one application; it also bounds the work of
	// checking a presented secret against all of them.
	MaxClientSecrets = 20
	secretMACPurpose = "identity/client-secret/v1"
	hintAlphabet     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secretRandBytes  = 28 // 224 bits, besides the 3-character hint
)

// ClientSecret describes a client secret without its value (Graph's passwordCredential):
// Hint is the secret's first three characters, as Entra shows it.
type ClientSecret struct {
	KeyID         string     `json:"keyId"`
	DisplayName   string     `json:"displayName,omitempty"`
	Hint          string     `json:"hint"`
	StartDateTime time.Time  `json:"startDateTime"`
	EndDateTime   *time.Time `json:"endDateTime,omitempty"`
}

// NewClientSecret is a secret as created: SecretText is shown this once and never stored.
type NewClientSecret struct {
	ClientSecret
	SecretText string
}

// LogValue keeps the secret out of logs.
func (n NewClientSecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("keyId", n.KeyID), slog.String("hint", n.Hint))
}

// String keeps the secret out of formatted output.
func (n NewClientSecret) String() string { return "client secret " + n.KeyID + " (" + n.Hint + "…)" }

// storedSecret is what storage holds: the description and a MAC of the value.
type storedSecret struct {
	ClientSecret
	MAC []byte `json:"mac"`
}

// SecretOptions describe a new client secret.
type SecretOptions struct {
	DisplayName string
	// EndDateTime is when the secret stops working; nil means never.
	EndDateTime *time.Time
}

// AddClientSecret creates a high-entropy secret for the application appID and returns it;
// only its MAC is stored.
func (s *Service) AddClientSecret(ctx context.Context, tenantID, appID string, opts SecretOptions) (NewClientSecret, error) {
	app, err := s.Application(ctx, tenantID, appID)
	if err != nil {
		return NewClientSecret{}, err
	}
	n, err := s.newSecret(app, opts)
	if err != nil {
		return NewClientSecret{}, err
	}
	err = s.st.Update(ctx, func(tx storage.Store) error { return s.putSecret(ctx, tx, app, n) })
	if err != nil {
		return NewClientSecret{}, storageError("add client secret", err)
	}
	s.log.InfoContext(ctx, "client secret added", "tenant", app.TenantID, "app_id", app.AppID, "key_id", n.KeyID)
	return n, nil
}

// newSecret generates a secret for app; it stores nothing.
func (s *Service) newSecret(app Application, opts SecretOptions) (NewClientSecret, error) {
	now := s.now().UTC()
	if opts.EndDateTime != nil && !opts.EndDateTime.After(now) {
		return NewClientSecret{}, badRequest("The secret's end date must be in the future.")
	}
	if len(opts.DisplayName) > maxDisplayName {
		return NewClientSecret{}, badRequest("The secret's display name is longer than %d bytes.", maxDisplayName)
	}
	text, err := generateSecret()
	if err != nil {
		return NewClientSecret{}, err
	}
	cs := ClientSecret{KeyID: newID(), DisplayName: opts.DisplayName, Hint: text[:3], StartDateTime: now}
	if opts.EndDateTime != nil {
		end := opts.EndDateTime.UTC()
		cs.EndDateTime = &end
	}
	return NewClientSecret{ClientSecret: cs, SecretText: text}, nil
}

// putSecret stores n's MAC in tx, enforcing MaxClientSecrets.
func (s *Service) putSecret(ctx context.Context, tx storage.Store, app Application, n NewClientSecret) error {
	existing, err := tx.List(ctx, secretsPrefix(app.TenantID, app.AppID), "", 0)
	if err != nil {
		return err
	}
	if len(existing) >= MaxClientSecrets {
		return badRequest("Application '%s' already has %d client secrets; remove one first.", app.AppID, MaxClientSecrets)
	}
	rec := storedSecret{ClientSecret: n.ClientSecret, MAC: s.secretMAC(app, n.SecretText)}
	return storage.PutJSON(ctx, tx, secretsPrefix(app.TenantID, app.AppID)+n.KeyID, rec)
}

// generateSecret returns a secret shaped like Entra's: a 3-character alphanumeric hint,
// the "8Q~" marker, then 224 random bits in base64url.
func generateSecret() (string, error) {
	hint := make([]byte, 0, 3)
	var b [1]byte
	for len(hint) < 3 {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		if int(b[0]) < 256-256%len(hintAlphabet) { // rejection sampling: no modulo bias
			hint = append(hint, hintAlphabet[int(b[0])%len(hintAlphabet)])
		}
	}
	body := make([]byte, secretRandBytes)
	if _, err := rand.Read(body); err != nil {
		return "", err
	}
	return string(hint) + "8Q~" + base64.RawURLEncoding.EncodeToString(body), nil
}

// secretMAC binds the secret to its tenant and application, so a secret can only ever
// authenticate the app it was issued to.
func (s *Service) secretMAC(app Application, secret string) []byte {
	return s.mac.MAC(secretMACPurpose, []byte(app.TenantID+"\x00"+app.AppID+"\x00"+secret))
}

// ClientSecrets lists the application's secrets (never their values).
func (s *Service) ClientSecrets(ctx context.Context, tenantID, appID string) ([]ClientSecret, error) {
	app, err := s.Application(ctx, tenantID, appID)
	if err != nil {
		return nil, err
	}
	recs, err := storage.ListJSON[storedSecret](ctx, s.st, secretsPrefix(app.TenantID, app.AppID), "", 0)
	if err != nil {
		return nil, storageError("list client secrets", err)
	}
	out := make([]ClientSecret, len(recs))
	for i, r := range recs {
		out[i] = r.ClientSecret
	}
	return out, nil
}

// RemoveClientSecret deletes the secret keyID of the application.
func (s *Service) RemoveClientSecret(ctx context.Context, tenantID, appID, keyID string) error {
	app, err := s.Application(ctx, tenantID, appID)
	if err != nil {
		return err
	}
	kid, ok := NormalizeGUID(keyID)
	if !ok {
		return notFound("Client secret '%s' not found.", truncate(keyID))
	}
	key := secretsPrefix(app.TenantID, app.AppID) + kid
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if ok, err := exists(ctx, tx, key); err != nil {
			return err
		} else if !ok {
			return notFound("Client secret '%s' not found on application '%s'.", kid, app.AppID)
		}
		return tx.Delete(ctx, key)
	})
	if err != nil {
		return storageError("remove client secret", err)
	}
	s.log.InfoContext(ctx, "client secret removed", "tenant", app.TenantID, "app_id", app.AppID, "key_id", kid)
	return nil
}

// checkSecret authenticates secret for app in constant time per stored secret: the MAC is
// computed once and compared with every stored MAC (no early exit), so timing reveals
// neither which secret matched nor how much of one did.
func (s *Service) checkSecret(ctx context.Context, app Application, secret string) error {
	recs, err := storage.ListJSON[storedSecret](ctx, s.st, secretsPrefix(app.TenantID, app.AppID), "", 0)
	if err != nil {
		return storageError("check client secret", err)
	}
	mac := s.secretMAC(app, secret)
	var match *storedSecret
	for i := range recs {
		if hmac.Equal(recs[i].MAC, mac) {
			match = &recs[i]
		}
	}
	if match == nil {
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSInvalidSecret,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.AppID)
	}
	if match.EndDateTime != nil && !s.now().Before(*match.EndDateTime) {
		return grantError(fault.Unauthorized, CodeInvalidClient, AADSTSExpiredSecret,
			"The provided client secret keys for app '%s' are expired. Create new keys for your app, or consider using certificate credentials or federated identity credentials.", app.AppID)
	}
	return nil
}
