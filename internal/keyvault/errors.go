package keyvault

import (
	"github.com/keystage/keystage/internal/fault"
)

// Key Vault error codes (the "code" and "innererror.code" of the error body).
const (
	CodeBadParameter                  = "BadParameter"
	CodeSecretNotFound                = "SecretNotFound"
	CodeForbidden                     = "Forbidden"
	CodeSecretDisabled                = "SecretDisabled"
	CodeConflict                      = "Conflict"
	CodeObjectIsDeletedButRecoverable = "ObjectIsDeletedButRecoverable"
)

// notFoundHint ends Key Vault's "secret not found" message.
const notFoundHint = " was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"

// ErrSecretNotFound reports a secret (or secret version) that does not exist or is deleted.
func ErrSecretNotFound(nameOrID string) *fault.Error {
	return fault.New(fault.NotFound, CodeSecretNotFound, "A secret with (name/id) %s%s", clip(nameOrID), notFoundHint)
}

// ErrDeletedSecretNotFound reports a name with no soft-deleted secret.
func ErrDeletedSecretNotFound(name string) *fault.Error {
	return fault.New(fault.NotFound, CodeSecretNotFound, "Deleted Secret not found: %s", clip(name))
}

// ErrSecretDisabled is the answer to reading a disabled secret's value.
func ErrSecretDisabled() *fault.Error {
	return fault.New(fault.Forbidden, CodeForbidden, "Operation get is not allowed on a disabled secret.").WithInner(CodeSecretDisabled)
}

// ErrDeletedButRecoverable is the answer to setting or restoring a soft-deleted name.
func ErrDeletedButRecoverable(name string) *fault.Error {
	return fault.New(fault.Conflict, CodeConflict,
		"Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.",
		clip(name)).WithInner(CodeObjectIsDeletedButRecoverable)
}

// ErrPurgeProtected is the answer to purging in a vault with purge protection.
func ErrPurgeProtected() *fault.Error {
	return fault.New(fault.Forbidden, CodeForbidden, `Operation "purge" is not allowed because purge protection is enabled for this vault.`)
}

// ErrInvalidName reports a secret name outside [0-9a-zA-Z-]{1,127}.
func ErrInvalidName(name string) *fault.Error {
	return fault.New(fault.BadRequest, CodeBadParameter, "The request URI contains an invalid name: %s", clip(name))
}

// BadParameter returns a 400 BadParameter error with a formatted message. Messages must not
// contain secret values.
func BadParameter(format string, args ...any) *fault.Error {
	return fault.New(fault.BadRequest, CodeBadParameter, format, args...)
}

// clip bounds caller-supplied text quoted in a message.
func clip(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
