package cli

import (
	"fmt"
	"slices"
	"strings"
)

// Access policy permission names per category (identity.md §3.1); "all" grants each one.
var policyPermissions = map[string][]string{
	"keys": {"all", "get", "list", "update", "create", "import", "delete", "recover", "backup", "restore", "decrypt", "encrypt",
		"unwrapkey", "wrapkey", "verify", "sign", "purge", "release", "rotate", "getrotationpolicy", "setrotationpolicy"},
	"secrets": {"all", "get", "list", "set", "delete", "recover", "backup", "restore", "purge"},
	"certificates": {"all", "get", "list", "update", "create", "import", "delete", "recover", "backup", "restore", "managecontacts",
		"manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers", "purge"},
	"storage": {"all", "get", "list", "delete", "set", "update", "regeneratekey", "getsas", "listsas", "deletesas", "setsas",
		"recover", "backup", "restore", "purge"},
}

// policyCategories are the categories in the order az's flags list them.
var policyCategories = []string{"keys", "secrets", "certificates", "storage"}

// defaultCreatorPolicy is the policy `keyvault create` gives the signed-in principal, as
// az does: everything but purge (and, for keys, the cryptographic operations).
var defaultCreatorPolicy = map[string][]string{
	"keys":    {"get", "create", "delete", "list", "update", "import", "backup", "restore", "recover"},
	"secrets": {"get", "list", "set", "delete", "backup", "restore", "recover"},
	"certificates": {"get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers", "listissuers",
		"setissuers", "deleteissuers", "manageissuers", "recover"},
	"storage": {"get", "list", "delete", "set", "update", "regeneratekey", "setsas", "listsas", "getsas", "deletesas"},
}

// normalizePermissions checks permission words of one category case-insensitively and
// returns them lower-cased without duplicates, in the order given. flag names the argument
// for the error message.
func normalizePermissions(category, flag string, words []string) ([]string, error) {
	valid := policyPermissions[category]
	out := []string{}
	for _, w := range words {
		for _, p := range strings.Fields(w) {
			p = strings.ToLower(p)
			if !slices.Contains(valid, p) {
				return nil, usageErrorf("argument %s: invalid choice: '%s' (choose from %s)", flag, p, strings.Join(quoteAll(valid), ", "))
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// policyMatches reports whether an access policy entry belongs to the principal (tenant,
// object id, application id), compared case-insensitively as az does; an absent
// application id matches only an absent or empty one.
func policyMatches(p map[string]any, tenant, objectID, appID string) bool {
	str := func(k string) string { s, _ := p[k].(string); return s }
	return strings.EqualFold(str("tenantId"), tenant) &&
		strings.EqualFold(str("objectId"), objectID) &&
		strings.EqualFold(str("applicationId"), appID)
}

// mergePolicy is az's set-policy: the entry of the principal gets the categories given in
// perms (nil slice: category not given, keeps its previous value), de-duplicated; a
// principal without an entry gets a new one at the end. Other entries are untouched.
func mergePolicy(policies []any, tenant, objectID, appID string, perms map[string][]string) ([]any, error) {
	out := make([]any, 0, len(policies)+1)
	found := false
	for _, it := range policies {
		p, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the vault's accessPolicies hold a %T, not an object", it)
		}
		if found || !policyMatches(p, tenant, objectID, appID) {
			out = append(out, p)
			continue
		}
		found = true
		np := cloneMap(p)
		old, _ := np["permissions"].(map[string]any)
		newPerms := cloneMap(old)
		for _, cat := range policyCategories {
			if given, ok := perms[cat]; ok && given != nil {
				newPerms[cat] = toAnyList(dedupeFold(given))
			} else if prev, ok := newPerms[cat].([]any); ok {
				newPerms[cat] = dedupeAnyFold(prev)
			}
		}
		np["permissions"] = newPerms
		out = append(out, np)
	}
	if !found {
		np := map[string]any{"tenantId": tenant, "objectId": objectID}
		if appID != "" {
			np["applicationId"] = appID
		}
		pm := map[string]any{}
		for _, cat := range policyCategories {
			if given, ok := perms[cat]; ok && given != nil {
				pm[cat] = toAnyList(dedupeFold(given))
			}
		}
		np["permissions"] = pm
		out = append(out, np)
	}
	return out, nil
}

// removePolicy is az's delete-policy: it drops the principal's entry, or reports that
// none matched.
func removePolicy(policies []any, tenant, objectID, appID string) ([]any, bool) {
	out := make([]any, 0, len(policies))
	removed := false
	for _, it := range policies {
		if p, ok := it.(map[string]any); ok && !removed && policyMatches(p, tenant, objectID, appID) {
			removed = true
			continue
		}
		out = append(out, it)
	}
	return out, removed
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func dedupeFold(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
			out = append(out, s)
		}
	}
	return out
}

func dedupeAnyFold(list []any) []any {
	var ss []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			ss = append(ss, s)
		}
	}
	return toAnyList(dedupeFold(ss))
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
