package orchestrator

import (
	"errors"
	"fmt"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// ErrNotFound is wrapped by every not-found error of the orchestrator (a *fault.Error of kind
// fault.NotFound), so callers can test errors.Is(err, orchestrator.ErrNotFound).
var ErrNotFound = errors.New("orchestrator: not found")

// Error codes: the typeKey of the Azure DevOps WrappedException the transports answer with.
const (
	CodeBuildNotFound      = "BuildNotFoundException"
	CodeLogNotFound        = "BuildLogNotFoundException"
	CodeArtifactNotFound   = "ArtifactNotFoundException"
	CodeArtifactExists     = "ArtifactExistsException"
	CodeBadRequest         = "ArgumentException"
	CodePipelineInvalid    = "PipelineValidationException"
	CodeBuildCompleted     = "InvalidBuildException"
	CodeJobNotFound        = "TaskOrchestrationJobNotFoundException"
	CodeJobLockLost        = "TaskAgentJobTokenExpiredException"
	CodeSessionNotFound    = "TaskAgentSessionExpiredException"
	CodeSessionConflict    = "TaskAgentSessionConflictException"
	CodeAgentUnauthorized  = "UnauthorizedRequestException"
	CodeCheckpointNotFound = "CheckpointNotFoundException"
	CodeUnavailable        = "ServiceUnavailableException"
	CodeNotImplemented     = "NotImplementedException"
)

func notFound(code, format string, args ...any) *fault.Error {
	return fault.New(fault.NotFound, code, format, args...).Wrap(ErrNotFound)
}

func badRequest(format string, args ...any) *fault.Error {
	return fault.New(fault.BadRequest, CodeBadRequest, format, args...)
}

// RunNotFound is the error for a run (build) id that a project does not have.
func RunNotFound(id int64) error { return buildNotFound(id) }

func buildNotFound(id int64) error {
	return notFound(CodeBuildNotFound, "The requested build %d could not be found.", id)
}

func jobNotFound(jobID string) error {
	return notFound(CodeJobNotFound, "The job %s is not running on this server (it ended, was canceled, or its lease expired).", jobID)
}

func lockLost(jobID string) error {
	return fault.New(fault.Conflict, CodeJobLockLost,
		"The lock on job %s is no longer held by this agent (its lease expired or the job was handed to another agent).", jobID)
}

func unauthorizedAgent() error {
	return fault.New(fault.Unauthorized, CodeAgentUnauthorized,
		"The agent credential is missing, invalid, or was replaced by a newer registration of the agent.")
}

// storageError classifies a storage failure: conflicts become retryable 409s, anything else
// an internal error whose cause is logged but never sent.
func storageError(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, storage.ErrConflict) {
		return fault.New(fault.Conflict, "TransactionConflictException", "A concurrent change conflicted with this request; retry it.").Wrap(err)
	}
	return fmt.Errorf("orchestrator: %s: %w", op, err)
}

// clip bounds caller-supplied text quoted in a message.
func clip(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
