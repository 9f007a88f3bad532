package identity

import (
	"context"
	"errors"

	"github.com/keystage/keystage/internal/storage"
)

// PrincipalKind says what a directory object id names.
type PrincipalKind string

// Kinds of principals (objects that can hold role assignments and access policies).
const (
	KindServicePrincipal PrincipalKind = "ServicePrincipal"
	KindManagedIdentity  PrincipalKind = "ManagedIdentity"
	// kindApplication is an application object: it has an object id but is no principal.
	kindApplication PrincipalKind = "Application"
)

// objectRef indexes an object id to the client id that owns it.
type objectRef struct {
	Kind     PrincipalKind `json:"kind"`
	ClientID string        `json:"clientId"`
}

// Principal is a security principal of a tenant: an application's service principal or a
// user-assigned managed identity. ObjectID is the oid of its tokens; ClientID the appid.
type Principal struct {
	Kind        PrincipalKind
	TenantID    string
	ObjectID    string
	ClientID    string
	DisplayName string
	// ResourceID is the ARM id of a managed identity; empty for service principals.
	ResourceID string
}

// Principal returns the principal whose object id is objectID in tenantID. An
// application object id (not a principal) is not found.
func (s *Service) Principal(ctx context.Context, tenantID, objectID string) (Principal, error) {
	tid, ok1 := NormalizeGUID(tenantID)
	oid, ok2 := NormalizeGUID(objectID)
	if !ok1 || !ok2 {
		return Principal{}, notFound("Principal '%s' not found.", truncate(objectID))
	}
	var ref objectRef
	err := storage.GetJSON(ctx, s.st, objectKey(tid, oid), &ref)
	if errors.Is(err, storage.ErrNotFound) || ref.Kind == kindApplication {
		return Principal{}, notFound("Principal '%s' not found in tenant '%s'.", oid, tid)
	}
	if err != nil {
		return Principal{}, storageError("get principal", err)
	}
	c, err := s.client(ctx, s.st, tid, ref.ClientID)
	if err != nil {
		return Principal{}, err
	}
	return c.principal(), nil
}

// client is an identity that can request tokens with client credentials: an application
// or a managed identity (through a federated credential).
type client struct {
	app *Application
	mi  *ManagedIdentity
}

func (c client) principal() Principal {
	if c.mi != nil {
		return Principal{Kind: KindManagedIdentity, TenantID: c.mi.TenantID, ObjectID: c.mi.PrincipalID,
			ClientID: c.mi.ClientID, DisplayName: c.mi.Name, ResourceID: c.mi.ResourceID}
	}
	return Principal{Kind: KindServicePrincipal, TenantID: c.app.TenantID, ObjectID: c.app.ServicePrincipalID,
		ClientID: c.app.AppID, DisplayName: c.app.DisplayName}
}

func (c client) tenantID() string { return c.principal().TenantID }
func (c client) clientID() string { return c.principal().ClientID }

// client finds clientID among tenant tid's applications and managed identities; both tid
// and clientID must already be lower-case GUIDs.
func (s *Service) client(ctx context.Context, st storage.Store, tid, clientID string) (client, error) {
	app, err := getApplication(ctx, st, tid, clientID)
	if err == nil {
		return client{app: &app}, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return client{}, err
	}
	mi, err := getManagedIdentity(ctx, st, tid, clientID)
	if err == nil {
		return client{mi: &mi}, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return client{}, err
	}
	return client{}, notFound("Application or managed identity '%s' not found in tenant '%s'.", clientID, tid)
}

// lookupClient is client for caller-supplied ids, which may be in any case (or not be
// GUIDs at all).
func (s *Service) lookupClient(ctx context.Context, tenantID, clientID string) (client, error) {
	tid, ok1 := NormalizeGUID(tenantID)
	id, ok2 := NormalizeGUID(clientID)
	if !ok1 || !ok2 {
		return client{}, notFound("Application or managed identity '%s' not found.", truncate(clientID))
	}
	return s.client(ctx, s.st, tid, id)
}
