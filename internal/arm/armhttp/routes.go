package armhttp

import (
	"net/http"
	"slices"
	"strings"

	"github.com/keystage/keystage/internal/fault"
)

// route is one path pattern of the ARM surface. Pattern segments match case-insensitively;
// "{}" captures a segment.
type route struct {
	pattern []string
	family  *apiFamily
	methods map[string]func(*request) error
}

func (rt *route) allow() string {
	var m []string
	for k := range rt.methods {
		m = append(m, k)
	}
	slices.Sort(m)
	return strings.Join(m, ", ")
}

// match reports whether segs fit rt.pattern and returns the captured segments.
func (rt *route) match(segs []string) ([]string, bool) {
	if len(segs) != len(rt.pattern) {
		return nil, false
	}
	var args []string
	for i, p := range rt.pattern {
		if p == "{}" {
			args = append(args, segs[i])
		} else if !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	return args, true
}

func pattern(s string) []string { return strings.Split(strings.Trim(s, "/"), "/") }

const (
	sub      = "subscriptions/{}"
	group    = sub + "/resourceGroups/{}"
	kv       = "providers/Microsoft.KeyVault"
	msi      = "providers/Microsoft.ManagedIdentity/userAssignedIdentities"
	identity = group + "/" + msi + "/{}"
)

// routes returns the route table.
func (h *Handler) routes() []*route {
	m := func(pairs ...any) map[string]func(*request) error {
		out := map[string]func(*request) error{}
		for i := 0; i < len(pairs); i += 2 {
			out[pairs[i].(string)] = pairs[i+1].(func(*request) error)
		}
		return out
	}
	get, put, patch, del, post, head := http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost, http.MethodHead
	return []*route{
		{pattern("tenants"), familyResources, m(get, listTenants)},
		{pattern("subscriptions"), familyResources, m(get, listSubscriptions)},
		{pattern(sub), familyResources, m(get, getSubscription)},
		{pattern(sub + "/locations"), familyResources, m(get, listLocations)},
		{pattern(sub + "/resourceGroups"), familyResources, m(get, listGroups)},
		{pattern(group), familyResources, m(get, getGroup, head, headGroup, put, putGroup, patch, patchGroup, del, deleteGroup)},
		{pattern(sub + "/operationresults/{}"), familyResources, m(get, getGroupOperation)},
		{pattern(sub + "/resources"), familyResources, m(get, listResources)},
		{pattern(group + "/resources"), familyResources, m(get, listResources)},

		{pattern(sub + "/" + kv + "/vaults"), familyKeyVault, m(get, listVaults)},
		{pattern(sub + "/" + kv + "/deletedVaults"), familyKeyVault, m(get, listDeletedVaults)},
		{pattern(sub + "/" + kv + "/locations/{}/deletedVaults/{}"), familyKeyVault, m(get, getDeletedVault)},
		{pattern(sub + "/" + kv + "/locations/{}/deletedVaults/{}/purge"), familyKeyVault, m(post, purgeDeletedVault)},
		{pattern(sub + "/" + kv + "/locations/{}/operationResults/{}"), familyKeyVault, m(get, getVaultOperation)},
		{pattern(sub + "/" + kv + "/checkNameAvailability"), familyKeyVault, m(post, checkVaultName)},
		{pattern(group + "/" + kv + "/vaults"), familyKeyVault, m(get, listVaults)},
		{pattern(group + "/" + kv + "/vaults/{}"), familyKeyVault, m(get, getVault, put, putVault, patch, patchVault, del, deleteVault)},
		{pattern(group + "/" + kv + "/vaults/{}/accessPolicies/{}"), familyKeyVault, m(put, updateAccessPolicies)},

		{pattern(sub + "/" + msi), familyManagedIdentity, m(get, listIdentities)},
		{pattern(group + "/" + msi), familyManagedIdentity, m(get, listIdentities)},
		{pattern(identity), familyManagedIdentity, m(get, getIdentity, put, putIdentity, patch, patchIdentity, del, deleteIdentity)},
		{pattern(identity + "/federatedIdentityCredentials"), familyManagedIdentity, m(get, listFederatedCredentials)},
		{pattern(identity + "/federatedIdentityCredentials/{}"), familyManagedIdentity, m(get, getFederatedCredential, put, putFederatedCredential, del, deleteFederatedCredential)},
		{pattern(identity + "/issueIdentityEndpointCredential"), familyManagedIdentity, m(post, issueIdentityEndpointCredential)},
	}
}

// route finds the route of segs. Microsoft.Authorization resources live below any scope,
// so they are found by their "providers/Microsoft.Authorization" segments (the last such
// pair) rather than by a fixed pattern; the scope before them is captured as one argument.
func (h *Handler) route(segs []string) (*route, []string, error) {
	for i := len(segs) - 2; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") && strings.EqualFold(segs[i+1], "Microsoft.Authorization") {
			return authorizationRoute(segs[:i], segs[i+2:])
		}
	}
	for _, rt := range h.table {
		if args, ok := rt.match(segs); ok {
			return rt, args, nil
		}
	}
	return nil, nil, noRoute(segs)
}

func authorizationRoute(scopeSegs, rest []string) (*route, []string, error) {
	scope := "/" + strings.Join(scopeSegs, "/")
	get, put, del := http.MethodGet, http.MethodPut, http.MethodDelete
	if len(rest) == 0 || len(rest) > 2 {
		return nil, nil, noRoute(append(append(scopeSegs, "providers", "Microsoft.Authorization"), rest...))
	}
	switch {
	case strings.EqualFold(rest[0], "roleAssignments") && len(rest) == 1:
		return &route{family: familyRoleAssignments, methods: map[string]func(*request) error{get: listRoleAssignments}}, []string{scope}, nil
	case strings.EqualFold(rest[0], "roleAssignments"):
		return &route{family: familyRoleAssignments, methods: map[string]func(*request) error{get: getRoleAssignment, put: putRoleAssignment, del: deleteRoleAssignment}}, []string{scope, rest[1]}, nil
	case strings.EqualFold(rest[0], "roleDefinitions") && len(rest) == 1:
		return &route{family: familyRoleDefinitions, methods: map[string]func(*request) error{get: listRoleDefinitions}}, []string{scope}, nil
	case strings.EqualFold(rest[0], "roleDefinitions"):
		return &route{family: familyRoleDefinitions, methods: map[string]func(*request) error{get: getRoleDefinition, put: putRoleDefinition, del: deleteRoleDefinition}}, []string{scope, rest[1]}, nil
	}
	return nil, nil, fault.New(fault.BadRequest, "InvalidResourceType",
		"The resource type '%s' could not be found in the namespace 'Microsoft.Authorization'. Keystage serves roleAssignments and roleDefinitions.", clip(rest[0]))
}

// noRoute explains why no route matched, in ARM's terms.
func noRoute(segs []string) error {
	for i := 0; i+1 < len(segs); i++ {
		if !strings.EqualFold(segs[i], "providers") {
			continue
		}
		ns := segs[i+1]
		switch {
		case strings.EqualFold(ns, "Microsoft.KeyVault"), strings.EqualFold(ns, "Microsoft.ManagedIdentity"):
			typ := ""
			if i+2 < len(segs) {
				typ = segs[i+2]
			}
			return fault.New(fault.BadRequest, "InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s'.", clip(typ), clip(ns))
		default:
			return fault.New(fault.BadRequest, "InvalidResourceNamespace", "The resource namespace '%s' is invalid: Keystage serves Microsoft.KeyVault, Microsoft.ManagedIdentity and Microsoft.Authorization.", clip(ns))
		}
	}
	return fault.New(fault.NotFound, "NotFound", "No management API is served at '/%s'.", clip(strings.Join(segs, "/")))
}
