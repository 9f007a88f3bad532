package cli

import (
	"errors"

	"strings"
	"time"

	"github.com/keystage/keystage/internal/client"
)

// parseTags parses az's --tags words: "key=value", "key" (empty value), or a single ""
// that clears every tag. It returns nil when --tags was not given and an empty map when
// it clears. A word may hold several space-separated pairs ("a=1 b=2"), as az users
// often quote them.
func parseTags(words []string) (map[string]any, error) {
	if words == nil {
		return nil, nil
	}
	tags := map[string]any{}
	for _, w := range words {
		for _, pair := range splitTagWord(w) {
			k, v, _ := strings.Cut(pair, "=")
			if k == "" {
				return nil, usageErrorf("argument --tags: invalid tag %q: expected key[=value]", pair)
			}
			if len(k) > 512 || len(v) > 512 {
				return nil, usageErrorf("argument --tags: tag %q is longer than 512 characters", truncateText(k, 40))
			}
			tags[k] = v
		}
	}
	if len(tags) > 50 {
		return nil, usageErrorf("argument --tags: at most 50 tags are allowed")
	}
	return tags, nil
}

// splitTagWord splits a word on spaces that start a new key=value pair; a space inside a
// value (after "=") that is not followed by another "key=" stays part of the value.
func splitTagWord(w string) []string {
	if strings.TrimSpace(w) == "" {
		return nil
	}
	if !strings.Contains(w, "=") {
		return []string{w}
	}
	fields := strings.Split(w, " ")
	var out []string
	for _, f := range fields {
		if f == "" {
			continue
		}
		if len(out) > 0 && !strings.Contains(f, "=") {
			out[len(out)-1] += " " + f
			continue
		}
		out = append(out, f)
	}
	return out
}

// dateLayouts are the forms az's datetime arguments accept, plus RFC 3339 with an offset.
var dateLayouts = []string{
	"2006-01-02T15:04:05Z",
	"2006-01-02T15:04:05.999999999Z",
	"2006-01-02T15:04Z",
	"2006-01-02T15Z",
	"2006-01-02",
	time.RFC3339Nano,
}

// parseDate parses a UTC date argument such as --expires 2030-12-31T23:59:59Z.
func parseDate(flag, s string) (time.Time, error) {
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageErrorf("argument %s: Input '%s' not valid. Valid example: 2000-12-31T12:59:59Z", flag, truncateText(s, 64))
}

// parseBool parses az's three-state boolean words.
func parseBool(flag, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, usageErrorf("argument %s: invalid value %q: expected true or false", flag, truncateText(s, 40))
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// isNotFound reports whether err is a 404 from the server.
func isNotFound(err error) bool {
	var re *client.ResponseError
	return errors.As(err, &re) && re.StatusCode == 404
}

// requiredError is az's usage error for missing arguments: "the following arguments
// are required: NAME, ...".
func requiredError(names ...string) error {
	return usageErrorf("the following arguments are required: %s", strings.Join(names, ", "))
}
