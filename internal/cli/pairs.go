package cli

import (
	"fmt"
	"strings"
)

// SplitPair splits a NAME=VALUE flag value; the name is trimmed and must not be empty.
func SplitPair(flag, kv string) (name, value string, err error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return "", "", fmt.Errorf("%s %q: want NAME=VALUE", flag, kv)
	}
	return strings.TrimSpace(k), v, nil
}

// ParsePairs parses repeated NAME=VALUE flag values into a map (a later name wins); nil
// when there are none.
func ParsePairs(flag string, list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, err := SplitPair(flag, kv)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
