package graph

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/storage"
)

// owners keeps the owners of applications: graph/owners/{tenant}/{appId} -> ownerRecord.
type owners struct {
	store storage.Backend
}

type ownerRecord struct {
	Owners []string `json:"owners"` // object ids of service principals
}

func ownersKey(tenant, appID string) string {
	return "graph/owners/" + strings.ToLower(tenant) + "/" + strings.ToLower(appID)
}

// get returns the owners of an application (none for one created outside Graph, such as
// the bootstrap administrator's).
func (o *owners) get(ctx context.Context, tenant, appID string) ([]string, error) {
	var rec ownerRecord
	err := storage.GetJSON(ctx, o.store, ownersKey(tenant, appID), &rec)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return rec.Owners, err
}

// set records the owners of an application.
func (o *owners) set(ctx context.Context, tenant, appID string, ids []string) error {
	return storage.PutJSON(ctx, o.store, ownersKey(tenant, appID), ownerRecord{Owners: ids})
}

// drop forgets an application's owners.
func (o *owners) drop(ctx context.Context, tenant, appID string) error {
	return o.store.Delete(ctx, ownersKey(tenant, appID))
}

// isOwner reports whether objectID owns the application.
func (o *owners) isOwner(ctx context.Context, tenant, appID, objectID string) (bool, error) {
	ids, err := o.get(ctx, tenant, appID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, objectID) }), nil
}
