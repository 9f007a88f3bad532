package devops

import (
	"errors"
	"fmt"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// ErrNotFound is wrapped by every not-found error of the service (a *fault.Error of kind
// fault.NotFound), so callers can test errors.Is(err, devops.ErrNotFound).
var ErrNotFound = errors.New("devops: not found")

// Error codes: fault.Error.Code of the service's errors. They are the typeKey of the Azure
// DevOps WrappedException the HTTP surface answers with.
const (
	CodeArgument            = "ArgumentException"
	CodeHostNotFound        = "HostNotFoundException"
	CodeOrganizationExists  = "OrganizationAlreadyExistsException"
	CodeProjectNotFound     = "ProjectDoesNotExistException"
	CodeProjectNameNotFound = "ProjectDoesNotExistWithNameException"
	CodeProjectExists       = "ProjectAlreadyExistsException"
	CodeProcessNotFound     = "ProcessNotFoundByTypeIdException"
	CodeOperationNotFound   = "OperationNotFoundException"
	CodeDefinitionNotFound  = "DefinitionNotExistsException"
	CodeDefinitionExists    = "DefinitionExistsException"
	CodeDefinitionRevision  = "DefinitionRevisionMismatchException"
	CodePoolNotFound        = "TaskAgentPoolNotFoundException"
	CodePoolExists          = "TaskAgentPoolExistsException"
	CodeQueueNotFound       = "TaskAgentQueueNotFoundException"
	CodeAgentNotFound       = "TaskAgentNotFoundException"
	CodeAgentExists         = "TaskAgentExistsException"
	CodeEndpointNotFound    = "ServiceEndpointNotFoundException"
	CodeEndpointExists      = "DuplicateServiceConnectionException"
	CodeResourceNotFound    = "ResourceNotFoundException"
	CodeAccessDenied        = "AccessCheckException"
	CodeUnauthorized        = "UnauthorizedRequestException"
	CodeTokenNotFound       = "SessionTokenNotFoundException"
	CodeConflict            = "TransactionConflictException"
	CodeNotImplemented      = "NotImplementedException"
)

func notFound(code, format string, args ...any) *fault.Error {
	return fault.New(fault.NotFound, code, format, args...).Wrap(ErrNotFound)
}

// BadRequest returns a 400 ArgumentException with a formatted message. Messages must not
// contain secret values.
func BadRequest(format string, args ...any) *fault.Error {
	return fault.New(fault.BadRequest, CodeArgument, format, args...)
}

// NotImplemented reports a feature Keystage does not have, naming it.
func NotImplemented(format string, args ...any) *fault.Error {
	return fault.New(fault.NotImplemented, CodeNotImplemented, format, args...)
}

// storageError classifies a storage failure: conflicts become retryable 409s, anything
// else an internal error whose cause is logged but never sent.
func storageError(op string, err error) error {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, storage.ErrConflict) {
		return fault.New(fault.Conflict, CodeConflict, "A concurrent change conflicted with this request; retry it.").Wrap(err)
	}
	return fmt.Errorf("devops: %s: %w", op, err)
}

// clip bounds caller-supplied text quoted in a message.
func clip(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
