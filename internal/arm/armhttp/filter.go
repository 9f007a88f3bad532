package armhttp

import (
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/arm/odata"
	"github.com/keystage/keystage/internal/fault"
)

// ARM's $filter differs per operation. Keystage supports the terms the SDKs and az send —
// atScope(), assignedTo('…'), principalId eq '…', roleName eq '…', type eq '…',
// resourceType eq '…' — and refuses anything else with a clear error rather than ignoring it.

func errFilter(s, why string) error {
	return fault.New(fault.BadRequest, "InvalidFilterInQueryString", "The $filter '%s' is not supported: %s.", clip(s), why)
}

func parseFilter(s string) ([]odata.Term, error) {
	terms, err := odata.Parse(s)
	if err != nil {
		return nil, errFilter(s, strings.TrimSuffix(err.Error(), ": "+odata.ErrSyntax.Error()))
	}
	return terms, nil
}

// parseAssignmentFilter reads a role assignment $filter.
func parseAssignmentFilter(s string) (arm.AssignmentFilter, error) {
	var f arm.AssignmentFilter
	terms, err := parseFilter(s)
	if err != nil {
		return f, err
	}
	for _, t := range terms {
		switch {
		case t.Call && len(t.Args) == 0 && !t.Lambda && strings.EqualFold(t.Name, "atScope"):
			f.AtScope = true
		case t.Call && len(t.Args) == 1 && strings.EqualFold(t.Name, "assignedTo"):
			f.AssignedTo = t.Args[0]
		case !t.Call && strings.EqualFold(t.Name, "principalId"):
			f.PrincipalID = t.Value
		default:
			return f, errFilter(s, "role assignments can be filtered by atScope(), assignedTo('{id}') and principalId eq '{id}'")
		}
	}
	return f, nil
}

// parseRoleDefinitionFilter reads a role definition $filter.
func parseRoleDefinitionFilter(s string) (arm.RoleDefinitionFilter, error) {
	var f arm.RoleDefinitionFilter
	terms, err := parseFilter(s)
	if err != nil {
		return f, err
	}
	for _, t := range terms {
		switch {
		case !t.Call && strings.EqualFold(t.Name, "roleName"):
			f.RoleName = t.Value
		case !t.Call && strings.EqualFold(t.Name, "type"):
			f.Type = roleType(t.Value)
		default:
			return f, errFilter(s, "role definitions can be filtered by roleName eq '{name}' and type eq 'BuiltInRole'|'CustomRole'")
		}
	}
	return f, nil
}

// parseResourceTypeFilter reads a /resources $filter: "" or resourceType eq '{type}',
// returned in canonical case ("none" for a type Keystage does not serve, which matches
// nothing).
func parseResourceTypeFilter(s string) (string, error) {
	terms, err := parseFilter(s)
	if err != nil || len(terms) == 0 {
		return "", err
	}
	if len(terms) != 1 || terms[0].Call || !strings.EqualFold(terms[0].Name, "resourceType") {
		return "", errFilter(s, "resources can be filtered by resourceType eq '{type}' only")
	}
	for _, t := range []string{arm.VaultType, arm.IdentityType} {
		if strings.EqualFold(terms[0].Value, t) {
			return t, nil
		}
	}
	return "none", nil
}

// sortByKey sorts items by key, ascending.
func sortByKey[T any](items []T, key func(T) string) {
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}
