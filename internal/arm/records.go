package arm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/storage"
)

// Storage layout. Every key is lower-case where it holds a name, because ARM names are
// case-insensitive; records keep the case they were created with.
//
//	arm/subscriptions/{subscriptionId}                       Subscription
//	arm/groups/{subscriptionId}/{group}                      Group
//	arm/members/{subscriptionId}/{group}/{kind}/{name}       "" (index: resources in a group)
//	arm/vaults/{name}                                        Vault (names are global)
//	arm/deletedvaults/{name}                                 DeletedVault
//	arm/identities/{subscriptionId}/{group}/{name}           Identity
//	arm/roleassignments/{guid}                               RoleAssignment
//	arm/roledefinitions/{guid}                               custom role definition
//	arm/operations/{id}                                      Operation
const (
	prefixSubscriptions   = "arm/subscriptions/"
	prefixGroups          = "arm/groups/"
	prefixMembers         = "arm/members/"
	prefixVaults          = "arm/vaults/"
	prefixDeletedVaults   = "arm/deletedvaults/"
	prefixIdentities      = "arm/identities/"
	prefixRoleAssignments = "arm/roleassignments/"
	prefixRoleDefinitions = "arm/roledefinitions/"
	prefixOperations      = "arm/operations/"
)

// Member kinds, the {kind} segment of a group's member index.
const (
	memberVault    = "vault"
	memberIdentity = "identity"
)

func subscriptionKey(sub string) string { return prefixSubscriptions + strings.ToLower(sub) }
func groupKey(sub, group string) string {
	return prefixGroups + strings.ToLower(sub) + "/" + strings.ToLower(group)
}
func membersPrefix(sub, group string) string {
	return prefixMembers + strings.ToLower(sub) + "/" + strings.ToLower(group) + "/"
}
func memberKey(sub, group, kind, name string) string {
	return membersPrefix(sub, group) + kind + "/" + strings.ToLower(name)
}
func vaultKey(name string) string        { return prefixVaults + strings.ToLower(name) }
func deletedVaultKey(name string) string { return prefixDeletedVaults + strings.ToLower(name) }
func identityKey(sub, group, name string) string {
	return prefixIdentities + strings.ToLower(sub) + "/" + strings.ToLower(group) + "/" + strings.ToLower(name)
}
func roleAssignmentKey(guid string) string { return prefixRoleAssignments + strings.ToLower(guid) }
func roleDefinitionKey(guid string) string { return prefixRoleDefinitions + strings.ToLower(guid) }
func operationKey(id string) string        { return prefixOperations + strings.ToLower(id) }

// listJSON decodes every record under prefix, in key order, calling fn with each key and
// record; unlike storage.ListJSON it reads in pages, so a long list is never held whole.
func listJSON[T any](ctx context.Context, st storage.Store, prefix string, fn func(key string, v *T) error) error {
	const page = 500
	after := ""
	for {
		entries, err := st.List(ctx, prefix, after, page)
		if err != nil {
			return err
		}
		for _, e := range entries {
			v := new(T)
			if err := json.Unmarshal(e.Value, v); err != nil {
				return fmt.Errorf("arm: decode %s: %w", e.Key, err)
			}
			if err := fn(e.Key, v); err != nil {
				return err
			}
		}
		if len(entries) < page {
			return nil
		}
		after = entries[len(entries)-1].Key
	}
}
