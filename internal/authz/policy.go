package authz

import (
	"errors"
	"fmt"
	"strings"
)

// PermissionCategory is one of the four lists of a vault access policy entry.
type PermissionCategory string

// The access policy permission categories, spelled as the JSON keys of "permissions".
const (
	KeyPermissions         PermissionCategory = "keys"
	SecretPermissions      PermissionCategory = "secrets"
	CertificatePermissions PermissionCategory = "certificates"
	StoragePermissions     PermissionCategory = "storage"
)

// PermissionAll grants every permission of its category.
const PermissionAll = "all"

// MaxAccessPolicies is the number of access policy entries a vault may hold.
const MaxAccessPolicies = 1024

// ErrInvalidAccessPolicy is wrapped by every access policy validation error.
var ErrInvalidAccessPolicy = errors.New("invalid access policy")

// PolicyPermission names one access policy permission, such as secrets/get.
type PolicyPermission struct {
	Category PermissionCategory
	Name     string // canonical spelling, e.g. "get", "unwrapKey", "getrotationpolicy"
}

func (p PolicyPermission) String() string { return string(p.Category) + "/" + p.Name }

// AccessPolicyEntry is one entry of a vault's accessPolicies, shaped like ARM's. ObjectID is a
// user, group, service principal or managed identity. With ApplicationID set the entry is a
// compound identity: it grants only to that application acting on behalf of ObjectID (a
// delegated token whose oid is ObjectID, or a member of the group ObjectID, and whose appid is
// ApplicationID) — never to the application alone nor to the object through another client.
type AccessPolicyEntry struct {
	TenantID      string                  `json:"tenantId"`
	ObjectID      string                  `json:"objectId"`
	ApplicationID string                  `json:"applicationId,omitempty"`
	Permissions   AccessPolicyPermissions `json:"permissions"`
}

// AccessPolicyPermissions are the permission lists of an entry. Names are case-insensitive
// and "all" grants the whole category.
type AccessPolicyPermissions struct {
	Keys         []string `json:"keys,omitempty"`
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

// List returns the names of category c.
func (p *AccessPolicyPermissions) List(c PermissionCategory) []string {
	switch c {
	case KeyPermissions:
		return p.Keys
	case SecretPermissions:
		return p.Secrets
	case CertificatePermissions:
		return p.Certificates
	case StoragePermissions:
		return p.Storage
	}
	return nil
}

// Has reports whether the lists grant perm, by name or through "all".
func (p *AccessPolicyPermissions) Has(perm PolicyPermission) bool {
	for _, n := range p.List(perm.Category) {
		if equalFoldASCII(n, perm.Name) || equalFoldASCII(n, PermissionAll) {
			return true
		}
	}
	return false
}

// Normalized returns the lists with every name in its canonical spelling and duplicates
// removed (keeping first appearances), as az keyvault set-policy stores them, or an error
// naming the first unknown permission.
func (p AccessPolicyPermissions) Normalized() (AccessPolicyPermissions, error) {
	var out AccessPolicyPermissions
	for _, c := range PermissionCategories() {
		in := p.List(c)
		if in == nil {
			continue
		}
		norm := make([]string, 0, len(in))
		for _, n := range in {
			canon, ok := CanonicalPermission(c, n)
			if !ok {
				return AccessPolicyPermissions{}, fmt.Errorf("authz: %s permission %q is not one of %s: %w",
					strings.TrimSuffix(string(c), "s"), clip(n), strings.Join(append([]string{PermissionAll}, PermissionNames(c)...), ", "), ErrInvalidAccessPolicy)
			}
			dup := false
			for _, m := range norm {
				if m == canon {
					dup = true
					break
				}
			}
			if !dup {
				norm = append(norm, canon)
			}
		}
		out.set(c, norm)
	}
	return out, nil
}

// set replaces the names of category c.
func (p *AccessPolicyPermissions) set(c PermissionCategory, names []string) {
	switch c {
	case KeyPermissions:
		p.Keys = names
	case SecretPermissions:
		p.Secrets = names
	case CertificatePermissions:
		p.Certificates = names
	case StoragePermissions:
		p.Storage = names
	}
}

// Validate checks an entry: GUID tenant, object and (when set) application ids, and known
// permission names in every category.
func (e *AccessPolicyEntry) Validate() error {
	if !isGUID(e.TenantID) {
		return fmt.Errorf("authz: access policy: tenantId %q is not a GUID: %w", clip(e.TenantID), ErrInvalidAccessPolicy)
	}
	if !isGUID(e.ObjectID) {
		return fmt.Errorf("authz: access policy: objectId %q is not a GUID: %w", clip(e.ObjectID), ErrInvalidAccessPolicy)
	}
	if e.ApplicationID != "" && !isGUID(e.ApplicationID) {
		return fmt.Errorf("authz: access policy: applicationId %q is not a GUID: %w", clip(e.ApplicationID), ErrInvalidAccessPolicy)
	}
	_, err := e.Permissions.Normalized()
	return err
}

// ValidateAccessPolicies checks a vault's whole list: at most MaxAccessPolicies entries, each
// valid.
func ValidateAccessPolicies(entries []AccessPolicyEntry) error {
	if len(entries) > MaxAccessPolicies {
		return fmt.Errorf("authz: %d access policies; a vault holds at most %d: %w", len(entries), MaxAccessPolicies, ErrInvalidAccessPolicy)
	}
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return fmt.Errorf("authz: accessPolicies[%d]: %w", i, err)
		}
	}
	return nil
}

// FindAccessPolicy returns the index of the entry whose tenant, object and application ids
// equal the given ones, ignoring case ("" matches only an entry without an application), or
// -1. It is the match az keyvault set-policy and delete-policy use.
func FindAccessPolicy(entries []AccessPolicyEntry, tenantID, objectID, applicationID string) int {
	for i := range entries {
		e := &entries[i]
		if equalFoldASCII(e.TenantID, tenantID) && equalFoldASCII(e.ObjectID, objectID) && equalFoldASCII(e.ApplicationID, applicationID) {
			return i
		}
	}
	return -1
}

// Caller is the identity presenting a Key Vault data-plane token, from its claims.
type Caller struct {
	TenantID      string   // tid
	ObjectID      string   // oid
	ApplicationID string   // appid (v1) or azp (v2)
	GroupIDs      []string // groups the caller belongs to, transitively
	// AppOnly marks an application token (client credentials, managed identity, federated
	// credential) as opposed to a delegated token acting for a user. Compound-identity entries
	// never match an app-only token.
	AppOnly bool
	Issuer  string // iss, printed in denial messages
}

// principal returns the caller as the subject of an RBAC check.
func (c *Caller) principal() Principal {
	return Principal{ObjectID: c.ObjectID, GroupIDs: c.GroupIDs}
}

// PolicyReason explains a PolicyDecision.
type PolicyReason uint8

// The policy reasons.
const (
	// PolicyAllowed: an entry that applies to the caller grants the permission.
	PolicyAllowed PolicyReason = iota + 1
	// PolicyNoMatchingEntry: no entry applies to the caller (Key Vault: AccessDenied).
	PolicyNoMatchingEntry
	// PolicyPermissionMissing: entries apply to the caller but none grants the permission
	// (Key Vault: AccessDenied).
	PolicyPermissionMissing
	// PolicyRequiresOnBehalfOf: only compound-identity entries name the caller's object, and
	// the token is not that application acting for it (Key Vault: ForbiddenByPolicy, "The
	// policy requires the caller ... to use on-behalf-of (OBO) flow").
	PolicyRequiresOnBehalfOf
)

func (r PolicyReason) String() string {
	switch r {
	case PolicyAllowed:
		return "Allowed"
	case PolicyNoMatchingEntry:
		return "NoMatchingEntry"
	case PolicyPermissionMissing:
		return "PermissionMissing"
	case PolicyRequiresOnBehalfOf:
		return "RequiresOnBehalfOf"
	}
	return "invalid"
}

// PolicyDecision is the outcome of an access policy check. Entry points into the checked slice:
// the granting entry when allowed, else the first entry that applied to the caller (or, for
// PolicyRequiresOnBehalfOf, the compound entry that named it), else nil.
type PolicyDecision struct {
	Allowed bool
	Reason  PolicyReason
	Entry   *AccessPolicyEntry
}

// EvaluateAccessPolicies decides whether the vault's access policy entries grant perm to the
// caller. An entry applies when its tenant is the caller's and its object is the caller or one
// of the caller's groups; an entry with an application id applies only when, in addition, the
// token is delegated (not AppOnly) and its application id is the entry's. Permissions of all
// applying entries add up. It does not allocate.
func EvaluateAccessPolicies(entries []AccessPolicyEntry, c *Caller, perm PolicyPermission) PolicyDecision {
	var applied, compound *AccessPolicyEntry
	p := c.principal()
	for i := range entries {
		e := &entries[i]
		if !equalFoldASCII(e.TenantID, c.TenantID) || !p.matches(e.ObjectID) {
			continue
		}
		if e.ApplicationID != "" && (c.AppOnly || !equalFoldASCII(e.ApplicationID, c.ApplicationID)) {
			if compound == nil {
				compound = e
			}
			continue
		}
		if e.Permissions.Has(perm) {
			return PolicyDecision{Allowed: true, Reason: PolicyAllowed, Entry: e}
		}
		if applied == nil {
			applied = e
		}
	}
	switch {
	case applied != nil:
		return PolicyDecision{Reason: PolicyPermissionMissing, Entry: applied}
	case compound != nil:
		return PolicyDecision{Reason: PolicyRequiresOnBehalfOf, Entry: compound}
	}
	return PolicyDecision{Reason: PolicyNoMatchingEntry}
}
