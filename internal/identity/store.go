package identity

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/storage"
)

// Storage layout. Every value is JSON sealed by the barrier; identifiers in keys are
// lower-case GUIDs except where noted.
//
//	identity/bootstrap                              bootstrapRecord
//	identity/tenants/{tid}                          Tenant
//	identity/t/{tid}/apps/{appId}                   Application
//	identity/t/{tid}/objects/{objectId}             objectRef (app object, service principal, managed identity)
//	identity/t/{tid}/secrets/{appId}/{keyId}        storedSecret (MAC only)
//	identity/t/{tid}/mis/{clientId}                 ManagedIdentity
//	identity/t/{tid}/fics/{clientId}/{name}         FederatedCredential (name lower-cased)
//	identity/mi-resources/{resourceId}              miRef (resource id lower-cased)
//	identity/endpoint-credentials/{id}              storedEndpointCredential (MAC only)
//	identity/keys/…, identity/key-active/…          signing keys (package token)
const (
	bootstrapKey        = "identity/bootstrap"
	tenantsPrefix       = "identity/tenants/"
	miResourcesPrefix   = "identity/mi-resources/"
	endpointCredsPrefix = "identity/endpoint-credentials/"
)

func tenantKey(tid string) string            { return tenantsPrefix + tid }
func scoped(tid, rest string) string         { return "identity/t/" + tid + "/" + rest }
func appKey(tid, appID string) string        { return scoped(tid, "apps/"+appID) }
func objectKey(tid, oid string) string       { return scoped(tid, "objects/"+oid) }
func secretsPrefix(tid, appID string) string { return scoped(tid, "secrets/"+appID+"/") }
func miKey(tid, clientID string) string      { return scoped(tid, "mis/"+clientID) }
func ficPrefix(tid, clientID string) string  { return scoped(tid, "fics/"+clientID+"/") }
func ficKey(tid, clientID, name string) string {
	return ficPrefix(tid, clientID) + strings.ToLower(name)
}
func miResourceKey(resourceID string) string { return miResourcesPrefix + strings.ToLower(resourceID) }

// exists reports whether key is present.
func exists(ctx context.Context, st storage.Store, key string) (bool, error) {
	_, err := st.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// newID returns a random lower-case GUID.
func newID() string { return uuid.NewString() }

// NormalizeGUID returns s as a lower-case GUID, or false when s is not a GUID in the
// 8-4-4-4-12 form (braces, URNs and other spellings uuid.Parse tolerates are refused).
func NormalizeGUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}
