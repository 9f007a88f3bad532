package graph

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/arm/odata"
	"github.com/keystage/keystage/internal/fault"
)

const metadataPrefix = "https://graph.microsoft.com/v1.0/$metadata#"

// withContext renders v with Graph's @odata.context annotation.
func withContext(v any, context string) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return v
	}
	m["@odata.context"] = metadataPrefix + context
	return m
}

// listFilter is a parsed $filter of a list: equality on properties, startswith on
// properties, and "any" over servicePrincipalNames. All terms must match.
type listFilter struct {
	eq         map[string]string // property -> value (case-insensitive match)
	startsWith map[string]string
	names      []string // servicePrincipalNames/any(c:c eq …) values
}

// parseListFilter parses $filter for a collection whose filterable properties are props;
// servicePrincipalNames/any is accepted when "servicePrincipalNames" is among them.
func parseListFilter(s string, props ...string) (listFilter, error) {
	f := listFilter{eq: map[string]string{}, startsWith: map[string]string{}}
	terms, err := odata.Parse(s)
	if err != nil {
		return f, fault.New(fault.BadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified: %s.", clip(s))
	}
	prop := func(name string) (string, bool) {
		for _, p := range props {
			if strings.EqualFold(p, name) {
				return p, true
			}
		}
		return "", false
	}
	for _, t := range terms {
		switch {
		case !t.Call:
			p, ok := prop(t.Name)
			if !ok {
				return f, unsupportedFilter(s, props)
			}
			f.eq[p] = t.Value
		case t.Lambda && strings.EqualFold(t.Name, "servicePrincipalNames/any") && slices.Contains(props, "servicePrincipalNames"):
			f.names = append(f.names, t.Any)
		case strings.EqualFold(t.Name, "startswith") && len(t.Args) == 2:
			p, ok := prop(t.Args[0])
			if !ok {
				return f, unsupportedFilter(s, props)
			}
			f.startsWith[p] = t.Args[1]
		default:
			return f, unsupportedFilter(s, props)
		}
	}
	return f, nil
}

func unsupportedFilter(s string, props []string) error {
	return fault.New(fault.BadRequest, "Request_UnsupportedQuery",
		"Unsupported query filter clause specified: %s. Keystage filters on %s with eq and startswith.", clip(s), strings.Join(props, ", "))
}

// match reports whether an object with the given property values and service principal
// names passes the filter.
func (f listFilter) match(values map[string]string, names []string) bool {
	for p, want := range f.eq {
		if !strings.EqualFold(values[p], want) {
			return false
		}
	}
	for p, prefix := range f.startsWith {
		if !strings.HasPrefix(strings.ToLower(values[p]), strings.ToLower(prefix)) {
			return false
		}
	}
	for _, want := range f.names {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, want) }) {
			return false
		}
	}
	return true
}

type listBody struct {
	Context  string `json:"@odata.context"`
	Value    []any  `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}

// writePage answers one page of items (sorted here by key) with @odata.nextLink when more
// remain. $top sets the page size (at most 999, as Graph allows); $skiptoken is an opaque
// cursor Keystage issues.
func writePage[T any](q *request, context string, items []T, key func(T) string) error {
	size := q.h.cfg.PageSize
	if top := q.query("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 || n > 999 {
			return fault.New(fault.BadRequest, "Request_BadRequest", "Invalid $top value '%s'; it must be between 1 and 999.", clip(top))
		}
		size = n
	}
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	start := 0
	if tok := q.query("$skiptoken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 || len(b) > 1024 {
			return fault.New(fault.BadRequest, "Request_BadRequest", "Invalid $skiptoken; use the @odata.nextLink of a previous page.")
		}
		for start < len(items) && key(items[start]) <= string(b) {
			start++
		}
	}
	end := min(start+size, len(items))
	body := listBody{Context: metadataPrefix + context, Value: make([]any, 0, end-start)}
	for _, it := range items[start:end] {
		body.Value = append(body.Value, it)
	}
	if end < len(items) {
		v := url.Values{}
		for k, vals := range q.r.URL.Query() {
			if !strings.EqualFold(k, "$skiptoken") {
				v[k] = vals
			}
		}
		v.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1]))))
		body.NextLink = q.baseURL() + q.r.URL.EscapedPath() + "?" + v.Encode()
	}
	writeJSON(q.w, http.StatusOK, body)
	return nil
}
