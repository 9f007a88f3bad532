package armhttp

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/fault"
)

// listBody is ARM's list response.
type listBody struct {
	Value    []any  `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// page is one page of a sorted list.
type page[T any] struct {
	items []T
	next  string // nextLink, or ""
}

// paginate cuts a page out of items, which are sorted by key (strictly ascending), as
// $skiptoken and $top ask. $skiptoken is an opaque cursor Keystage issues (the key of the
// last item of the previous page); $top is the most items to return in all, carried from page
// to page in the nextLink.
func paginate[T any](q *request, items []T, key func(T) string) (page[T], error) {
	size := q.h.cfg.PageSize
	remaining := -1
	if top := q.query("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 || n > 1_000_000 {
			return page[T]{}, fault.New(fault.BadRequest, "InvalidParameter", "The $top value '%s' is not valid; it must be a positive integer.", clip(top))
		}
		remaining = n
	}
	after := ""
	if tok := q.query("$skiptoken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 || len(b) > 4096 {
			return page[T]{}, fault.New(fault.BadRequest, "InvalidParameter", "The $skiptoken value is not valid; use the nextLink of a previous page.")
		}
		after = string(b)
	}
	start := 0
	if after != "" {
		for start < len(items) && key(items[start]) <= after {
			start++
		}
	}
	n := size
	if remaining >= 0 && remaining < n {
		n = remaining
	}
	end := start + n
	if end > len(items) {
		end = len(items)
	}
	p := page[T]{items: items[start:end]}
	left := remaining - (end - start)
	if end < len(items) && (remaining < 0 || left > 0) {
		p.next = q.nextLink(key(items[end-1]), left)
	}
	return p, nil
}

// nextLink is the URL of the next page: this request's URL with a new $skiptoken (and the
// remaining $top).
func (q *request) nextLink(lastKey string, remainingTop int) string {
	v := url.Values{}
	for k, vals := range q.r.URL.Query() {
		if strings.EqualFold(k, "$skiptoken") || strings.EqualFold(k, "$top") {
			continue
		}
		v[k] = vals
	}
	v.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(lastKey)))
	if remainingTop >= 0 {
		v.Set("$top", strconv.Itoa(remainingTop))
	}
	return q.baseURL() + q.r.URL.EscapedPath() + "?" + v.Encode()
}

// writeList answers one page of items, rendered by render.
func writeList[T any](q *request, items []T, key func(T) string, render func(T) any) error {
	p, err := paginate(q, items, key)
	if err != nil {
		return err
	}
	body := listBody{Value: make([]any, len(p.items)), NextLink: p.next}
	for i, it := range p.items {
		body.Value[i] = render(it)
	}
	writeJSON(q.w, 200, body)
	return nil
}

// lowerKey is a sort key for names compared case-insensitively.
func lowerKey(s string) string { return strings.ToLower(s) }
