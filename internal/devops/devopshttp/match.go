package devopshttp

import (
	"net/url"
	"strings"

	"github.com/keystage/keystage/internal/devops"
)

// template is a parsed route template such as "{project}/_apis/pipelines/{pipelineId}".
// Every "{name}" (or "{*name}") segment is optional, as the Azure DevOps clients drop a
// segment whose value they do not have: one template serves list and get.
type template struct {
	raw  string
	segs []tseg
	nlit int // number of literal segments
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
			t.nlit++
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
// captures never take the "_apis" segment. Of several alignments (a capture may be
// dropped or take a segment), the one that drops the fewest captures wins, earliest
// captures first.
func (t template) match(segs []string) (match, bool) {
	if len(segs) > len(t.segs) || len(segs) < t.nlit {
		return match{}, false
	}
	// assign[i] is the segment index template position i takes, or -1 when dropped.
	assign := make([]int, len(t.segs))
	drops := len(t.segs) - len(segs)
	var walk func(ti, si, drops int) bool
	walk = func(ti, si, drops int) bool {
		if ti == len(t.segs) {
			return si == len(segs)
		}
		ts := t.segs[ti]
		if ts.literal != "" {
			if si < len(segs) && strings.EqualFold(segs[si], ts.literal) {
				assign[ti] = si
				return walk(ti+1, si+1, drops)
			}
			return false
		}
		if si < len(segs) && !strings.EqualFold(segs[si], "_apis") {
			assign[ti] = si
			if walk(ti+1, si+1, drops) {
				return true
			}
		}
		if drops > 0 {
			assign[ti] = -1
			return walk(ti+1, si, drops-1)
		}
		return false
	}
	if !walk(0, 0, drops) {
		return match{}, false
	}
	m := match{values: map[string]string{}, literals: t.nlit, dropped: drops}
	for i, ts := range t.segs {
		if ts.literal == "" && assign[i] >= 0 {
			m.values[ts.name] = segs[assign[i]]
		}
	}
	return m, true
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
