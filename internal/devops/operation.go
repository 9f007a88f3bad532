package devops

import (
	"context"
	"errors"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

// Operation statuses.
const (
	OperationQueued     = "queued"
	OperationInProgress = "inProgress"
	OperationSucceeded  = "succeeded"
	OperationFailed     = "failed"
	OperationCancelled  = "cancelled"
)

// Operation is an asynchronous operation (project create, update, delete). Keystage
// completes them before answering, so stored operations have finished.
type Operation struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	ResultMessage string `json:"resultMessage,omitempty"`
	// ResourceKind and ResourceID name what the operation acted on ("project", id).
	ResourceKind string    `json:"resourceKind"`
	ResourceID   string    `json:"resourceId"`
	Created      time.Time `json:"created"`
}

func (s *Service) newOperation(org Organization, kind, id string) Operation {
	return Operation{ID: newID(), Status: OperationSucceeded, ResourceKind: kind, ResourceID: id, Created: s.now().UTC()}
}

// Operation returns the operation with id in org.
func (s *Service) Operation(ctx context.Context, org Organization, id string) (Operation, error) {
	oid, ok := normalizeGUID(id)
	if !ok {
		return Operation{}, operationNotFound(id)
	}
	var op Operation
	err := storage.GetJSON(ctx, s.st, operationKey(org.ID, oid), &op)
	if errors.Is(err, storage.ErrNotFound) {
		return Operation{}, operationNotFound(id)
	}
	if err != nil {
		return Operation{}, storageError("get operation", err)
	}
	return op, nil
}

func operationNotFound(id string) error {
	return notFound(CodeOperationNotFound, "The operation %s could not be found.", clip(id))
}
