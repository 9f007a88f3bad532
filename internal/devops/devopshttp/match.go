package devopshttp

import (
	"net/url"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/identity"
)

// template is a parsed route template such as "{project}/_apis/pipelines/{pipelineId}".
// Every "{name}" (or "{*name}") segment is optional, as the Azure DevOps clients drop a
// segment whose value they do not have: one template serves list and get.
type template struct {
	raw  string
	segs []tseg
}

type tseg struct {
	literal string // lower-case; empty for a capture
	name    string // capture name
}

func parseTemplate(raw string) template {
	t := template{raw: raw}
	for _, s := range strings.Split(strings.Trim(raw, "/"), "/") {
		if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
			t.segs = append(t.segs, tseg{name: strings.TrimPrefix(s[1:len(s)-1], "*")})
		} else {
			t.segs = append(t.segs, tseg{literal: strings.ToLower(s)})
		}
	}
	return t
}

// match is a successful match of a path against a template: the route values and how
// good the match is (more literal segments, then fewer dropped captures, win).
type match struct {
	values   map[string]string
	literals int
	dropped  int
}

func (m match) better(o match) bool {
	if m.literals != o.literals {
		return m.literals > o.literals
	}
	return m.dropped < o.dropped
}

// match matches unescaped path segments against t. Literals match case-insensitively;
// captures never take the "_apis" segment.
func (t template) match(segs []string) (match, bool) {
	best, found := match{}, false
	var walk func(ti, si int, values map[string]string, dropped int)
	walk = func(ti, si int, values map[string]string, dropped int) {
		if ti == len(t.segs) {
			if si == len(segs) {
				m := match{values: copyValues(values), literals: t.literals(), dropped: dropped}
				if !found || m.better(best) {
					best, found = m, true
				}
			}
			return
		}
		ts := t.segs[ti]
		if ts.literal != "" {
			if si < len(segs) && strings.ToLower(segs[si]) == ts.literal {
				walk(ti+1, si+1, values, dropped)
			}
			return
		}
		if si < len(segs) && !strings.EqualFold(segs[si], "_apis") {
			values[ts.name] = segs[si]
			walk(ti+1, si+1, values, dropped)
			delete(values, ts.name)
		}
		walk(ti+1, si, values, dropped+1)
	}
	walk(0, 0, map[string]string{}, 0)
	return best, found
}

func (t template) literals() int {
	n := 0
	for _, s := range t.segs {
		if s.literal != "" {
			n++
		}
	}
	return n
}

func copyValues(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// maxPathBytes bounds the request path the router parses.
const maxPathBytes = 4096

// splitPath splits an escaped URL path into unescaped segments. A trailing slash is
// ignored; empty segments and segments that unescape to text holding '/' or NUL are
// refused, so that a route value can never smuggle a path.
func splitPath(escaped string) ([]string, error) {
	if len(escaped) > maxPathBytes {
		return nil, devops.BadRequest("The request path is longer than %d bytes.", maxPathBytes)
	}
	p := strings.TrimSuffix(strings.TrimPrefix(escaped, "/"), "/")
	if p == "" {
		return nil, nil
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || strings.ContainsAny(u, "/\x00") {
			return nil, devops.BadRequest("The request path has an empty or malformed segment.")
		}
		segs[i] = u
	}
	return segs, nil
}

func normalizeGUID(s string) (string, bool) { return identity.NormalizeGUID(s) }
