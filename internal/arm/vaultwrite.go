package arm

import (
	"context"
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Create modes of a vault PUT.
const (
	CreateModeDefault = "default"
	CreateModeRecover = "recover"
)

// VaultParams are the properties of a vault create, update or patch. Nil pointers (and
// AccessPolicies when AccessPoliciesSet is false) leave the property as it is, or at its
// default for a new vault.
type VaultParams struct {
	Location          string // required to create; must not change
	Tags              map[string]string
	TagsSet           bool
	TenantID          string // required to create
	SKU               *SKU   // required to create
	AccessPolicies    []authz.AccessPolicyEntry
	AccessPoliciesSet bool
	CreateMode        string // "", "default" or "recover"

	EnableSoftDelete             *bool
	SoftDeleteRetentionInDays    *int
	EnablePurgeProtection        *bool
	EnableRbacAuthorization      *bool
	EnabledForDeployment         *bool
	EnabledForDiskEncryption     *bool
	EnabledForTemplateDeployment *bool
	PublicNetworkAccess          *string
	NetworkACLs                  *NetworkACLs
}

// NetworkACLs is a vault's network rule set. Keystage does not filter the data plane by
// network, so only the permissive rule set (default action Allow, no rules) is accepted.
type NetworkACLs struct {
	DefaultAction       string
	Bypass              string
	IPRules             int
	VirtualNetworkRules int
}

// PutVault creates, updates or (with CreateMode "recover") recovers the vault name in
// group. created reports whether the vault is new (or recovered).
func (s *Service) PutVault(ctx context.Context, c Caller, sub, group, name string, p VaultParams) (v Vault, created bool, err error) {
	if err := CheckVaultName(name); err != nil {
		return Vault{}, false, err
	}
	if err := s.authorize(c, resourceScope(sub, group, VaultType, name), actionVaultWrite); err != nil {
		return Vault{}, false, err
	}
	switch strings.ToLower(p.CreateMode) {
	case "", CreateModeDefault:
	case CreateModeRecover:
		return s.recoverVault(ctx, c, sub, group, name, p)
	default:
		return Vault{}, false, errInvalidParameter("The createMode '%s' is not valid; it must be 'default' or 'recover'.", clip(p.CreateMode))
	}
	loc, ok := NormalizeLocation(p.Location)
	if !ok {
		if strings.TrimSpace(p.Location) == "" {
			return Vault{}, false, fault.New(fault.BadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		return Vault{}, false, errLocationNotAvailable(p.Location, VaultType)
	}
	now := s.now().UTC()
	err = s.update(ctx, func(tx storage.Store, ch *changes) error {
		g, err := s.liveGroup(ctx, tx, sub, group)
		if err != nil {
			return err
		}
		subscription, err := s.subscription(ctx, tx, sub)
		if err != nil {
			return err
		}
		var old Vault
		err = storage.GetJSON(ctx, tx, vaultKey(name), &old)
		switch {
		case err == nil:
			if !strings.EqualFold(old.SubscriptionID, sub) || !strings.EqualFold(old.ResourceGroup, group) {
				return errVaultAlreadyExists(name)
			}
			if old.Location != loc {
				return errInvalidParameter("The location of vault '%s' is '%s' and cannot be changed to '%s'.", old.Name, old.Location, loc)
			}
			v, created = old, false
		case errors.Is(err, storage.ErrNotFound):
			if err := s.checkNotSoftDeleted(ctx, tx, name, now); err != nil {
				return err
			}
			v = Vault{
				Key: uuid.NewString(), Name: name, SubscriptionID: subscription.ID, ResourceGroup: g.Name, Location: loc,
				Properties: VaultProperties{SoftDeleteRetentionInDays: DefaultRetentionDays, PublicNetworkAccess: "Enabled", AccessPolicies: []authz.AccessPolicyEntry{}},
			}
			created = true
		default:
			return err
		}
		if !p.TagsSet {
			p.Tags, p.TagsSet = nil, true // PUT replaces the tags
		}
		if err := s.applyVaultParams(&v, p, created, subscription); err != nil {
			return err
		}
		v.SystemData = v.SystemData.touch(c, now)
		return s.putVault(ctx, tx, ch, &v)
	})
	if err != nil {
		return Vault{}, false, err
	}
	return v, created, nil
}

// PatchVault changes the given properties of an existing vault.
func (s *Service) PatchVault(ctx context.Context, c Caller, sub, group, name string, p VaultParams) (Vault, error) {
	if err := s.authorize(c, resourceScope(sub, group, VaultType, name), actionVaultWrite); err != nil {
		return Vault{}, err
	}
	if p.CreateMode != "" && !strings.EqualFold(p.CreateMode, CreateModeDefault) {
		return Vault{}, errInvalidParameter("A vault PATCH cannot recover a vault; use PUT with createMode 'recover'.")
	}
	var v Vault
	err := s.update(ctx, func(tx storage.Store, ch *changes) error {
		var err error
		if v, err = s.vaultIn(ctx, tx, sub, group, name); err != nil {
			return err
		}
		subscription, err := s.subscription(ctx, tx, sub)
		if err != nil {
			return err
		}
		if err := s.applyVaultParams(&v, p, false, subscription); err != nil {
			return err
		}
		v.SystemData = v.SystemData.touch(c, s.now().UTC())
		return s.putVault(ctx, tx, ch, &v)
	})
	return v, err
}

// applyVaultParams validates p and applies it to v.
func (s *Service) applyVaultParams(v *Vault, p VaultParams, creating bool, sub Subscription) error {
	props := &v.Properties
	if p.TagsSet {
		if err := checkTags(p.Tags); err != nil {
			return err
		}
		v.Tags = maps.Clone(p.Tags)
	}
	switch {
	case p.TenantID != "":
		if !isGUID(p.TenantID) {
			return errInvalidParameter("The tenantId '%s' is not a valid GUID.", clip(p.TenantID))
		}
		if !strings.EqualFold(p.TenantID, sub.TenantID) {
			return errInvalidParameter("The tenantId '%s' is not the tenant of subscription '%s' (%s); a vault must belong to its subscription's tenant.", clip(p.TenantID), sub.ID, sub.TenantID)
		}
		props.TenantID = strings.ToLower(p.TenantID)
	case creating:
		return errBadRequest("The property 'tenantId' is required to create a vault.")
	}
	switch {
	case p.SKU != nil:
		name := strings.ToLower(p.SKU.Name)
		if name != "standard" && name != "premium" {
			return errInvalidParameter("The SKU name '%s' is not valid; it must be 'standard' or 'premium'.", clip(p.SKU.Name))
		}
		if p.SKU.Family != "" && !strings.EqualFold(p.SKU.Family, "A") {
			return errInvalidParameter("The SKU family '%s' is not valid; it must be 'A'.", clip(p.SKU.Family))
		}
		props.SKU = SKU{Family: "A", Name: name}
	case creating:
		return errBadRequest("The property 'sku' is required to create a vault.")
	}
	if p.EnableSoftDelete != nil && !*p.EnableSoftDelete {
		return errBadRequest("The property \"enableSoftDelete\" cannot be set to false: soft delete is always on for key vaults.")
	}
	if r := p.SoftDeleteRetentionInDays; r != nil {
		if *r < MinRetentionDays || *r > MaxRetentionDays {
			return errInvalidParameter("The softDeleteRetentionInDays %d is not valid; it must be between %d and %d.", *r, MinRetentionDays, MaxRetentionDays)
		}
		if !creating && *r != props.SoftDeleteRetentionInDays {
			return errBadRequest("The property \"softDeleteRetentionInDays\" is set when a vault is created and cannot be changed (it is %d).", props.SoftDeleteRetentionInDays)
		}
		props.SoftDeleteRetentionInDays = *r
	}
	if pp := p.EnablePurgeProtection; pp != nil {
		if !*pp {
			return errBadRequest("The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.")
		}
		props.EnablePurgeProtection = true
	}
	if p.EnableRbacAuthorization != nil {
		props.EnableRbacAuthorization = *p.EnableRbacAuthorization
	}
	if p.EnabledForDeployment != nil {
		props.EnabledForDeployment = *p.EnabledForDeployment
	}
	if p.EnabledForDiskEncryption != nil {
		props.EnabledForDiskEncryption = *p.EnabledForDiskEncryption
	}
	if p.EnabledForTemplateDeployment != nil {
		props.EnabledForTemplateDeployment = *p.EnabledForTemplateDeployment
	}
	if pna := p.PublicNetworkAccess; pna != nil {
		switch strings.ToLower(*pna) {
		case "enabled", "":
			props.PublicNetworkAccess = "Enabled"
		case "disabled":
			return errUnsupported("publicNetworkAccess 'Disabled' (Keystage vaults are reached over its one HTTPS listener and cannot be limited to private endpoints)")
		default:
			return errInvalidParameter("The publicNetworkAccess '%s' is not valid.", clip(*pna))
		}
	}
	if n := p.NetworkACLs; n != nil {
		if (n.DefaultAction != "" && !strings.EqualFold(n.DefaultAction, "Allow")) || n.IPRules > 0 || n.VirtualNetworkRules > 0 {
			return errUnsupported("network ACLs on vaults (networkAcls with defaultAction 'Deny' or IP or virtual network rules); only defaultAction 'Allow' without rules is accepted")
		}
	}
	if p.AccessPoliciesSet {
		policies, err := normalizeAccessPolicies(p.AccessPolicies)
		if err != nil {
			return err
		}
		props.AccessPolicies = policies
	}
	props.VaultURI = s.vaultURI(v.Name)
	props.ProvisioningState = provisioningSucceeded
	return nil
}

// normalizeAccessPolicies validates entries with authz and returns them with lower-case ids
// and canonical permission names.
func normalizeAccessPolicies(entries []authz.AccessPolicyEntry) ([]authz.AccessPolicyEntry, error) {
	if err := authz.ValidateAccessPolicies(entries); err != nil {
		return nil, errInvalidParameter("Invalid access policy: %s.", strings.TrimPrefix(err.Error(), "authz: "))
	}
	out := make([]authz.AccessPolicyEntry, len(entries))
	for i, e := range entries {
		perms, err := e.Permissions.Normalized()
		if err != nil { // unreachable after ValidateAccessPolicies; kept for safety
			return nil, errInvalidParameter("Invalid access policy: %s.", strings.TrimPrefix(err.Error(), "authz: "))
		}
		out[i] = authz.AccessPolicyEntry{
			TenantID:      strings.ToLower(e.TenantID),
			ObjectID:      strings.ToLower(e.ObjectID),
			ApplicationID: strings.ToLower(e.ApplicationID),
			Permissions:   perms,
		}
	}
	return out, nil
}

// putVault stores v with its group-member index entry and records the cache change.
func (s *Service) putVault(ctx context.Context, tx storage.Store, ch *changes, v *Vault) error {
	if err := storage.PutJSON(ctx, tx, vaultKey(v.Name), v); err != nil {
		return err
	}
	if err := tx.Put(ctx, memberKey(v.SubscriptionID, v.ResourceGroup, memberVault, v.Name), nil); err != nil {
		return err
	}
	ch.putVault(v)
	return nil
}

// checkNotSoftDeleted fails when name is held by a soft-deleted vault whose retention has not
// ended. An expired one is left for the sweeper: it no longer blocks the name, but its data
// must be purged before the record goes.
func (s *Service) checkNotSoftDeleted(ctx context.Context, tx storage.Store, name string, now time.Time) error {
	var dv DeletedVault
	err := storage.GetJSON(ctx, tx, deletedVaultKey(name), &dv)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return err
	case dv.expired(now):
		return fault.New(fault.Conflict, "ConflictError",
			"The soft-deleted vault '%s' reached the end of its retention period and is being purged; try again shortly.", dv.Vault.Name)
	}
	return fault.New(fault.Conflict, "ConflictError",
		"A vault with the same name already exists in deleted state. You need to either recover or purge existing key vault '%s' (deleted on %s, scheduled for purge on %s).",
		dv.Vault.Name, dv.DeletionDate.Format(time.RFC3339), dv.ScheduledPurgeDate.Format(time.RFC3339))
}

func errVaultAlreadyExists(name string) *fault.Error {
	return fault.New(fault.Conflict, "VaultAlreadyExists",
		"The vault name '%s' is already in use. Vault names are globally unique, so it is possible that the name is already taken by a vault in another resource group or subscription.", name)
}

// DeleteVault moves the vault to the deleted vaults of its subscription, where it stays for
// its retention period. existed is false when there was no such vault (ARM answers 204).
// Role assignments at the vault's scope or below are deleted with it.
func (s *Service) DeleteVault(ctx context.Context, c Caller, sub, group, name string) (existed bool, err error) {
	if err := s.authorize(c, resourceScope(sub, group, VaultType, name), actionVaultDelete); err != nil {
		return false, err
	}
	err = s.update(ctx, func(tx storage.Store, ch *changes) error {
		v, err := s.vaultIn(ctx, tx, sub, group, name)
		if err != nil {
			if fe, ok := fault.As(err); ok && fe.Code == "ResourceNotFound" {
				existed = false
				return nil
			}
			return err
		}
		existed = true
		return s.softDeleteVault(ctx, tx, ch, &v)
	})
	return existed, err
}

// softDeleteVault moves v to the deleted vaults inside tx.
func (s *Service) softDeleteVault(ctx context.Context, tx storage.Store, ch *changes, v *Vault) error {
	now := s.now().UTC()
	dv := DeletedVault{
		Vault:              *v,
		DeletionDate:       now,
		ScheduledPurgeDate: now.Add(time.Duration(v.Properties.SoftDeleteRetentionInDays) * 24 * time.Hour),
	}
	if err := storage.PutJSON(ctx, tx, deletedVaultKey(v.Name), dv); err != nil {
		return err
	}
	if err := tx.Delete(ctx, vaultKey(v.Name)); err != nil {
		return err
	}
	if err := tx.Delete(ctx, memberKey(v.SubscriptionID, v.ResourceGroup, memberVault, v.Name)); err != nil {
		return err
	}
	ch.deleteVault(v.Name)
	scope, err := authz.ParseScope(v.ID())
	if err != nil {
		return err
	}
	return s.deleteAssignmentsBelow(ctx, tx, ch, scope)
}
