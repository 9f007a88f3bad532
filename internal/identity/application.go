package identity

import (
	"context"
	"errors"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

// Application is an app registration together with its service principal, which Entra
// keeps as two objects: AppID is the client id, ObjectID the application object,
// ServicePrincipalID the service principal object (the oid of its tokens, the principal
// of role assignments and access policies).
type Application struct {
	TenantID           string    `json:"tenantId"`
	AppID              string    `json:"appId"`
	ObjectID           string    `json:"objectId"`
	ServicePrincipalID string    `json:"servicePrincipalId"`
	DisplayName        string    `json:"displayName"`
	Created            time.Time `json:"created"`
}

// CreateApplication registers an application and its service principal in tenantID.
func (s *Service) CreateApplication(ctx context.Context, tenantID, displayName string) (Application, error) {
	if err := checkDisplayName(displayName); err != nil {
		return Application{}, err
	}
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return Application{}, err
	}
	app := Application{
		TenantID: t.ID, AppID: newID(), ObjectID: newID(), ServicePrincipalID: newID(),
		DisplayName: displayName, Created: s.now().UTC(),
	}
	err = s.st.Update(ctx, func(tx storage.Store) error { return putApplication(ctx, tx, app) })
	if err != nil {
		return Application{}, storageError("create application", err)
	}
	s.log.InfoContext(ctx, "application created", "tenant", app.TenantID, "app_id", app.AppID)
	return app, nil
}

func putApplication(ctx context.Context, tx storage.Store, app Application) error {
	if err := storage.PutJSON(ctx, tx, appKey(app.TenantID, app.AppID), app); err != nil {
		return err
	}
	if err := storage.PutJSON(ctx, tx, objectKey(app.TenantID, app.ObjectID), objectRef{Kind: kindApplication, ClientID: app.AppID}); err != nil {
		return err
	}
	return storage.PutJSON(ctx, tx, objectKey(app.TenantID, app.ServicePrincipalID), objectRef{Kind: KindServicePrincipal, ClientID: app.AppID})
}

// Application returns the application whose client id is appID.
func (s *Service) Application(ctx context.Context, tenantID, appID string) (Application, error) {
	tid, ok1 := NormalizeGUID(tenantID)
	id, ok2 := NormalizeGUID(appID)
	if !ok1 || !ok2 {
		return Application{}, notFound("Application '%s' not found.", truncate(appID))
	}
	return getApplication(ctx, s.st, tid, id)
}

// ApplicationByObjectID returns the application whose application object id (Graph's id,
// not its client id or its service principal's id) is objectID.
func (s *Service) ApplicationByObjectID(ctx context.Context, tenantID, objectID string) (Application, error) {
	tid, ok1 := NormalizeGUID(tenantID)
	oid, ok2 := NormalizeGUID(objectID)
	if !ok1 || !ok2 {
		return Application{}, notFound("Application object '%s' not found.", truncate(objectID))
	}
	var ref objectRef
	err := storage.GetJSON(ctx, s.st, objectKey(tid, oid), &ref)
	if errors.Is(err, storage.ErrNotFound) || err == nil && ref.Kind != kindApplication {
		return Application{}, notFound("Application object '%s' not found in tenant '%s'.", oid, tid)
	}
	if err != nil {
		return Application{}, storageError("get application", err)
	}
	return getApplication(ctx, s.st, tid, ref.ClientID)
}

func getApplication(ctx context.Context, st storage.Store, tid, appID string) (Application, error) {
	var app Application
	err := storage.GetJSON(ctx, st, appKey(tid, appID), &app)
	if errors.Is(err, storage.ErrNotFound) {
		return Application{}, notFound("Application '%s' not found in tenant '%s'.", appID, tid)
	}
	if err != nil {
		return Application{}, storageError("get application", err)
	}
	return app, nil
}

// Applications lists tenantID's applications in client-id order.
func (s *Service) Applications(ctx context.Context, tenantID string) ([]Application, error) {
	t, err := s.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	apps, err := storage.ListJSON[Application](ctx, s.st, scoped(t.ID, "apps/"), "", 0)
	if err != nil {
		return nil, storageError("list applications", err)
	}
	return apps, nil
}

// DeleteApplication removes the application, its service principal, secrets and federated
// credentials. Tokens already issued stay valid until they expire.
func (s *Service) DeleteApplication(ctx context.Context, tenantID, appID string) error {
	app, err := s.Application(ctx, tenantID, appID)
	if err != nil {
		return err
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		for _, prefix := range []string{secretsPrefix(app.TenantID, app.AppID), ficPrefix(app.TenantID, app.AppID)} {
			if err := storage.DeletePrefix(ctx, tx, prefix); err != nil {
				return err
			}
		}
		for _, k := range []string{objectKey(app.TenantID, app.ObjectID), objectKey(app.TenantID, app.ServicePrincipalID), appKey(app.TenantID, app.AppID)} {
			if err := tx.Delete(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storageError("delete application", err)
	}
	s.log.InfoContext(ctx, "application deleted", "tenant", app.TenantID, "app_id", app.AppID)
	return nil
}
