package authz

import (
	"fmt"
	"strings"
)

// MatchAction reports whether an action string such as
// "Microsoft.KeyVault/vaults/secrets/getSecret/action" is matched by a role permission
// pattern such as "Microsoft.KeyVault/vaults/secrets/*" or "*/read". It does not allocate.
//
// Matching follows Azure's: it ignores ASCII case, and '*' stands for any run of characters,
// '/' included, because Azure's own patterns need that ("*/read" grants
// "Microsoft.Resources/subscriptions/resourceGroups/read"; "Microsoft.Network/*/read" grants
// reads of nested resource types). A '*' that is a whole segment ("/*/") may also stand for
// no segment at all: "Microsoft.KeyVault/vaults/*/read" grants "Microsoft.KeyVault/vaults/read",
// which Key Vault Reader's "read metadata of key vaults" and Managed Identity Operator's
// "userAssignedIdentities/*/assign/action" rely on.
//
// Time is O(len(pattern)·len(action)) in the worst case; there is no backtracking blow-up.
func MatchAction(pattern, action string) bool {
	if strings.IndexByte(pattern, '*') < 0 {
		return equalFoldASCII(pattern, action)
	}
	pi, si := 0, 0
	resume := -1     // pattern index after the last star token, or -1 when there is none
	starEnd := 0     // action index where that star's match currently ends
	segStar := false // the last star is a whole segment: it matches "" or text ending in '/'
	for {
		if pi < len(pattern) {
			c := pattern[pi]
			if c == '*' {
				segStar = isSegmentStar(pattern, pi)
				if segStar {
					// The token is "*/": the star together with the slash after it
					// matches nothing, or any text that ends in '/'.
					resume = pi + 2
				} else {
					resume = pi + 1
				}
				starEnd, pi = si, resume
				continue
			}
			if si < len(action) && lowerASCII(c) == lowerASCII(action[si]) {
				pi++
				si++
				continue
			}
		} else if si == len(action) {
			return true
		}
		if resume < 0 {
			return false
		}
		if segStar {
			j := strings.IndexByte(action[starEnd:], '/')
			if j < 0 {
				return false
			}
			starEnd += j + 1
		} else {
			if starEnd >= len(action) {
				return false
			}
			starEnd++
		}
		si, pi = starEnd, resume
	}
}

// isSegmentStar reports whether the '*' at pattern[i] fills a whole segment ("/*/").
func isSegmentStar(pattern string, i int) bool {
	return i > 0 && pattern[i-1] == '/' && i+1 < len(pattern) && pattern[i+1] == '/'
}

func matchAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if MatchAction(p, action) {
			return true
		}
	}
	return false
}

// maxActionLength bounds one action string or pattern.
const maxActionLength = 1024

// checkActionPattern validates one entry of Actions, NotActions, DataActions or
// NotDataActions. maxStars limits the wildcards (Azure allows one in a custom role's
// action strings); data patterns must name a resource provider, because data actions are
// defined per provider and a bare "*" would grant every data plane there is.
func checkActionPattern(p string, data bool, maxStars int) error {
	if p == "" {
		return fmt.Errorf("empty action string")
	}
	if len(p) > maxActionLength {
		return fmt.Errorf("action string %q is longer than %d characters", clip(p), maxActionLength)
	}
	stars := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case isAlnum(c), c == '.', c == '/', c == '-', c == '_':
		case c == '*':
			stars++
			if i+1 < len(p) && p[i+1] == '*' {
				return fmt.Errorf("action string %q has two wildcards in a row", clip(p))
			}
		default:
			return fmt.Errorf("action string %q has the character %q", clip(p), c)
		}
	}
	if stars > maxStars {
		return fmt.Errorf("action string %q has %d wildcards; at most %d is allowed", clip(p), stars, maxStars)
	}
	if p == "*" {
		if data {
			return fmt.Errorf("data action \"*\" must name a resource provider, such as Microsoft.KeyVault/vaults/secrets/*")
		}
		return nil
	}
	if p[0] == '/' || p[len(p)-1] == '/' || strings.Contains(p, "//") {
		return fmt.Errorf("action string %q has an empty segment", clip(p))
	}
	ns, rest, found := strings.Cut(p, "/")
	if !found || rest == "" {
		return fmt.Errorf("action string %q must look like Company.Provider/resourceType/action", clip(p))
	}
	if ns == "*" {
		if data {
			return fmt.Errorf("data action %q must name a resource provider", clip(p))
		}
		return nil
	}
	if strings.Contains(ns, "*") {
		return fmt.Errorf("action string %q: the provider namespace cannot hold a wildcard", clip(p))
	}
	if err := checkNamespace(ns); err != nil {
		return fmt.Errorf("action string %q: %v", clip(p), err)
	}
	return nil
}
