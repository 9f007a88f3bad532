package arm

import (
	"github.com/keystage/keystage/internal/fault"
)

// The management plane's errors carry ARM's own error codes, so the HTTP surface only maps
// them to {"error":{"code","message"}}. The constructors below keep the codes and message
// shapes in one place.

func errInvalidSubscriptionID(id string) *fault.Error {
	return fault.New(fault.BadRequest, "InvalidSubscriptionId", "The provided subscription identifier '%s' is malformed or invalid.", clip(id))
}

func errSubscriptionNotFound(id string) *fault.Error {
	return fault.New(fault.NotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", clip(id))
}

func errGroupNotFound(group string) *fault.Error {
	return fault.New(fault.NotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", clip(group))
}

func errResourceNotFound(resourceType, name, group string) *fault.Error {
	return fault.New(fault.NotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found.", resourceType, clip(name), clip(group))
}

func errInvalidParameter(format string, args ...any) *fault.Error {
	return fault.New(fault.BadRequest, "InvalidParameter", format, args...)
}

func errBadRequest(format string, args ...any) *fault.Error {
	return fault.New(fault.BadRequest, "BadRequest", format, args...)
}

func errLocationNotAvailable(location, resourceType string) *fault.Error {
	return fault.New(fault.BadRequest, "LocationNotAvailableForResourceType",
		"The provided location '%s' is not available for resource type '%s'. List of available regions for the resource type is '%s'.",
		clip(location), resourceType, locationNames())
}

func errUnsupported(feature string) *fault.Error {
	return fault.New(fault.BadRequest, "FeatureNotSupported", "Keystage does not support %s.", feature)
}

// Clip shortens caller input quoted in an error message to at most 128 characters, so that
// a huge name cannot make a huge error body.
func Clip(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) > max {
		r = r[:max]
	}
	return string(r) + "..."
}

func clip(s string) string { return Clip(s) }
