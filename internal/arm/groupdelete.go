package arm

import (
	"context"
	"strings"

	"github.com/keystage/keystage/internal/storage"
)

// Operation kinds.
const (
	OperationDeleteGroup = "Microsoft.Resources/subscriptions/resourceGroups/delete"
	OperationPurgeVault  = "Microsoft.KeyVault/locations/deletedVaults/purge/action"
)

// DeleteGroup deletes a resource group and everything in it: vaults go to the deleted vaults
// (as in Azure), user-assigned identities are deleted with their service principals, and role
// assignments at the group's scope or below go too. It returns the finished operation for
// ARM's asynchronous protocol. A delete interrupted by a crash leaves the group
// "Deleting"; deleting it again finishes the job.
func (s *Service) DeleteGroup(ctx context.Context, c Caller, sub, name string) (Operation, error) {
	if err := s.authorize(c, groupScope(sub, name), actionGroupDelete); err != nil {
		return Operation{}, err
	}
	start := s.now().UTC()
	var g Group
	var members []string
	err := s.update(ctx, func(tx storage.Store, _ *changes) error {
		var err error
		if g, err = s.group(ctx, tx, sub, name); err != nil {
			return err
		}
		g.ProvisioningState = provisioningDeleting
		if err := storage.PutJSON(ctx, tx, groupKey(sub, name), g); err != nil {
			return err
		}
		entries, err := tx.List(ctx, membersPrefix(sub, name), "", 0)
		if err != nil {
			return err
		}
		members = members[:0]
		for _, e := range entries {
			members = append(members, strings.TrimPrefix(e.Key, membersPrefix(sub, name)))
		}
		return nil
	})
	if err != nil {
		return Operation{}, err
	}
	// Identities live partly in the identity service, so each goes in its own steps.
	for _, m := range members {
		kind, member, _ := strings.Cut(m, "/")
		if kind != memberIdentity {
			continue
		}
		id, err := s.identity(ctx, s.store, sub, name, member)
		if err != nil {
			return Operation{}, err
		}
		if err := s.removeIdentity(ctx, &id); err != nil {
			return Operation{}, err
		}
	}
	err = s.update(ctx, func(tx storage.Store, ch *changes) error {
		for _, m := range members {
			kind, member, _ := strings.Cut(m, "/")
			if kind != memberVault {
				continue
			}
			v, err := s.vaultIn(ctx, tx, sub, name, member)
			if err != nil {
				continue // already gone
			}
			if err := s.softDeleteVault(ctx, tx, ch, &v); err != nil {
				return err
			}
		}
		if err := storage.DeletePrefix(ctx, tx, membersPrefix(sub, name)); err != nil {
			return err
		}
		scope, err := parseScope(g.ID())
		if err != nil {
			return err
		}
		if err := s.deleteAssignmentsBelow(ctx, tx, ch, scope); err != nil {
			return err
		}
		return tx.Delete(ctx, groupKey(sub, name))
	})
	if err != nil {
		return Operation{}, err
	}
	s.log.Info("resource group deleted", "group", g.ID(), "resources", len(members), "caller", c.ObjectID)
	return s.recordOperation(ctx, c, sub, OperationDeleteGroup, g.ID(), start, nil)
}
