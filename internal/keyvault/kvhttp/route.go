package kvhttp

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/keyvault"
)

// auditNames are the operation names of Azure Key Vault's AuditEvent log, which Keystage's
// audit trail uses too.
var auditNames = map[authz.SecretOperation]string{
	authz.SecretSet: "SecretSet", authz.SecretGet: "SecretGet", authz.SecretList: "SecretList",
	authz.SecretListVersions: "SecretListVersions", authz.SecretUpdate: "SecretUpdate",
	authz.SecretDelete: "SecretDelete", authz.SecretGetDeleted: "SecretGetDeleted",
	authz.SecretListDeleted: "SecretListDeleted", authz.SecretRecover: "SecretRecover",
	authz.SecretPurge: "SecretPurge", authz.SecretBackup: "SecretBackup", authz.SecretRestore: "SecretRestore",
}

// auditName returns the audit name of op ("SecretGet"), or "Unknown".
func auditName(op authz.SecretOperation) string {
	if n, ok := auditNames[op]; ok {
		return n
	}
	return "Unknown"
}

// namesSecret reports whether the operation's path names a secret.
func namesSecret(op authz.SecretOperation) bool {
	return op != authz.SecretList && op != authz.SecretListDeleted && op != authz.SecretRestore && op != 0
}

// route is a parsed request path. When err is set the request is answered with it, but
// only after authentication: an unauthenticated caller learns nothing but the challenge.
type route struct {
	op      authz.SecretOperation
	name    string
	version string
	err     error
}

// codeMethodNotAllowed is answered with status 405.
const codeMethodNotAllowed = "MethodNotAllowed"

// unsupportedCollections are Key Vault object types Keystage does not implement.
var unsupportedCollections = map[string]string{
	"keys": "keys", "deletedkeys": "keys", "certificates": "certificates",
	"deletedcertificates": "certificates", "storage": "storage accounts",
	"deletedstorage": "storage accounts", "rng": "random number generation",
}

// parseRoute maps a method and an escaped path to an operation. Empty path segments are
// ignored, so the trailing slash Go clients send on get and update (GET /secrets/{name}/)
// and doubled slashes mean what they would without them. Segments are unescaped one by one,
// so "%2F" in a name stays inside that name (and fails validation).
func parseRoute(method, escapedPath string) route {
	var segs [4]string
	n := 0
	for p := range strings.SplitSeq(escapedPath, "/") {
		if p == "" {
			continue
		}
		if n == len(segs) {
			return route{err: errNoSuchPath(escapedPath)}
		}
		s, err := url.PathUnescape(p)
		if err != nil {
			return route{err: keyvault.ErrInvalidName(p)}
		}
		segs[n] = s
		n++
	}
	if n == 0 {
		return route{err: errNoSuchPath(escapedPath)}
	}
	collection := strings.ToLower(segs[0])
	switch collection {
	case "secrets":
		return secretsRoute(method, segs[1:n], escapedPath)
	case "deletedsecrets":
		return deletedRoute(method, segs[1:n], escapedPath)
	}
	if what, ok := unsupportedCollections[collection]; ok {
		return route{err: fault.New(fault.NotImplemented, "NotImplemented",
			"Keystage implements the secrets API of Key Vault only; %s are not supported.", what)}
	}
	return route{err: errNoSuchPath(escapedPath)}
}

func secretsRoute(method string, rest []string, path string) route {
	switch len(rest) {
	case 0:
		if method == http.MethodGet {
			return route{op: authz.SecretList}
		}
	case 1:
		name := rest[0]
		switch method {
		case http.MethodPut:
			return route{op: authz.SecretSet, name: name}
		case http.MethodGet:
			return route{op: authz.SecretGet, name: name}
		case http.MethodPatch:
			return route{op: authz.SecretUpdate, name: name}
		case http.MethodDelete:
			return route{op: authz.SecretDelete, name: name}
		case http.MethodPost:
			if strings.EqualFold(name, "restore") {
				return route{op: authz.SecretRestore}
			}
		}
	case 2:
		name, sub := rest[0], rest[1]
		switch method {
		case http.MethodGet:
			if strings.EqualFold(sub, "versions") {
				return route{op: authz.SecretListVersions, name: name}
			}
			return route{op: authz.SecretGet, name: name, version: sub}
		case http.MethodPatch:
			return route{op: authz.SecretUpdate, name: name, version: sub}
		case http.MethodPost:
			if strings.EqualFold(sub, "backup") {
				return route{op: authz.SecretBackup, name: name}
			}
		}
	default:
		return route{err: errNoSuchPath(path)}
	}
	return route{err: errMethod(method, path)}
}

func deletedRoute(method string, rest []string, path string) route {
	switch len(rest) {
	case 0:
		if method == http.MethodGet {
			return route{op: authz.SecretListDeleted}
		}
	case 1:
		switch method {
		case http.MethodGet:
			return route{op: authz.SecretGetDeleted, name: rest[0]}
		case http.MethodDelete:
			return route{op: authz.SecretPurge, name: rest[0]}
		}
	case 2:
		if method == http.MethodPost && strings.EqualFold(rest[1], "recover") {
			return route{op: authz.SecretRecover, name: rest[0]}
		}
		if !strings.EqualFold(rest[1], "recover") {
			return route{err: errNoSuchPath(path)}
		}
	default:
		return route{err: errNoSuchPath(path)}
	}
	return route{err: errMethod(method, path)}
}

func errNoSuchPath(path string) error {
	return fault.New(fault.NotFound, "NotFound", "The Key Vault secrets API has no resource at %s.", clip(path))
}

func errMethod(method, path string) error {
	return fault.New(fault.BadRequest, codeMethodNotAllowed, "The HTTP method %s is not allowed on %s.", clip(method), clip(path))
}
