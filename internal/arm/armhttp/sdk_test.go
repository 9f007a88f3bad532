package armhttp_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/authz"
)

func TestSDKSubscriptionsAndLocations(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		ctx := context.Background()
		c, err := armsubscriptions.NewClient(e.Admin, e.options())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for p := c.NewListPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.Value {
				ids = append(ids, *s.SubscriptionID)
				if *s.TenantID != e.TenantID || *s.State != armsubscriptions.SubscriptionStateEnabled {
					t.Errorf("subscription %+v: want tenant %s, Enabled", *s, e.TenantID)
				}
			}
		}
		if !slices.Equal(ids, []string{e.Subscription}) {
			t.Fatalf("subscriptions = %v, want [%s]", ids, e.Subscription)
		}
		got, err := c.Get(ctx, e.Subscription, nil)
		if err != nil || *got.ID != "/subscriptions/"+e.Subscription || *got.DisplayName != "Keystage" {
			t.Fatalf("get = %+v, %v", got, err)
		}
		var locs []string
		for p := c.NewListLocationsPager(e.Subscription, nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range page.Value {
				locs = append(locs, *l.Name)
			}
		}
		if !slices.Contains(locs, "westeurope") || !slices.Contains(locs, "eastus") {
			t.Errorf("locations = %v, want real Azure regions", locs)
		}
		tc, err := armsubscriptions.NewTenantsClient(e.Admin, e.options())
		if err != nil {
			t.Fatal(err)
		}
		tp := tc.NewListPager(nil)
		page, err := tp.NextPage(ctx)
		if err != nil || len(page.Value) != 1 || *page.Value[0].TenantID != e.TenantID {
			t.Fatalf("tenants = %+v, %v", page.Value, err)
		}

		stranger, _ := e.NewPrincipal(t)
		sc, _ := armsubscriptions.NewClient(stranger, e.options())
		_, err = sc.Get(ctx, e.Subscription, nil)
		wantError(t, err, http.StatusNotFound, "SubscriptionNotFound")
	})
}

func TestSDKResourceGroups(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		ctx := context.Background()
		c, err := armresources.NewResourceGroupsClient(e.Subscription, e.Admin, e.options())
		if err != nil {
			t.Fatal(err)
		}
		names := []string{"rg-a", "rg-b", "rg-c", "rg-d", "rg-e"}
		for _, n := range names {
			g, err := c.CreateOrUpdate(ctx, n, armresources.ResourceGroup{Location: ptr("westeurope"), Tags: map[string]*string{"n": ptr(n)}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if *g.Name != n || *g.Location != "westeurope" || *g.Properties.ProvisioningState != "Succeeded" || *g.Tags["n"] != n {
				t.Fatalf("created %+v", g)
			}
		}
		var listed []string
		pages := 0
		for p := c.NewListPager(nil); p.More(); pages++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range page.Value {
				listed = append(listed, *g.Name)
			}
		}
		if !slices.Equal(listed, names) || e.SmallPages && pages < 3 {
			t.Fatalf("listed %v in %d pages, want %v over several pages", listed, pages, names)
		}
		ex, err := c.CheckExistence(ctx, "rg-a", nil)
		if err != nil || !ex.Success {
			t.Fatalf("CheckExistence(rg-a) = %+v, %v", ex, err)
		}
		ex, err = c.CheckExistence(ctx, "nope", nil)
		if err != nil || ex.Success {
			t.Fatalf("CheckExistence(nope) = %+v, %v", ex, err)
		}
		up, err := c.Update(ctx, "rg-a", armresources.ResourceGroupPatchable{Tags: map[string]*string{"k": ptr("v")}}, nil)
		if err != nil || len(up.Tags) != 1 || *up.Tags["k"] != "v" {
			t.Fatalf("update = %+v, %v", up, err)
		}
		poller, err := c.BeginDelete(ctx, "rg-a", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := poller.PollUntilDone(ctx, nil); err != nil {
			t.Fatalf("delete poller: %v", err)
		}
		_, err = c.Get(ctx, "rg-a", nil)
		wantError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
		_, err = c.BeginDelete(ctx, "rg-a", nil)
		wantError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
	})
}

func newVaultsClient(t *testing.T, e *sdkEnv, cred any) *armkeyvault.VaultsClient {
	t.Helper()
	c, err := armkeyvault.NewVaultsClient(e.Subscription, credOf(e, cred), e.options())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createGroup(t *testing.T, e *sdkEnv, name string) {
	t.Helper()
	c, _ := armresources.NewResourceGroupsClient(e.Subscription, e.Admin, e.options())
	if _, err := c.CreateOrUpdate(context.Background(), name, armresources.ResourceGroup{Location: ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	}
}

func vaultParams(e *sdkEnv) armkeyvault.VaultCreateOrUpdateParameters {
	return armkeyvault.VaultCreateOrUpdateParameters{
		Location: ptr("westeurope"),
		Properties: &armkeyvault.VaultProperties{
			TenantID: ptr(e.TenantID),
			SKU:      &armkeyvault.SKU{Family: ptr(armkeyvault.SKUFamilyA), Name: ptr(armkeyvault.SKUNameStandard)},
		},
	}
}

func createVault(t *testing.T, c *armkeyvault.VaultsClient, group, name string, p armkeyvault.VaultCreateOrUpdateParameters) armkeyvault.Vault {
	t.Helper()
	ctx := context.Background()
	poller, err := c.BeginCreateOrUpdate(ctx, group, name, p, nil)
	if err != nil {
		t.Fatalf("create vault %s: %v", name, err)
	}
	res, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create vault %s: poll: %v", name, err)
	}
	return res.Vault
}

func TestSDKVaults(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		ctx := context.Background()
		createGroup(t, e, "kv-rg")
		c := newVaultsClient(t, e, nil)
		p := vaultParams(e)
		p.Tags = map[string]*string{"team": ptr("ops")}
		p.Properties.SoftDeleteRetentionInDays = ptr[int32](30)
		p.Properties.AccessPolicies = []*armkeyvault.AccessPolicyEntry{{
			TenantID: ptr(e.TenantID), ObjectID: ptr(e.AdminID),
			Permissions: &armkeyvault.Permissions{Secrets: []*armkeyvault.SecretPermissions{ptr(armkeyvault.SecretPermissionsGet), ptr(armkeyvault.SecretPermissionsList)}},
		}}
		v := createVault(t, c, "kv-rg", "kv-sdk-one", p)
		pr := v.Properties
		if *v.Name != "kv-sdk-one" || *v.Type != "Microsoft.KeyVault/vaults" || *pr.SoftDeleteRetentionInDays != 30 || !*pr.EnableSoftDelete ||
			*pr.ProvisioningState != armkeyvault.VaultProvisioningStateSucceeded || !strings.HasPrefix(*pr.VaultURI, "https://kv-sdk-one.") ||
			len(pr.AccessPolicies) != 1 || *pr.TenantID != e.TenantID || *v.Tags["team"] != "ops" || v.SystemData == nil {
			t.Fatalf("created vault = %+v / %+v", v, *pr)
		}
		if info, ok := e.Service.LookupVault("kv-sdk-one"); !ok || info.VaultURI != *pr.VaultURI || len(info.AccessPolicies) != 1 {
			t.Fatalf("data plane view = %+v, %v", info, ok)
		}

		got, err := c.Get(ctx, "kv-rg", "KV-SDK-ONE", nil)
		if err != nil || *got.ID != *v.ID {
			t.Fatalf("get = %+v, %v", got, err)
		}
		up, err := c.Update(ctx, "kv-rg", "kv-sdk-one", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{EnableRbacAuthorization: ptr(true), EnablePurgeProtection: ptr(true)},
		}, nil)
		if err != nil || !*up.Properties.EnableRbacAuthorization || !*up.Properties.EnablePurgeProtection || len(up.Properties.AccessPolicies) != 1 {
			t.Fatalf("patch = %+v, %v", up.Properties, err)
		}
		_, err = c.Update(ctx, "kv-rg", "kv-sdk-one", armkeyvault.VaultPatchParameters{Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: ptr(false)}}, nil)
		wantError(t, err, http.StatusBadRequest, "BadRequest")

		for _, n := range []string{"kv-sdk-two", "kv-sdk-three"} {
			createVault(t, c, "kv-rg", n, vaultParams(e))
		}
		collect := func(next func() ([]string, bool, error)) []string {
			var out []string
			for {
				names, more, err := next()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, names...)
				if !more {
					return out
				}
			}
		}
		byGroup := c.NewListByResourceGroupPager("kv-rg", nil)
		got1 := collect(func() ([]string, bool, error) {
			page, err := byGroup.NextPage(ctx)
			var n []string
			for _, v := range page.Value {
				n = append(n, *v.Name)
			}
			return n, byGroup.More(), err
		})
		bySub := c.NewListBySubscriptionPager(nil)
		got2 := collect(func() ([]string, bool, error) {
			page, err := bySub.NextPage(ctx)
			var n []string
			for _, v := range page.Value {
				n = append(n, *v.Name)
			}
			return n, bySub.More(), err
		})
		generic := c.NewListPager(nil)
		got3 := collect(func() ([]string, bool, error) {
			page, err := generic.NextPage(ctx)
			var n []string
			for _, r := range page.Value {
				n = append(n, *r.Name)
			}
			return n, generic.More(), err
		})
		want := []string{"kv-sdk-one", "kv-sdk-three", "kv-sdk-two"}
		for i, got := range [][]string{got1, got2, got3} {
			if !slices.Equal(got, want) {
				t.Errorf("list %d = %v, want %v", i, got, want)
			}
		}

		obj := uuid.NewString()
		apRes, err := c.UpdateAccessPolicy(ctx, "kv-rg", "kv-sdk-two", armkeyvault.AccessPolicyUpdateKindAdd, armkeyvault.VaultAccessPolicyParameters{
			Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{{
				TenantID: ptr(e.TenantID), ObjectID: ptr(obj),
				Permissions: &armkeyvault.Permissions{Secrets: []*armkeyvault.SecretPermissions{ptr(armkeyvault.SecretPermissionsGet)}},
			}}},
		}, nil)
		if err != nil || len(apRes.Properties.AccessPolicies) != 1 {
			t.Fatalf("add access policy = %+v, %v", apRes, err)
		}
		two, _ := c.Get(ctx, "kv-rg", "kv-sdk-two", nil)
		if len(two.Properties.AccessPolicies) != 1 || *two.Properties.AccessPolicies[0].ObjectID != obj {
			t.Fatalf("policies after add = %+v", two.Properties.AccessPolicies)
		}
		if _, err := c.UpdateAccessPolicy(ctx, "kv-rg", "kv-sdk-two", armkeyvault.AccessPolicyUpdateKindRemove, armkeyvault.VaultAccessPolicyParameters{
			Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{{TenantID: ptr(e.TenantID), ObjectID: ptr(obj), Permissions: &armkeyvault.Permissions{}}}},
		}, nil); err != nil {
			t.Fatal(err)
		}
		two, _ = c.Get(ctx, "kv-rg", "kv-sdk-two", nil)
		if len(two.Properties.AccessPolicies) != 0 {
			t.Fatalf("policies after remove = %+v", two.Properties.AccessPolicies)
		}

		avail, err := c.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: ptr("kv-sdk-one"), Type: ptr("Microsoft.KeyVault/vaults")}, nil)
		if err != nil || *avail.NameAvailable || *avail.Reason != armkeyvault.ReasonAlreadyExists {
			t.Fatalf("check taken name = %+v, %v", avail, err)
		}
		avail, err = c.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: ptr("a--b"), Type: ptr("Microsoft.KeyVault/vaults")}, nil)
		if err != nil || *avail.NameAvailable || *avail.Reason != armkeyvault.ReasonAccountNameInvalid {
			t.Fatalf("check invalid name = %+v, %v", avail, err)
		}
		avail, err = c.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{Name: ptr("kv-free-name"), Type: ptr("Microsoft.KeyVault/vaults")}, nil)
		if err != nil || !*avail.NameAvailable {
			t.Fatalf("check free name = %+v, %v", avail, err)
		}
	})
}

func TestSDKDeletedVaults(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		ctx := context.Background()
		createGroup(t, e, "del-rg")
		createGroup(t, e, "other-rg")
		c := newVaultsClient(t, e, nil)
		v := createVault(t, c, "del-rg", "kv-deleted", vaultParams(e))
		if _, err := c.Delete(ctx, "del-rg", "kv-deleted", nil); err != nil {
			t.Fatal(err)
		}
		_, err := c.Get(ctx, "del-rg", "kv-deleted", nil)
		wantError(t, err, http.StatusNotFound, "ResourceNotFound")

		var deleted []*armkeyvault.DeletedVault
		for p := c.NewListDeletedPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			deleted = append(deleted, page.Value...)
		}
		if len(deleted) != 1 || *deleted[0].Name != "kv-deleted" || *deleted[0].Properties.VaultID != *v.ID || deleted[0].Properties.ScheduledPurgeDate == nil {
			t.Fatalf("deleted vaults = %+v", deleted)
		}
		dv, err := c.GetDeleted(ctx, "kv-deleted", "westeurope", nil)
		if err != nil || *dv.Properties.Location != "westeurope" || *dv.Properties.PurgeProtectionEnabled {
			t.Fatalf("get deleted = %+v, %v", dv, err)
		}

		// The name stays taken while the vault is soft-deleted, in any group.
		_, err = c.BeginCreateOrUpdate(ctx, "other-rg", "kv-deleted", vaultParams(e), nil)
		wantError(t, err, http.StatusConflict, "ConflictError")

		rec := vaultParams(e)
		rec.Properties.CreateMode = ptr(armkeyvault.CreateModeRecover)
		back := createVault(t, c, "del-rg", "kv-deleted", rec)
		if *back.ID != *v.ID {
			t.Fatalf("recovered %s, want %s", *back.ID, *v.ID)
		}
		if _, err := c.Delete(ctx, "del-rg", "kv-deleted", nil); err != nil {
			t.Fatal(err)
		}
		poller, err := c.BeginPurgeDeleted(ctx, "kv-deleted", "westeurope", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := poller.PollUntilDone(ctx, nil); err != nil {
			t.Fatalf("purge poller: %v", err)
		}
		_, err = c.GetDeleted(ctx, "kv-deleted", "westeurope", nil)
		wantError(t, err, http.StatusNotFound, "ResourceNotFound")
		createVault(t, c, "other-rg", "kv-deleted", vaultParams(e)) // the name is free again

		// Purge protection keeps a deleted vault until its retention ends.
		pp := vaultParams(e)
		pp.Properties.EnablePurgeProtection = ptr(true)
		createVault(t, c, "del-rg", "kv-protected", pp)
		if _, err := c.Delete(ctx, "del-rg", "kv-protected", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.BeginPurgeDeleted(ctx, "kv-protected", "westeurope", nil)
		wantError(t, err, http.StatusConflict, "InvalidOperation")

		// Deleting a group soft-deletes its vaults.
		createVault(t, c, "other-rg", "kv-in-group", vaultParams(e))
		gc, _ := armresources.NewResourceGroupsClient(e.Subscription, e.Admin, e.options())
		gp, err := gc.BeginDelete(ctx, "other-rg", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gp.PollUntilDone(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetDeleted(ctx, "kv-in-group", "westeurope", nil); err != nil {
			t.Fatalf("a vault of a deleted group is not in the deleted vaults: %v", err)
		}
	})
}

func TestSDKErrors(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		ctx := context.Background()
		c := newVaultsClient(t, e, nil)
		_, err := c.BeginCreateOrUpdate(ctx, "no-such-group", "kv-orphan", vaultParams(e), nil)
		wantError(t, err, http.StatusNotFound, "ResourceGroupNotFound")

		createGroup(t, e, "err-rg-1")
		createGroup(t, e, "err-rg-2")
		createVault(t, c, "err-rg-1", "kv-dup", vaultParams(e))
		_, err = c.BeginCreateOrUpdate(ctx, "err-rg-2", "kv-dup", vaultParams(e), nil)
		wantError(t, err, http.StatusConflict, "VaultAlreadyExists")

		_, err = c.BeginCreateOrUpdate(ctx, "err-rg-1", "bad--name", vaultParams(e), nil)
		wantError(t, err, http.StatusBadRequest, "VaultNameNotValid")

		p := vaultParams(e)
		p.Properties.SoftDeleteRetentionInDays = ptr[int32](3)
		_, err = c.BeginCreateOrUpdate(ctx, "err-rg-1", "kv-short", p, nil)
		wantError(t, err, http.StatusBadRequest, "InvalidParameter")

		stranger, _ := e.NewPrincipal(t)
		_, err = newVaultsClient(t, e, stranger).Get(ctx, "err-rg-1", "kv-dup", nil)
		wantError(t, err, http.StatusForbidden, "AuthorizationFailed")
	})
}

// credOf returns cred as a TokenCredential, or the administrator's when nil.
func credOf(e *sdkEnv, cred any) azcore.TokenCredential {
	if cred == nil {
		return e.Admin
	}
	return cred.(azcore.TokenCredential)
}

func newAssignmentsClient(t *testing.T, e *sdkEnv, cred any) *armauthorization.RoleAssignmentsClient {
	t.Helper()
	c, err := armauthorization.NewRoleAssignmentsClient(e.Subscription, credOf(e, cred), e.options())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assign gives principal role (a GUID) at scope with the administrator's rights, or fails.
func assign(t *testing.T, e *sdkEnv, principal, role, scope string) string {
	t.Helper()
	name := uuid.NewString()
	_, err := newAssignmentsClient(t, e, nil).Create(context.Background(), scope, name, armauthorization.RoleAssignmentCreateParameters{
		Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID:      ptr(principal),
			RoleDefinitionID: ptr("/subscriptions/" + e.Subscription + "/providers/Microsoft.Authorization/roleDefinitions/" + role),
		},
	}, nil)
	if err != nil {
		t.Fatalf("assign %s at %s: %v", role, scope, err)
	}
	return name
}

func TestSDKRoleDefinitionsAndAssignments(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		ctx := context.Background()
		subScope := "/subscriptions/" + e.Subscription
		dc, err := armauthorization.NewRoleDefinitionsClient(e.Admin, e.options())
		if err != nil {
			t.Fatal(err)
		}
		p := dc.NewListPager(subScope, &armauthorization.RoleDefinitionsClientListOptions{Filter: ptr("roleName eq 'Key Vault Secrets User'")})
		page, err := p.NextPage(ctx)
		if err != nil || len(page.Value) != 1 || *page.Value[0].Name != authz.KeyVaultSecretsUserRoleID ||
			*page.Value[0].ID != subScope+"/providers/Microsoft.Authorization/roleDefinitions/"+authz.KeyVaultSecretsUserRoleID ||
			*page.Value[0].Properties.RoleType != "BuiltInRole" || len(page.Value[0].Properties.Permissions[0].DataActions) == 0 {
			t.Fatalf("role by name = %+v, %v", page.Value, err)
		}
		var all []string
		for p := dc.NewListPager(subScope, nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Value {
				all = append(all, *d.Properties.RoleName)
			}
		}
		for _, want := range []string{"Owner", "Contributor", "Reader", "Key Vault Administrator", "Key Vault Secrets Officer", "Key Vault Secrets User", "Key Vault Reader", "Key Vault Contributor", "Key Vault Data Access Administrator"} {
			if !slices.Contains(all, want) {
				t.Errorf("role definitions lack %q", want)
			}
		}
		owner, err := dc.GetByID(ctx, "/providers/Microsoft.Authorization/roleDefinitions/"+authz.OwnerRoleID, nil)
		if err != nil || *owner.Properties.RoleName != "Owner" || *owner.Properties.Permissions[0].Actions[0] != "*" {
			t.Fatalf("Owner = %+v, %v", owner, err)
		}

		customID := uuid.NewString()
		custom, err := dc.CreateOrUpdate(ctx, subScope, customID, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
			RoleName: ptr("Secret Setter"), RoleType: ptr("CustomRole"), Description: ptr("sets secrets, cannot read them"),
			Permissions: []*armauthorization.Permission{{
				DataActions:    []*string{ptr("Microsoft.KeyVault/vaults/secrets/*")},
				NotDataActions: []*string{ptr("Microsoft.KeyVault/vaults/secrets/getSecret/action")},
			}},
			AssignableScopes: []*string{ptr(subScope)},
		}}, nil)
		if err != nil || *custom.Name != customID || *custom.Properties.RoleType != "CustomRole" {
			t.Fatalf("custom role = %+v, %v", custom, err)
		}

		_, principal := e.NewPrincipal(t)
		ac := newAssignmentsClient(t, e, nil)
		name := uuid.NewString()
		ra, err := ac.Create(ctx, subScope+"/resourceGroups/nope", name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: ptr(principal), RoleDefinitionID: ptr(*custom.ID),
		}}, nil)
		wantError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
		createGroup(t, e, "ra-rg")
		rgScope := subScope + "/resourceGroups/ra-rg"
		ra, err = ac.Create(ctx, rgScope, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: ptr(principal), RoleDefinitionID: ptr(*custom.ID), PrincipalType: ptr(armauthorization.PrincipalTypeServicePrincipal),
		}}, nil)
		if err != nil || *ra.Name != name || *ra.Properties.Scope != rgScope || *ra.Properties.PrincipalType != armauthorization.PrincipalTypeServicePrincipal {
			t.Fatalf("create assignment = %+v, %v", ra, err)
		}
		_, err = ac.Create(ctx, rgScope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: ptr(principal), RoleDefinitionID: ptr(*custom.ID),
		}}, nil)
		wantError(t, err, http.StatusConflict, "RoleAssignmentExists")
		_, err = ac.Create(ctx, rgScope, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: ptr(uuid.NewString()), RoleDefinitionID: ptr(*custom.ID),
		}}, nil)
		wantError(t, err, http.StatusBadRequest, "PrincipalNotFound")
		_, err = ac.Create(ctx, rgScope, "not-a-guid", armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: ptr(principal), RoleDefinitionID: ptr(*custom.ID),
		}}, nil)
		wantError(t, err, http.StatusBadRequest, "InvalidRoleAssignmentId")

		got, err := ac.GetByID(ctx, *ra.ID, nil)
		if err != nil || *got.Properties.RoleDefinitionID != *custom.ID {
			t.Fatalf("get by id = %+v, %v", got, err)
		}
		list := func(scope, filter string) []string {
			var out []string
			opts := &armauthorization.RoleAssignmentsClientListForScopeOptions{}
			if filter != "" {
				opts.Filter = ptr(filter)
			}
			for p := ac.NewListForScopePager(scope, opts); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("list %s %q: %v", scope, filter, err)
				}
				for _, a := range page.Value {
					out = append(out, *a.Name)
				}
			}
			return out
		}
		if got := list(rgScope, "atScope()"); !slices.Contains(got, name) || len(got) != 2 {
			t.Errorf("atScope() at the group = %v, want the administrator's root Owner and %s", got, name)
		}
		if got := list(subScope, "atScope()"); slices.Contains(got, name) {
			t.Errorf("atScope() at the subscription includes the group's assignment: %v", got)
		}
		if got := list(subScope, "principalId eq '"+principal+"'"); !slices.Equal(got, []string{name}) {
			t.Errorf("principalId filter = %v, want [%s]", got, name)
		}
		if got := list(subScope, "assignedTo('"+principal+"')"); !slices.Equal(got, []string{name}) {
			t.Errorf("assignedTo filter = %v, want [%s]", got, name)
		}
		var forSub []string
		for p := ac.NewListForSubscriptionPager(&armauthorization.RoleAssignmentsClientListForSubscriptionOptions{Filter: ptr("principalId eq '" + principal + "'")}); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.Value {
				forSub = append(forSub, *a.Name)
			}
		}
		if !slices.Equal(forSub, []string{name}) {
			t.Errorf("list for subscription = %v", forSub)
		}

		_, err = dc.Delete(ctx, subScope, customID, nil)
		wantError(t, err, http.StatusConflict, "RoleDefinitionHasAssignments")
		if _, err := ac.Delete(ctx, rgScope, name, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := ac.Delete(ctx, rgScope, name, nil); err != nil {
			t.Fatalf("deleting a deleted assignment = %v, want 204", err)
		}
		if _, err := dc.Delete(ctx, subScope, customID, nil); err != nil {
			t.Fatal(err)
		}
		_, err = dc.Get(ctx, subScope, customID, nil)
		wantError(t, err, http.StatusNotFound, "RoleDefinitionDoesNotExist")
	})
}

func TestSDKManagedIdentities(t *testing.T) {
	forEachEnv(t, func(t *testing.T, e *sdkEnv) {
		ctx := context.Background()
		createGroup(t, e, "mi-rg")
		ic, err := armmsi.NewUserAssignedIdentitiesClient(e.Subscription, e.Admin, e.options())
		if err != nil {
			t.Fatal(err)
		}
		id, err := ic.CreateOrUpdate(ctx, "mi-rg", "pipeline-id", armmsi.Identity{Location: ptr("westeurope"), Tags: map[string]*string{"a": ptr("b")}}, nil)
		if err != nil || *id.Properties.ClientID == "" || *id.Properties.PrincipalID == "" || *id.Properties.TenantID != e.TenantID || *id.Type != "Microsoft.ManagedIdentity/userAssignedIdentities" {
			t.Fatalf("create identity = %+v, %v", id, err)
		}
		again, err := ic.CreateOrUpdate(ctx, "mi-rg", "pipeline-id", armmsi.Identity{Location: ptr("westeurope")}, nil)
		if err != nil || *again.Properties.ClientID != *id.Properties.ClientID {
			t.Fatalf("re-PUT changed the identity: %+v, %v", again, err)
		}
		up, err := ic.Update(ctx, "mi-rg", "pipeline-id", armmsi.IdentityUpdate{Tags: map[string]*string{"x": ptr("y")}}, nil)
		if err != nil || *up.Tags["x"] != "y" {
			t.Fatalf("update = %+v, %v", up, err)
		}
		var names []string
		for p := ic.NewListBySubscriptionPager(nil); p.More(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range page.Value {
				names = append(names, *i.Name)
			}
		}
		if !slices.Equal(names, []string{"pipeline-id"}) {
			t.Fatalf("identities = %v", names)
		}

		fc, err := armmsi.NewFederatedIdentityCredentialsClient(e.Subscription, e.Admin, e.options())
		if err != nil {
			t.Fatal(err)
		}
		f, err := fc.CreateOrUpdate(ctx, "mi-rg", "pipeline-id", "devops", armmsi.FederatedIdentityCredential{Properties: &armmsi.FederatedIdentityCredentialProperties{
			Issuer: ptr("https://vstoken.dev.azure.com/00000000-0000-0000-0000-000000000001"), Subject: ptr("sc://org/project/connection"),
			Audiences: []*string{ptr("api://AzureADTokenExchange")},
		}}, nil)
		if err != nil || *f.Name != "devops" || *f.Properties.Subject != "sc://org/project/connection" {
			t.Fatalf("create FIC = %+v, %v", f, err)
		}
		g, err := fc.Get(ctx, "mi-rg", "pipeline-id", "devops", nil)
		if err != nil || *g.ID != *id.ID+"/federatedIdentityCredentials/devops" {
			t.Fatalf("get FIC = %+v, %v", g, err)
		}
		lp := fc.NewListPager("mi-rg", "pipeline-id", nil)
		page, err := lp.NextPage(ctx)
		if err != nil || len(page.Value) != 1 {
			t.Fatalf("list FICs = %+v, %v", page.Value, err)
		}
		if _, err := fc.Delete(ctx, "mi-rg", "pipeline-id", "devops", nil); err != nil {
			t.Fatal(err)
		}
		_, err = fc.Get(ctx, "mi-rg", "pipeline-id", "devops", nil)
		wantError(t, err, http.StatusNotFound, "ResourceNotFound")

		if _, err := ic.Delete(ctx, "mi-rg", "pipeline-id", nil); err != nil {
			t.Fatal(err)
		}
		_, err = ic.Get(ctx, "mi-rg", "pipeline-id", nil)
		wantError(t, err, http.StatusNotFound, "ResourceNotFound")
	})
}
