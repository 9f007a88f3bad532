// Package authz decides Azure authorization questions — RBAC role assignments and Key Vault
// access policies — for the management and data planes, as pure functions: data in, decision
// out, with no I/O, storage or clock.
package authz

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ScopeKind says which level of the Azure resource hierarchy a Scope names.
type ScopeKind uint8

// The scope kinds. The zero ScopeKind belongs to the zero Scope only.
const (
	ScopeInvalid         ScopeKind = iota
	ScopeRoot                      // "/"
	ScopeManagementGroup           // /providers/Microsoft.Management/managementGroups/{id}
	ScopeSubscription              // /subscriptions/{id}
	ScopeResourceGroup             // /subscriptions/{id}/resourceGroups/{name}
	ScopeResource                  // .../providers/{namespace}/{type}/{name}[/{type}/{name}]...
)

func (k ScopeKind) String() string {
	switch k {
	case ScopeRoot:
		return "root"
	case ScopeManagementGroup:
		return "managementGroup"
	case ScopeSubscription:
		return "subscription"
	case ScopeResourceGroup:
		return "resourceGroup"
	case ScopeResource:
		return "resource"
	}
	return "invalid"
}

// MaxScopeLength bounds the length of a scope string ParseScope accepts.
const MaxScopeLength = 4096

// ErrInvalidScope is wrapped by every error ParseScope and Scope.Child return.
var ErrInvalidScope = errors.New("invalid scope")

// Scope is a parsed, normalized Azure scope: the root "/", a management group, a
// subscription, a resource group or a resource (a Key Vault, or a secret inside one).
//
// Normalization writes the keywords as Azure does ("subscriptions", "resourceGroups",
// "providers") and drops one trailing slash; names keep the case they were given. Scopes
// compare case-insensitively, as Azure's do. The zero Scope is invalid and contains nothing.
// A Scope is a small immutable value, safe to copy and to share between goroutines.
type Scope struct {
	s    string
	kind ScopeKind
}

// RootScope returns "/", the scope above every other.
func RootScope() Scope { return Scope{s: "/", kind: ScopeRoot} }

// String returns the normalized scope ("" for the zero Scope).
func (s Scope) String() string { return s.s }

// Kind returns the scope's level.
func (s Scope) Kind() ScopeKind { return s.kind }

// IsZero reports whether s is the zero (invalid) Scope.
func (s Scope) IsZero() bool { return s.kind == ScopeInvalid }

// Equal reports whether s and t name the same scope (case-insensitive).
func (s Scope) Equal(t Scope) bool {
	return s.kind != ScopeInvalid && s.kind == t.kind && equalFoldASCII(s.s, t.s)
}

// Contains reports whether t is s or lies below s, so that a role assignment at s applies at
// t. The root contains every valid scope. A management group contains only itself: Keystage
// has no management-group hierarchy, so it cannot tell which subscriptions sit below one.
func (s Scope) Contains(t Scope) bool {
	if s.kind == ScopeInvalid || t.kind == ScopeInvalid {
		return false
	}
	if s.kind == ScopeRoot {
		return true
	}
	if len(t.s) < len(s.s) || !equalFoldASCII(t.s[:len(s.s)], s.s) {
		return false
	}
	if len(t.s) == len(s.s) {
		return true
	}
	return s.kind != ScopeManagementGroup && t.s[len(s.s)] == '/'
}

// SubscriptionID returns the subscription segment of s, or "" when s is above or outside
// any subscription.
func (s Scope) SubscriptionID() string {
	rest, ok := cutPrefixFold(s.s, "/subscriptions/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// ResourceGroup returns the resource-group segment of s, or "" when s is not inside one.
func (s Scope) ResourceGroup() string {
	rest, ok := cutPrefixFold(s.s, "/subscriptions/")
	if !ok {
		return ""
	}
	_, rest, _ = strings.Cut(rest, "/")
	rest, ok = cutPrefixFold(rest, "resourceGroups/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// Child returns the scope of the child resource resourceType/name below the resource s,
// such as a secret below its vault: vault.Child("secrets", "db-password").
func (s Scope) Child(resourceType, name string) (Scope, error) {
	if s.kind != ScopeResource {
		return Scope{}, fmt.Errorf("authz: scope %q is a %s, not a resource: %w", s.s, s.kind, ErrInvalidScope)
	}
	if err := checkTypeSegment(resourceType); err != nil {
		return Scope{}, fmt.Errorf("authz: child of %q: %v: %w", s.s, err, ErrInvalidScope)
	}
	if err := checkNameSegment(name); err != nil {
		return Scope{}, fmt.Errorf("authz: child of %q: %v: %w", s.s, err, ErrInvalidScope)
	}
	if len(s.s)+len(resourceType)+len(name)+2 > MaxScopeLength {
		return Scope{}, fmt.Errorf("authz: child of %q is longer than %d bytes: %w", s.s, MaxScopeLength, ErrInvalidScope)
	}
	return Scope{s: s.s + "/" + resourceType + "/" + name, kind: ScopeResource}, nil
}

// VaultScope returns the scope of the Key Vault named vault in the given subscription and
// resource group.
func VaultScope(subscriptionID, resourceGroup, vault string) (Scope, error) {
	return ParseScope("/subscriptions/" + subscriptionID + "/resourceGroups/" + resourceGroup +
		"/providers/Microsoft.KeyVault/vaults/" + vault)
}

// ParseScope parses and normalizes an Azure scope. It accepts "/", management groups,
// subscriptions, resource groups and resources (including nested and extension resources
// such as .../vaults/{v}/secrets/{s} or .../providers/Microsoft.Authorization/roleAssignments/{id}),
// with keywords in any case and at most one trailing slash. Empty segments, "." and "..",
// wildcards, whitespace, control characters and the characters " # % < > ? \ are rejected.
func ParseScope(raw string) (Scope, error) {
	fail := func(format string, args ...any) (Scope, error) {
		return Scope{}, fmt.Errorf("authz: scope %q: %s: %w", clip(raw), fmt.Sprintf(format, args...), ErrInvalidScope)
	}
	switch {
	case raw == "":
		return fail("empty")
	case len(raw) > MaxScopeLength:
		return fail("longer than %d bytes", MaxScopeLength)
	case raw[0] != '/':
		return fail("must start with '/'")
	case raw == "/":
		return RootScope(), nil
	case !utf8.ValidString(raw):
		return fail("not valid UTF-8")
	}
	body := strings.TrimSuffix(raw[1:], "/")
	segs := strings.Split(body, "/")
	for _, seg := range segs {
		if seg == "" {
			return fail("empty segment")
		}
	}
	var b strings.Builder
	b.Grow(len(raw))
	var kind ScopeKind
	i := 0
	switch {
	case strings.EqualFold(segs[0], "subscriptions"):
		if len(segs) < 2 {
			return fail("missing the subscription id")
		}
		if err := checkNameSegment(segs[1]); err != nil {
			return fail("subscription id: %v", err)
		}
		b.WriteString("/subscriptions/")
		b.WriteString(segs[1])
		kind, i = ScopeSubscription, 2
		if i < len(segs) && strings.EqualFold(segs[i], "resourceGroups") {
			if i+1 >= len(segs) {
				return fail("missing the resource group name")
			}
			if err := checkNameSegment(segs[i+1]); err != nil {
				return fail("resource group: %v", err)
			}
			b.WriteString("/resourceGroups/")
			b.WriteString(segs[i+1])
			kind, i = ScopeResourceGroup, i+2
		}
	case strings.EqualFold(segs[0], "providers"):
		if len(segs) == 4 && strings.EqualFold(segs[1], "Microsoft.Management") && strings.EqualFold(segs[2], "managementGroups") {
			if err := checkNameSegment(segs[3]); err != nil {
				return fail("management group: %v", err)
			}
			b.WriteString("/providers/Microsoft.Management/managementGroups/")
			b.WriteString(segs[3])
			return Scope{s: b.String(), kind: ScopeManagementGroup}, nil
		}
	default:
		return fail("segment %q: a scope starts with /subscriptions or /providers", clip(segs[0]))
	}
	if i < len(segs) {
		if err := writeProviders(&b, segs[i:]); err != nil {
			return fail("%v", err)
		}
		kind = ScopeResource
	}
	return Scope{s: b.String(), kind: kind}, nil
}

// writeProviders normalizes the resource part of a scope: one or more runs of
// "providers/{namespace}" followed by {type}/{name} pairs.
func writeProviders(b *strings.Builder, segs []string) error {
	for len(segs) > 0 {
		if !strings.EqualFold(segs[0], "providers") {
			return fmt.Errorf("segment %q: expected \"providers\"", clip(segs[0]))
		}
		if len(segs) < 2 {
			return errors.New("missing the resource provider namespace")
		}
		if err := checkNamespace(segs[1]); err != nil {
			return err
		}
		b.WriteString("/providers/")
		b.WriteString(segs[1])
		segs = segs[2:]
		pairs := 0
		for len(segs) > 0 && !strings.EqualFold(segs[0], "providers") {
			if len(segs) < 2 {
				return fmt.Errorf("resource type %q has no name", clip(segs[0]))
			}
			if err := checkTypeSegment(segs[0]); err != nil {
				return err
			}
			if err := checkNameSegment(segs[1]); err != nil {
				return err
			}
			b.WriteByte('/')
			b.WriteString(segs[0])
			b.WriteByte('/')
			b.WriteString(segs[1])
			segs = segs[2:]
			pairs++
		}
		if pairs == 0 {
			return errors.New("a provider namespace must be followed by a resource type and name")
		}
	}
	return nil
}

func checkNamespace(ns string) error {
	if !strings.Contains(ns, ".") || ns[0] == '.' || ns[len(ns)-1] == '.' {
		return fmt.Errorf("resource provider namespace %q must look like Company.Provider", clip(ns))
	}
	for i := 0; i < len(ns); i++ {
		if c := ns[i]; !isAlnum(c) && c != '.' {
			return fmt.Errorf("resource provider namespace %q has the character %q", clip(ns), c)
		}
	}
	return nil
}

func checkTypeSegment(t string) error {
	if t == "" {
		return errors.New("empty resource type")
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !isAlnum(c) && c != '-' && c != '_' {
			return fmt.Errorf("resource type %q has the character %q", clip(t), c)
		}
	}
	return nil
}

func checkNameSegment(n string) error {
	switch n {
	case "":
		return errors.New("empty segment")
	case ".", "..":
		return fmt.Errorf("segment %q is not a name", n)
	}
	for i := 0; i < len(n); {
		c := n[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x21 || c == 0x7f:
				return fmt.Errorf("name %q has whitespace or a control character", clip(n))
			case c == '"' || c == '#' || c == '%' || c == '*' || c == '<' || c == '>' || c == '?' || c == '\\' || c == '/':
				return fmt.Errorf("name %q has the character %q", clip(n), c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(n[i:])
		if r == utf8.RuneError && size == 1 {
			return errors.New("name is not valid UTF-8")
		}
		if r <= 0x9f || r == 0xa0 || r == 0xfeff || r == 0x2028 || r == 0x2029 || unicode.IsSpace(r) {
			return fmt.Errorf("name %q has whitespace or a control character", clip(n))
		}
		i += size
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// clip shortens user input quoted in error messages.
func clip(s string) string {
	const max = 96
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFoldASCII compares s and t ignoring ASCII case, without allocating. Bytes outside
// ASCII must match exactly, which is what Azure's ordinal-ignore-case comparisons of ids do
// for the identifiers Keystage issues.
func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	if s == t {
		return true // the common case, ids stored as given; compared without folding
	}
	for i := 0; i < len(s); i++ {
		if s[i] != t[i] && lowerASCII(s[i]) != lowerASCII(t[i]) {
			return false
		}
	}
	return true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !equalFoldASCII(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
