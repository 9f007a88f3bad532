package cli

import (
	"encoding/json"
	"net/url"
	"strings"
)

// resourceGroupOf returns the resource group segment of an ARM resource id.
func resourceGroupOf(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "resourceGroups") {
			return segs[i+1]
		}
	}
	return ""
}

// armResult is a resource as az prints it: the server's JSON with "resourceGroup" added
// for resources inside a group.
func armResult(raw json.RawMessage) (any, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	addResourceGroup(v)
	return v, nil
}

// armList is a list of resources as az prints it.
func armList(items []json.RawMessage) (any, error) {
	list, err := decodeList(items)
	if err != nil {
		return nil, err
	}
	for _, v := range list {
		addResourceGroup(v)
	}
	return list, nil
}

func addResourceGroup(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	id, _ := m["id"].(string)
	if _, has := m["resourceGroup"]; has || !strings.Contains(strings.ToLower(id), "/providers/") {
		return
	}
	if g := resourceGroupOf(id); g != "" {
		m["resourceGroup"] = g
	}
}

// flattened is a resource with its properties moved to the top level, as az prints
// managed identities, federated credentials and role assignments and definitions.
func flattened(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if props, ok := m["properties"].(map[string]any); ok {
		delete(m, "properties")
		for k, pv := range props {
			if _, exists := m[k]; !exists {
				m[k] = pv
			}
		}
	}
	addResourceGroup(m)
	return m
}

func flattenedResult(raw json.RawMessage) (any, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	return flattened(v), nil
}

func flattenedList(items []json.RawMessage) (any, error) {
	list, err := decodeList(items)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i] = flattened(list[i])
	}
	return list, nil
}

// pathEscape escapes one path segment of a resource id.
func pathEscape(s string) string { return url.PathEscape(s) }

// odataQuote quotes a string literal for an OData $filter.
func odataQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
