package arm

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Operation is a long-running operation as ARM reports it to pollers. Keystage finishes the
// work of an operation before answering the request that starts it (each one is a few
// storage transactions), so a recorded operation is already terminal; the record exists so
// that clients following ARM's asynchronous protocol (202 + Location) can poll it.
type Operation struct {
	ID             string       `json:"id"`
	SubscriptionID string       `json:"subscriptionId"`
	Kind           string       `json:"kind"` // e.g. "Microsoft.Resources/subscriptions/resourceGroups/delete"
	ResourceID     string       `json:"resourceId"`
	Status         string       `json:"status"` // Succeeded, Failed
	Error          *fault.Error `json:"-"`
	ErrorCode      string       `json:"errorCode,omitempty"`
	ErrorMessage   string       `json:"errorMessage,omitempty"`
	StartTime      time.Time    `json:"startTime"`
	EndTime        time.Time    `json:"endTime"`
	CallerObjectID string       `json:"callerObjectId"`
	CallerTenantID string       `json:"callerTenantId"`
}

// operationTTL is how long finished operations can be polled.
const operationTTL = 24 * time.Hour

// recordOperation stores a finished operation and drops expired ones.
func (s *Service) recordOperation(ctx context.Context, c Caller, sub, kind, resourceID string, start time.Time, opErr error) (Operation, error) {
	op := Operation{
		ID: uuid.NewString(), SubscriptionID: strings.ToLower(sub), Kind: kind, ResourceID: resourceID,
		Status: "Succeeded", StartTime: start, EndTime: s.now().UTC(),
		CallerObjectID: strings.ToLower(c.ObjectID), CallerTenantID: strings.ToLower(c.TenantID),
	}
	if opErr != nil {
		fe, _ := fault.As(opErr)
		op.Status, op.ErrorCode, op.ErrorMessage = "Failed", fe.Code, fe.Message
	}
	err := s.store.Update(ctx, func(tx storage.Store) error {
		cutoff := s.now().Add(-operationTTL)
		if err := listJSON(ctx, tx, prefixOperations, func(key string, old *Operation) error {
			if old.EndTime.Before(cutoff) {
				return tx.Delete(ctx, key)
			}
			return nil
		}); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, operationKey(op.ID), op)
	})
	if err != nil {
		return Operation{}, storageError("record operation", err)
	}
	return op, nil
}

// GetOperation returns an operation of subscription sub. Only the principal that started it
// may poll it; others, like unknown ids, get a 404.
func (s *Service) GetOperation(ctx context.Context, c Caller, sub, id string) (Operation, error) {
	notFound := fault.New(fault.NotFound, "OperationNotFound", "The operation '%s' could not be found.", clip(id))
	if !isGUID(id) {
		return Operation{}, notFound
	}
	var op Operation
	err := storage.GetJSON(ctx, s.store, operationKey(id), &op)
	if errors.Is(err, storage.ErrNotFound) {
		return Operation{}, notFound
	}
	if err != nil {
		return Operation{}, storageError("get operation", err)
	}
	if !strings.EqualFold(op.SubscriptionID, sub) || !strings.EqualFold(op.CallerObjectID, c.ObjectID) || !strings.EqualFold(op.CallerTenantID, c.TenantID) {
		return Operation{}, notFound
	}
	if op.Status == "Failed" {
		op.Error = &fault.Error{Kind: fault.BadRequest, Code: op.ErrorCode, Message: op.ErrorMessage}
	}
	return op, nil
}
