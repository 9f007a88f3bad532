package devops

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/keystage/keystage/internal/fault"
)

// PrincipalRef names a directory principal: its tenant and object id (the oid of its
// tokens), both lower-case GUIDs.
type PrincipalRef struct {
	TenantID string `json:"tenantId"`
	ObjectID string `json:"objectId"`
}

func (p PrincipalRef) normalized() (PrincipalRef, error) {
	tid, ok1 := normalizeGUID(p.TenantID)
	oid, ok2 := normalizeGUID(p.ObjectID)
	if !ok1 || !ok2 {
		return PrincipalRef{}, BadRequest("A principal needs a tenantId and an objectId that are GUIDs.")
	}
	return PrincipalRef{TenantID: tid, ObjectID: oid}, nil
}

// IdentityRef is a principal as Azure DevOps shows it (createdBy, authorizedBy, …).
type IdentityRef struct {
	ID          string `json:"id"` // object id
	TenantID    string `json:"tenantId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// CallerKind says how a caller authenticated.
type CallerKind string

// Kinds of callers.
const (
	// CallerToken: a Keystage access token from the identity provider.
	CallerToken CallerKind = "token"
	// CallerPAT: a personal access token.
	CallerPAT CallerKind = "pat"
	// CallerJob: a job access token (System.AccessToken) issued by the run orchestrator.
	CallerJob CallerKind = "job"
)

// Caller is an authenticated principal of the DevOps surface.
type Caller struct {
	Kind        CallerKind
	Principal   PrincipalRef
	DisplayName string
	// Administrator is set for the Keystage administrator.
	Administrator bool
	// Scopes restrict a personal access token (Azure DevOps scope names such as
	// "vso.build_execute"); nil means full access.
	Scopes []string
	// OrgID, when set, is the only organization the caller may use (a PAT created for one
	// organization, a job token).
	OrgID string
	// ProjectID, when set, is the only project the caller may use (a job token).
	ProjectID string
	// PATID is the personal access token's authorization id (CallerPAT only).
	PATID string
}

// Identity returns the caller as an IdentityRef.
func (c Caller) Identity() IdentityRef {
	return IdentityRef{ID: c.Principal.ObjectID, TenantID: c.Principal.TenantID, DisplayName: c.DisplayName}
}

// LogValue identifies the caller without any credential.
func (c Caller) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", string(c.Kind)), slog.String("tenant", c.Principal.TenantID),
		slog.String("object", c.Principal.ObjectID))
}

// IsAdministrator reports whether p is a Keystage administrator.
func (s *Service) IsAdministrator(p PrincipalRef) bool {
	ref, err := p.normalized()
	return err == nil && s.admins[ref]
}

// Access is what an action needs.
type Access int

// Levels of access.
const (
	// Read: list and show.
	Read Access = iota
	// Manage: create, change and delete.
	Manage
)

func (a Access) String() string {
	if a == Manage {
		return "Manage"
	}
	return "Read"
}

// Authorize checks that c may act with access a in org (and in projectID when it is not
// empty). It returns a 403 AccessCheckException otherwise; it never allows by default.
func (s *Service) Authorize(c Caller, org Organization, projectID string, a Access) error {
	if c.OrgID != "" && c.OrgID != org.ID {
		return s.denied(c, org, a)
	}
	switch c.Kind {
	case CallerJob:
		if a != Read || c.ProjectID == "" || projectID != c.ProjectID {
			return s.denied(c, org, a)
		}
		return nil
	case CallerToken, CallerPAT:
		if c.Administrator || org.IsOwner(c.Principal) {
			return nil
		}
	}
	return s.denied(c, org, a)
}

// AuthorizeServer checks that c may manage the server itself (organizations): only
// Keystage administrators may.
func (s *Service) AuthorizeServer(c Caller) error {
	if (c.Kind == CallerToken || c.Kind == CallerPAT) && c.Administrator && c.OrgID == "" {
		return nil
	}
	return fault.New(fault.Forbidden, CodeAccessDenied,
		"Access denied. %s needs to be a Keystage administrator to manage organizations.", c.describe())
}

func (s *Service) denied(c Caller, org Organization, a Access) error {
	return fault.New(fault.Forbidden, CodeAccessDenied,
		"Access denied. %s needs %s permissions in organization %s to perform this action.", c.describe(), a, org.Name)
}

func (c Caller) describe() string {
	name := c.DisplayName
	if name == "" {
		name = c.Principal.ObjectID
	}
	if c.Kind == CallerJob {
		return fmt.Sprintf("The job token of %s", name)
	}
	return name
}

// IsOwner reports whether p owns the organization.
func (o Organization) IsOwner(p PrincipalRef) bool {
	return slices.Contains(o.Owners, p)
}
