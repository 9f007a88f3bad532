package arm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/storage"
)

// Subscription is an ARM subscription: a container of resource groups in one tenant.
type Subscription struct {
	ID          string    `json:"id"` // a GUID
	DisplayName string    `json:"displayName"`
	TenantID    string    `json:"tenantId"`
	State       string    `json:"state"` // "Enabled"
	CreatedAt   time.Time `json:"createdAt"`
}

// DefaultSubscriptionName is the display name of the subscription created at bootstrap.
const DefaultSubscriptionName = "Keystage"

// bootstrapKey records what Bootstrap created, so that it runs once per database.
const bootstrapKey = "arm/bootstrap"

type bootstrapRecord struct {
	SubscriptionID    string `json:"subscriptionId"`
	TenantID          string `json:"tenantId"`
	AdminObjectID     string `json:"adminObjectId"`
	AdminAssignmentID string `json:"adminAssignmentId"`
}

// Bootstrap creates, on first start, the default subscription in tenantID and gives the
// administrator principal adminObjectID the Owner role at the root scope "/", which covers
// every subscription Keystage will ever hold. Later calls change nothing and return the
// default subscription. It is the only call that writes without authorization.
func (s *Service) Bootstrap(ctx context.Context, tenantID, adminObjectID string, adminType PrincipalType) (Subscription, error) {
	if !isGUID(tenantID) || !isGUID(adminObjectID) {
		return Subscription{}, errors.New("arm: bootstrap: tenant and administrator ids must be GUIDs")
	}
	var sub Subscription
	err := s.update(ctx, func(tx storage.Store, ch *changes) error {
		var rec bootstrapRecord
		err := storage.GetJSON(ctx, tx, bootstrapKey, &rec)
		if err == nil {
			return storage.GetJSON(ctx, tx, subscriptionKey(rec.SubscriptionID), &sub)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		now := s.now().UTC()
		sub = Subscription{
			ID:          uuid.NewString(),
			DisplayName: DefaultSubscriptionName,
			TenantID:    strings.ToLower(tenantID),
			State:       "Enabled",
			CreatedAt:   now,
		}
		if err := storage.PutJSON(ctx, tx, subscriptionKey(sub.ID), sub); err != nil {
			return err
		}
		ch.putSubscription(&sub)
		ra := RoleAssignment{
			Name:             uuid.NewString(),
			Scope:            "/",
			RoleDefinitionID: RoleOwner,
			PrincipalID:      strings.ToLower(adminObjectID),
			PrincipalType:    adminType,
			TenantID:         sub.TenantID,
			Description:      "Keystage administrator (created at bootstrap)",
			CreatedOn:        now,
			UpdatedOn:        now,
		}
		if err := putRoleAssignment(ctx, tx, ch, &ra); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, bootstrapKey, bootstrapRecord{
			SubscriptionID: sub.ID, TenantID: sub.TenantID,
			AdminObjectID: ra.PrincipalID, AdminAssignmentID: ra.Name,
		})
	})
	if err != nil {
		return Subscription{}, storageError("bootstrap", err)
	}
	return sub, nil
}

// ListSubscriptions returns the subscriptions of the caller's tenant on which the caller
// holds some role assignment (at the subscription, above it or below it), as ARM lists them.
func (s *Service) ListSubscriptions(ctx context.Context, c Caller) ([]Subscription, error) {
	var out []Subscription
	err := listJSON(ctx, s.store, prefixSubscriptions, func(_ string, sub *Subscription) error {
		if strings.EqualFold(sub.TenantID, c.TenantID) && s.canSeeSubscription(c, sub.ID) {
			out = append(out, *sub)
		}
		return nil
	})
	if err != nil {
		return nil, storageError("list subscriptions", err)
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.DisplayName+a.ID, b.DisplayName+b.ID) })
	return out, nil
}

// GetSubscription returns subscription id when the caller may see it, and
// SubscriptionNotFound otherwise (ARM does not reveal subscriptions a caller has no access to).
func (s *Service) GetSubscription(ctx context.Context, c Caller, id string) (Subscription, error) {
	if !isGUID(id) {
		return Subscription{}, errInvalidSubscriptionID(id)
	}
	var sub Subscription
	if err := storage.GetJSON(ctx, s.store, subscriptionKey(id), &sub); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Subscription{}, errSubscriptionNotFound(id)
		}
		return Subscription{}, storageError("get subscription", err)
	}
	if !strings.EqualFold(sub.TenantID, c.TenantID) || !s.canSeeSubscription(c, sub.ID) {
		return Subscription{}, errSubscriptionNotFound(id)
	}
	return sub, nil
}

// subscription loads a subscription without an access check; callers authorize first.
func (s *Service) subscription(ctx context.Context, st storage.Store, id string) (Subscription, error) {
	if !isGUID(id) {
		return Subscription{}, errInvalidSubscriptionID(id)
	}
	var sub Subscription
	if err := storage.GetJSON(ctx, st, subscriptionKey(id), &sub); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Subscription{}, errSubscriptionNotFound(id)
		}
		return Subscription{}, storageError("get subscription", err)
	}
	return sub, nil
}

// isGUID reports whether s has the 8-4-4-4-12 hexadecimal form (uuid.Validate alone also
// accepts braces and urn: prefixes).
func isGUID(s string) bool {
	return len(s) == 36 && uuid.Validate(s) == nil
}
