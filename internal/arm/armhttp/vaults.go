package armhttp

import (
	"net/http"
	"time"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/authz"
)

type vaultJSON struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	Type       string              `json:"type"`
	Location   string              `json:"location"`
	Tags       map[string]string   `json:"tags"`
	SystemData *systemDataJSON     `json:"systemData,omitempty"`
	Properties vaultPropertiesJSON `json:"properties"`
}

type vaultPropertiesJSON struct {
	SKU                          skuJSON                   `json:"sku"`
	TenantID                     string                    `json:"tenantId"`
	AccessPolicies               []authz.AccessPolicyEntry `json:"accessPolicies"`
	EnabledForDeployment         bool                      `json:"enabledForDeployment"`
	EnabledForDiskEncryption     bool                      `json:"enabledForDiskEncryption"`
	EnabledForTemplateDeployment bool                      `json:"enabledForTemplateDeployment"`
	EnableSoftDelete             bool                      `json:"enableSoftDelete"`
	SoftDeleteRetentionInDays    int                       `json:"softDeleteRetentionInDays"`
	EnableRbacAuthorization      bool                      `json:"enableRbacAuthorization"`
	EnablePurgeProtection        *bool                     `json:"enablePurgeProtection"` // null when off, as Azure answers
	VaultURI                     string                    `json:"vaultUri"`
	ProvisioningState            string                    `json:"provisioningState"`
	PublicNetworkAccess          string                    `json:"publicNetworkAccess"`
}

type skuJSON struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

func renderVault(v arm.Vault) any {
	p := v.Properties
	out := vaultJSON{
		ID: v.ID(), Name: v.Name, Type: arm.VaultType, Location: v.Location, Tags: tagsOrEmpty(v.Tags),
		SystemData: renderSystemData(v.SystemData),
		Properties: vaultPropertiesJSON{
			SKU: skuJSON{Family: p.SKU.Family, Name: p.SKU.Name}, TenantID: p.TenantID, AccessPolicies: p.AccessPolicies,
			EnabledForDeployment: p.EnabledForDeployment, EnabledForDiskEncryption: p.EnabledForDiskEncryption,
			EnabledForTemplateDeployment: p.EnabledForTemplateDeployment, EnableSoftDelete: true,
			SoftDeleteRetentionInDays: p.SoftDeleteRetentionInDays, EnableRbacAuthorization: p.EnableRbacAuthorization,
			VaultURI: p.VaultURI, ProvisioningState: p.ProvisioningState, PublicNetworkAccess: p.PublicNetworkAccess,
		},
	}
	if out.Properties.AccessPolicies == nil {
		out.Properties.AccessPolicies = []authz.AccessPolicyEntry{}
	}
	if p.EnablePurgeProtection {
		t := true
		out.Properties.EnablePurgeProtection = &t
	}
	return out
}

// vaultBody is the request body of a vault PUT or PATCH.
type vaultBody struct {
	Location   string             `json:"location"`
	Tags       *map[string]string `json:"tags"`
	Properties *struct {
		TenantID                     string                     `json:"tenantId"`
		SKU                          *skuJSON                   `json:"sku"`
		AccessPolicies               *[]authz.AccessPolicyEntry `json:"accessPolicies"`
		CreateMode                   string                     `json:"createMode"`
		EnableSoftDelete             *bool                      `json:"enableSoftDelete"`
		SoftDeleteRetentionInDays    *int                       `json:"softDeleteRetentionInDays"`
		EnablePurgeProtection        *bool                      `json:"enablePurgeProtection"`
		EnableRbacAuthorization      *bool                      `json:"enableRbacAuthorization"`
		EnabledForDeployment         *bool                      `json:"enabledForDeployment"`
		EnabledForDiskEncryption     *bool                      `json:"enabledForDiskEncryption"`
		EnabledForTemplateDeployment *bool                      `json:"enabledForTemplateDeployment"`
		PublicNetworkAccess          *string                    `json:"publicNetworkAccess"`
		NetworkACLs                  *struct {
			DefaultAction       string `json:"defaultAction"`
			Bypass              string `json:"bypass"`
			IPRules             []any  `json:"ipRules"`
			VirtualNetworkRules []any  `json:"virtualNetworkRules"`
		} `json:"networkAcls"`
	} `json:"properties"`
}

func (b *vaultBody) params() arm.VaultParams {
	p := arm.VaultParams{Location: b.Location}
	if b.Tags != nil {
		p.Tags, p.TagsSet = *b.Tags, true
	}
	pr := b.Properties
	if pr == nil {
		return p
	}
	p.TenantID, p.CreateMode = pr.TenantID, pr.CreateMode
	if pr.SKU != nil {
		p.SKU = &arm.SKU{Family: pr.SKU.Family, Name: pr.SKU.Name}
	}
	if pr.AccessPolicies != nil {
		p.AccessPolicies, p.AccessPoliciesSet = *pr.AccessPolicies, true
	}
	p.EnableSoftDelete, p.SoftDeleteRetentionInDays, p.EnablePurgeProtection = pr.EnableSoftDelete, pr.SoftDeleteRetentionInDays, pr.EnablePurgeProtection
	p.EnableRbacAuthorization, p.PublicNetworkAccess = pr.EnableRbacAuthorization, pr.PublicNetworkAccess
	p.EnabledForDeployment, p.EnabledForDiskEncryption, p.EnabledForTemplateDeployment = pr.EnabledForDeployment, pr.EnabledForDiskEncryption, pr.EnabledForTemplateDeployment
	if n := pr.NetworkACLs; n != nil {
		p.NetworkACLs = &arm.NetworkACLs{DefaultAction: n.DefaultAction, Bypass: n.Bypass, IPRules: len(n.IPRules), VirtualNetworkRules: len(n.VirtualNetworkRules)}
	}
	return p
}

// putVault creates, updates or recovers a vault. Vault creation is a long-running
// operation in ARM; Keystage completes it before answering, so the answer (201 or 200) has
// provisioningState Succeeded and the SDK pollers finish without polling.
func putVault(q *request) error {
	var b vaultBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	v, created, err := q.h.svc.PutVault(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], b.params())
	if err != nil {
		return err
	}
	writeJSON(q.w, createdStatus(created), renderVault(v))
	return nil
}

func patchVault(q *request) error {
	var b vaultBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	v, err := q.h.svc.PatchVault(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], b.params())
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderVault(v))
	return nil
}

func getVault(q *request) error {
	v, err := q.h.svc.GetVault(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderVault(v))
	return nil
}

func listVaults(q *request) error {
	group := ""
	if len(q.args) > 1 {
		group = q.args[1]
	}
	vaults, err := q.h.svc.ListVaults(q.r.Context(), q.caller, q.args[0], group)
	if err != nil {
		return err
	}
	return writeList(q, vaults, func(v arm.Vault) string { return lowerKey(v.Name) }, renderVault)
}

func deleteVault(q *request) error {
	existed, err := q.h.svc.DeleteVault(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2])
	if err != nil {
		return err
	}
	if !existed {
		q.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

type accessPolicyBody struct {
	Properties *struct {
		AccessPolicies []authz.AccessPolicyEntry `json:"accessPolicies"`
	} `json:"properties"`
}

type accessPolicyJSON struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Properties struct {
		AccessPolicies []authz.AccessPolicyEntry `json:"accessPolicies"`
	} `json:"properties"`
}

func updateAccessPolicies(q *request) error {
	var b accessPolicyBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	var entries []authz.AccessPolicyEntry
	if b.Properties != nil {
		entries = b.Properties.AccessPolicies
	}
	out, err := q.h.svc.UpdateAccessPolicies(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2], q.args[3], entries)
	if err != nil {
		return err
	}
	res := accessPolicyJSON{ID: "/subscriptions/" + q.args[0] + "/resourceGroups/" + q.args[1] + "/providers/" + arm.VaultType + "/" + q.args[2] + "/accessPolicies/" + q.args[3], Type: arm.VaultType + "/accessPolicies"}
	res.Properties.AccessPolicies = out
	writeJSON(q.w, 200, res)
	return nil
}

type deletedVaultJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		VaultID                string            `json:"vaultId"`
		Location               string            `json:"location"`
		DeletionDate           string            `json:"deletionDate"`
		ScheduledPurgeDate     string            `json:"scheduledPurgeDate"`
		Tags                   map[string]string `json:"tags"`
		PurgeProtectionEnabled bool              `json:"purgeProtectionEnabled"`
	} `json:"properties"`
}

func renderDeletedVault(d arm.DeletedVault) any {
	out := deletedVaultJSON{ID: d.ID(), Name: d.Vault.Name, Type: "Microsoft.KeyVault/deletedVaults"}
	out.Properties.VaultID = d.Vault.ID()
	out.Properties.Location = d.Vault.Location
	out.Properties.DeletionDate = d.DeletionDate.UTC().Format(time.RFC3339)
	out.Properties.ScheduledPurgeDate = d.ScheduledPurgeDate.UTC().Format(time.RFC3339)
	out.Properties.Tags = tagsOrEmpty(d.Vault.Tags)
	out.Properties.PurgeProtectionEnabled = d.Vault.Properties.EnablePurgeProtection
	return out
}

func listDeletedVaults(q *request) error {
	dvs, err := q.h.svc.ListDeletedVaults(q.r.Context(), q.caller, q.args[0])
	if err != nil {
		return err
	}
	return writeList(q, dvs, func(d arm.DeletedVault) string { return lowerKey(d.Vault.Name) }, renderDeletedVault)
}

func getDeletedVault(q *request) error {
	d, err := q.h.svc.GetDeletedVault(q.r.Context(), q.caller, q.args[0], q.args[1], q.args[2])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderDeletedVault(d))
	return nil
}

// purgeDeletedVault purges and answers 202 with a Location to poll, as Key Vault does.
func purgeDeletedVault(q *request) error {
	sub, loc, name := q.args[0], q.args[1], q.args[2]
	op, err := q.h.svc.PurgeDeletedVault(q.r.Context(), q.caller, sub, loc, name)
	if err != nil {
		return err
	}
	q.accepted(q.baseURL() + "/subscriptions/" + op.SubscriptionID + "/providers/Microsoft.KeyVault/locations/" + lowerKey(loc) + "/operationResults/" + op.ID + "?api-version=" + q.version)
	return nil
}

func getVaultOperation(q *request) error {
	return q.writeOperation(q.args[0], q.args[2])
}

type checkNameBody struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type checkNameJSON struct {
	NameAvailable bool   `json:"nameAvailable"`
	Reason        string `json:"reason,omitempty"`
	Message       string `json:"message,omitempty"`
}

func checkVaultName(q *request) error {
	var b checkNameBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.Type != "" && !equalFold(b.Type, arm.VaultType) {
		return errInvalidParameter("The type '%s' is not valid; it must be 'Microsoft.KeyVault/vaults'.", clip(b.Type))
	}
	a, err := q.h.svc.CheckVaultNameAvailability(q.r.Context(), q.caller, q.args[0], b.Name)
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, checkNameJSON{NameAvailable: a.NameAvailable, Reason: a.Reason, Message: a.Message})
	return nil
}
