package devops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/identity"

	"github.com/keystage/keystage/internal/storage"
)

// Storage layout. Every value is JSON sealed by the barrier. Ids in keys are lower-case
// GUIDs or zero-padded decimal integers; names in index keys are lower-cased.
//
//	devops/org/{orgId}                               Organization
//	devops/orgname/{name}                            orgId
//	devops/pat/{hex MAC of the token}                storedPAT
//	devops/patowner/{tenantId}/{objectId}/{patId}    hex MAC (listing and revocation)
//	devops/o/{orgId}/seq/{kind}                      next integer id of kind
//	devops/o/{orgId}/project/{projectId}             Project
//	devops/o/{orgId}/projectname/{name}              projectId
//	devops/o/{orgId}/op/{operationId}                Operation
//	devops/o/{orgId}/pool/{poolId}                   Pool
//	devops/o/{orgId}/poolname/{name}                 poolId
//	devops/o/{orgId}/agent/{poolId}/{agentId}        Agent
//	devops/o/{orgId}/agentname/{poolId}/{name}       agentId
//	devops/o/{orgId}/endpoint/{endpointId}           ServiceEndpoint (secrets removed)
//	devops/o/{orgId}/endpointsecret/{endpointId}     map of secret parameters
//	devops/o/{orgId}/p/{projectId}/def/{defId}       Definition
//	devops/o/{orgId}/p/{projectId}/defname/{path}    defId ("\folder\name", lower-cased)
//	devops/o/{orgId}/p/{projectId}/queue/{queueId}   Queue
//	devops/o/{orgId}/p/{projectId}/queuename/{name}  queueId
//	devops/o/{orgId}/p/{projectId}/endpoint/{id}     "" (the endpoint is shared with the project)
//	devops/o/{orgId}/p/{projectId}/endpointname/{n}  endpointId
//	devops/o/{orgId}/p/{projectId}/perm/{type}/{id}  ResourcePermissions
const (
	orgsPrefix     = "devops/org/"
	orgNamesPrefix = "devops/orgname/"
	patsPrefix     = "devops/pat/"
	patOwnerPrefix = "devops/patowner/"
)

// OrgPrefix returns the storage prefix of everything that belongs to organization orgID.
// Other packages keep organization-scoped data under OrgPrefix(orgID) + "{area}/".
func OrgPrefix(orgID string) string { return "devops/o/" + orgID + "/" }

// ProjectPrefix returns the storage prefix of everything that belongs to a project; it is
// removed, in batches, when the project is deleted. Other packages keep project-scoped data
// under ProjectPrefix(orgID, projectID) + "{area}/".
func ProjectPrefix(orgID, projectID string) string {
	return OrgPrefix(orgID) + "p/" + projectID + "/"
}

func orgKey(id string) string            { return orgsPrefix + id }
func orgNameKey(name string) string      { return orgNamesPrefix + strings.ToLower(name) }
func seqKey(orgID, kind string) string   { return OrgPrefix(orgID) + "seq/" + kind }
func projectKey(orgID, id string) string { return OrgPrefix(orgID) + "project/" + id }
func projectNameKey(orgID, n string) string {
	return OrgPrefix(orgID) + "projectname/" + strings.ToLower(n)
}
func operationKey(orgID, id string) string { return OrgPrefix(orgID) + "op/" + id }
func poolKey(orgID string, id int) string  { return OrgPrefix(orgID) + "pool/" + intKey(id) }
func poolNameKey(orgID, n string) string   { return OrgPrefix(orgID) + "poolname/" + strings.ToLower(n) }
func agentsPrefix(orgID string, pool int) string {
	return OrgPrefix(orgID) + "agent/" + intKey(pool) + "/"
}
func agentKey(orgID string, pool, id int) string { return agentsPrefix(orgID, pool) + intKey(id) }
func agentNameKey(orgID string, pool int, n string) string {
	return OrgPrefix(orgID) + "agentname/" + intKey(pool) + "/" + strings.ToLower(n)
}
func endpointKey(orgID, id string) string       { return OrgPrefix(orgID) + "endpoint/" + id }
func endpointSecretKey(orgID, id string) string { return OrgPrefix(orgID) + "endpointsecret/" + id }

func defKey(orgID, projectID string, id int) string {
	return ProjectPrefix(orgID, projectID) + "def/" + intKey(id)
}
func defNameKey(orgID, projectID, path string) string {
	return ProjectPrefix(orgID, projectID) + "defname/" + strings.ToLower(path)
}
func queueKey(orgID, projectID string, id int) string {
	return ProjectPrefix(orgID, projectID) + "queue/" + intKey(id)
}
func queueNameKey(orgID, projectID, n string) string {
	return ProjectPrefix(orgID, projectID) + "queuename/" + strings.ToLower(n)
}
func projectEndpointKey(orgID, projectID, id string) string {
	return ProjectPrefix(orgID, projectID) + "endpoint/" + id
}
func projectEndpointNameKey(orgID, projectID, n string) string {
	return ProjectPrefix(orgID, projectID) + "endpointname/" + strings.ToLower(n)
}
func permPrefix(orgID, projectID string) string { return ProjectPrefix(orgID, projectID) + "perm/" }
func permKey(orgID, projectID, typ, id string) string {
	return permPrefix(orgID, projectID) + typ + "/" + strings.ToLower(id)
}

// intKey zero-pads an id so that keys sort numerically.
func intKey(id int) string { return fmt.Sprintf("%010d", id) }

func newID() string { return uuid.NewString() }

// normalizeGUID returns s as a lower-case GUID, or false if it is not one.
func normalizeGUID(s string) (string, bool) { return identity.NormalizeGUID(s) }

func exists(ctx context.Context, st storage.Store, key string) (bool, error) {
	_, err := st.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func getString(ctx context.Context, st storage.Store, key string) (string, error) {
	b, err := st.Get(ctx, key)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// nextID allocates the next integer id of kind in orgID (1, 2, …); it must run inside the
// transaction that stores the new object.
func nextID(ctx context.Context, tx storage.Store, orgID, kind string) (int, error) {
	key := seqKey(orgID, kind)
	n := 0
	b, err := tx.Get(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return 0, err
	default:
		if n, err = strconv.Atoi(string(b)); err != nil {
			return 0, fmt.Errorf("decode %s: %w", key, err)
		}
	}
	n++
	if err := tx.Put(ctx, key, []byte(strconv.Itoa(n))); err != nil {
		return 0, err
	}
	return n, nil
}
