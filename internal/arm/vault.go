package arm

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// VaultType is the ARM resource type of a Key Vault.
const VaultType = "Microsoft.KeyVault/vaults"

// Soft-delete retention bounds and default, in days.
const (
	MinRetentionDays     = 7
	MaxRetentionDays     = 90
	DefaultRetentionDays = 90
)

// Vault is a Key Vault resource. Vault names are unique across the Keystage instance (as
// they are across Azure) because each one is a DNS label under the vault suffix.
type Vault struct {
	// Key is an immutable id given at creation and kept through soft delete and recovery;
	// the data plane stores a vault's secrets under it, so a purged name that is reused
	// never sees the old vault's data.
	Key            string            `json:"key"`
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	Properties     VaultProperties   `json:"properties"`
	SystemData     SystemData        `json:"systemData"`
}

// VaultProperties are a vault's properties as ARM names them.
type VaultProperties struct {
	TenantID                     string                    `json:"tenantId"`
	SKU                          SKU                       `json:"sku"`
	AccessPolicies               []authz.AccessPolicyEntry `json:"accessPolicies"`
	EnabledForDeployment         bool                      `json:"enabledForDeployment"`
	EnabledForDiskEncryption     bool                      `json:"enabledForDiskEncryption"`
	EnabledForTemplateDeployment bool                      `json:"enabledForTemplateDeployment"`
	SoftDeleteRetentionInDays    int                       `json:"softDeleteRetentionInDays"`
	EnableRbacAuthorization      bool                      `json:"enableRbacAuthorization"`
	EnablePurgeProtection        bool                      `json:"enablePurgeProtection"`
	PublicNetworkAccess          string                    `json:"publicNetworkAccess"`
	VaultURI                     string                    `json:"vaultUri"`
	ProvisioningState            string                    `json:"provisioningState"`
}

// SKU is a vault's pricing tier. Keystage treats both tiers alike (it has no HSM-backed keys).
type SKU struct {
	Family string `json:"family"` // "A"
	Name   string `json:"name"`   // "standard" or "premium"
}

// ID returns the vault's resource id.
func (v *Vault) ID() string {
	return "/subscriptions/" + v.SubscriptionID + "/resourceGroups/" + v.ResourceGroup + "/providers/" + VaultType + "/" + v.Name
}

// CheckVaultName validates a vault name as Key Vault does: 3–24 characters, ASCII letters,
// digits and hyphens, starting with a letter, ending with a letter or digit, and without two
// hyphens in a row.
func CheckVaultName(name string) error {
	if reason := vaultNameProblem(name); reason != "" {
		return fault.New(fault.BadRequest, "VaultNameNotValid",
			"The vault name '%s' is invalid: %s. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
			clip(name), reason)
	}
	return nil
}

func vaultNameProblem(name string) string {
	if len(name) < 3 || len(name) > 24 {
		return "it has " + strconv.Itoa(len(name)) + " characters"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9':
			if i == 0 {
				return "it starts with a digit"
			}
		case c == '-':
			if i == 0 {
				return "it starts with a hyphen"
			}
			if i == len(name)-1 {
				return "it ends with a hyphen"
			}
			if name[i-1] == '-' {
				return "it contains consecutive hyphens"
			}
		default:
			return "it contains a character other than letters, digits and hyphens"
		}
	}
	return ""
}

const (
	actionVaultRead          = "Microsoft.KeyVault/vaults/read"
	actionVaultWrite         = "Microsoft.KeyVault/vaults/write"
	actionVaultDelete        = "Microsoft.KeyVault/vaults/delete"
	actionAccessPolicyWrite  = "Microsoft.KeyVault/vaults/accessPolicies/write"
	actionCheckName          = "Microsoft.KeyVault/checkNameAvailability/read"
	actionDeletedVaultList   = "Microsoft.KeyVault/deletedVaults/read"
	actionDeletedVaultRead   = "Microsoft.KeyVault/locations/deletedVaults/read"
	actionDeletedVaultPurge  = "Microsoft.KeyVault/locations/deletedVaults/purge/action"
	resourceTypeVaultDisplay = "Microsoft.KeyVault/vaults"
)

// GetVault returns the vault name in group of subscription sub.
func (s *Service) GetVault(ctx context.Context, c Caller, sub, group, name string) (Vault, error) {
	if err := s.authorize(c, resourceScope(sub, group, VaultType, name), actionVaultRead); err != nil {
		return Vault{}, err
	}
	return s.vaultIn(ctx, s.store, sub, group, name)
}

// vaultIn loads the vault name and checks that it lives in sub/group; a vault of that name
// elsewhere is reported as not found, as ARM would (names are global only to Key Vault).
func (s *Service) vaultIn(ctx context.Context, st storage.Store, sub, group, name string) (Vault, error) {
	if _, err := s.group(ctx, st, sub, group); err != nil {
		return Vault{}, err
	}
	var v Vault
	err := storage.GetJSON(ctx, st, vaultKey(name), &v)
	if errors.Is(err, storage.ErrNotFound) || err == nil && (!strings.EqualFold(v.SubscriptionID, sub) || !strings.EqualFold(v.ResourceGroup, group)) {
		return Vault{}, errResourceNotFound(resourceTypeVaultDisplay, name, group)
	}
	if err != nil {
		return Vault{}, storageError("get vault", err)
	}
	return v, nil
}

// ListVaults returns the vaults the caller may read in subscription sub, or only in group
// when group is not empty, sorted by name.
func (s *Service) ListVaults(ctx context.Context, c Caller, sub, group string) ([]Vault, error) {
	if group != "" {
		if _, err := s.group(ctx, s.store, sub, group); err != nil {
			if fault.Is(err, fault.NotFound) && !s.canSeeSubscription(c, sub) {
				return nil, s.denied(c, groupScope(sub, group), actionVaultRead)
			}
			return nil, err
		}
	} else if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return nil, err
	}
	var out []Vault
	for _, v := range s.cache.allVaults() {
		if !strings.EqualFold(v.vault.SubscriptionID, sub) || group != "" && !strings.EqualFold(v.vault.ResourceGroup, group) {
			continue
		}
		if s.allowedAt(c, v.info.Scope, actionVaultRead) {
			out = append(out, v.vault)
		}
	}
	slices.SortFunc(out, func(a, b Vault) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// NameAvailability is the answer of CheckVaultNameAvailability.
type NameAvailability struct {
	NameAvailable bool
	Reason        string // "AccountNameInvalid" or "AlreadyExists" when not available
	Message       string
}

// CheckVaultNameAvailability tells whether name could be used for a new vault: it must be
// valid and neither in use nor held by a soft-deleted vault.
func (s *Service) CheckVaultNameAvailability(ctx context.Context, c Caller, sub, name string) (NameAvailability, error) {
	if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return NameAvailability{}, err
	}
	if err := s.authorize(c, subscriptionScope(sub), actionCheckName); err != nil {
		return NameAvailability{}, err
	}
	if err := CheckVaultName(name); err != nil {
		fe, _ := fault.As(err)
		return NameAvailability{Reason: "AccountNameInvalid", Message: fe.Message}, nil
	}
	if _, ok := s.cache.vault(name); ok {
		return NameAvailability{Reason: "AlreadyExists", Message: "The vault name '" + name + "' is already in use."}, nil
	}
	var dv DeletedVault
	err := storage.GetJSON(ctx, s.store, deletedVaultKey(name), &dv)
	if err == nil && !dv.expired(s.now()) {
		return NameAvailability{Reason: "AlreadyExists", Message: "The vault name '" + name + "' is held by a soft-deleted vault; recover or purge it to reuse the name."}, nil
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return NameAvailability{}, storageError("check vault name", err)
	}
	return NameAvailability{NameAvailable: true}, nil
}

// DeletedVault is a soft-deleted vault, kept with its whole configuration until it is
// recovered, purged, or its retention ends.
type DeletedVault struct {
	Vault              Vault     `json:"vault"`
	DeletionDate       time.Time `json:"deletionDate"`
	ScheduledPurgeDate time.Time `json:"scheduledPurgeDate"`
}

// ID returns the deleted vault's resource id.
func (d *DeletedVault) ID() string {
	return "/subscriptions/" + d.Vault.SubscriptionID + "/providers/Microsoft.KeyVault/locations/" + d.Vault.Location + "/deletedVaults/" + d.Vault.Name
}

func (d *DeletedVault) expired(now time.Time) bool { return !now.Before(d.ScheduledPurgeDate) }
