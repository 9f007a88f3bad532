package authz

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	secretsGet  = PolicyPermission{Category: SecretPermissions, Name: "get"}
	secretsList = PolicyPermission{Category: SecretPermissions, Name: "list"}
)

func entry(objectID, applicationID string, secrets ...string) AccessPolicyEntry {
	return AccessPolicyEntry{TenantID: tenantID, ObjectID: objectID, ApplicationID: applicationID,
		Permissions: AccessPolicyPermissions{Secrets: secrets}}
}

func TestEvaluateAccessPolicies(t *testing.T) {
	sp := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, AppOnly: true}
	alice := &Caller{TenantID: tenantID, ObjectID: aliceID, ApplicationID: otherApp, GroupIDs: []string{groupID}}
	aliceLeftGroup := &Caller{TenantID: tenantID, ObjectID: aliceID, ApplicationID: otherApp}
	aliceViaApp := &Caller{TenantID: tenantID, ObjectID: aliceID, ApplicationID: appID, GroupIDs: []string{groupID}}
	otherTenant := &Caller{TenantID: "7e4a4700-0000-4000-8000-0000000000ff", ObjectID: appSPID, ApplicationID: appID, AppOnly: true}
	tests := []struct {
		name      string
		entries   []AccessPolicyEntry
		caller    *Caller
		perm      PolicyPermission
		want      PolicyReason
		wantEntry int // index of Entry, -1 for nil
	}{
		{"item 30: list only allows list", []AccessPolicyEntry{entry(appSPID, "", "list")}, sp, secretsList, PolicyAllowed, 0},
		{"item 30: list only denies get", []AccessPolicyEntry{entry(appSPID, "", "list")}, sp, secretsGet, PolicyPermissionMissing, 0},
		{"item 30: get only denies list", []AccessPolicyEntry{entry(appSPID, "", "get")}, sp, secretsList, PolicyPermissionMissing, 0},
		{"item 30: get only allows get", []AccessPolicyEntry{entry(appSPID, "", "get")}, sp, secretsGet, PolicyAllowed, 0},
		{"names are case-insensitive", []AccessPolicyEntry{entry(strings.ToUpper(appSPID), "", "Get")}, sp, secretsGet, PolicyAllowed, 0},
		{"all grants every secrets permission", []AccessPolicyEntry{entry(appSPID, "", "All")}, sp, PolicyPermission{SecretPermissions, "purge"}, PolicyAllowed, 0},
		{"secrets all does not grant keys", []AccessPolicyEntry{entry(appSPID, "", "all")}, sp, PolicyPermission{KeyPermissions, "get"}, PolicyPermissionMissing, 0},
		{"permissions of several entries add up", []AccessPolicyEntry{entry(appSPID, "", "list"), entry(groupID, "", "get")}, aliceViaApp, secretsGet, PolicyAllowed, 1},
		{"no entry for the caller", []AccessPolicyEntry{entry(bobID, "", "get")}, sp, secretsGet, PolicyNoMatchingEntry, -1},
		{"no entries at all", nil, sp, secretsGet, PolicyNoMatchingEntry, -1},
		{"entry of another tenant", []AccessPolicyEntry{entry(appSPID, "", "get")}, otherTenant, secretsGet, PolicyNoMatchingEntry, -1},
		{"item 31: policy through group membership", []AccessPolicyEntry{entry(groupID, "", "get")}, alice, secretsGet, PolicyAllowed, 0},
		{"item 31: leaving the group revokes", []AccessPolicyEntry{entry(groupID, "", "get")}, aliceLeftGroup, secretsGet, PolicyNoMatchingEntry, -1},
		{"item 32: compound identity grants the app acting for the user", []AccessPolicyEntry{entry(aliceID, appID, "get")}, aliceViaApp, secretsGet, PolicyAllowed, 0},
		{"item 32: compound identity with a group object", []AccessPolicyEntry{entry(groupID, appID, "get")}, aliceViaApp, secretsGet, PolicyAllowed, 0},
		{"item 32: compound identity does not grant the user through another client", []AccessPolicyEntry{entry(aliceID, appID, "get")}, alice, secretsGet, PolicyRequiresOnBehalfOf, 0},
		{"item 32: compound identity does not grant the app alone", []AccessPolicyEntry{entry(aliceID, appID, "get")}, sp, secretsGet, PolicyNoMatchingEntry, -1},
		{"item 32: compound identity naming the app's own object needs a delegated token", []AccessPolicyEntry{entry(appSPID, appID, "get")}, sp, secretsGet, PolicyRequiresOnBehalfOf, 0},
		{"item 32: a plain entry still applies beside a compound one", []AccessPolicyEntry{entry(aliceID, appID, "get"), entry(aliceID, "", "list")}, alice, secretsGet, PolicyPermissionMissing, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := EvaluateAccessPolicies(tt.entries, tt.caller, tt.perm)
			if d.Reason != tt.want || d.Allowed != (tt.want == PolicyAllowed) {
				t.Fatalf("EvaluateAccessPolicies = %v (allowed %v), want %v", d.Reason, d.Allowed, tt.want)
			}
			var want *AccessPolicyEntry
			if tt.wantEntry >= 0 {
				want = &tt.entries[tt.wantEntry]
			}
			if d.Entry != want {
				t.Errorf("Entry = %+v, want index %d", d.Entry, tt.wantEntry)
			}
		})
	}
}

func TestAccessPolicyValidation(t *testing.T) {
	valid := AccessPolicyEntry{TenantID: tenantID, ObjectID: appSPID, Permissions: AccessPolicyPermissions{
		Keys:         []string{"Get", "unwrapkey", "WRAPKEY", "GetRotationPolicy", "all"},
		Secrets:      []string{"get", "List", "get", "SET"},
		Certificates: []string{"ManageContacts", "listissuers"},
		Storage:      []string{"regenerateKey", "getSAS"},
	}}
	if err := valid.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	got, err := valid.Permissions.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	want := AccessPolicyPermissions{
		Keys:         []string{"get", "unwrapKey", "wrapKey", "getrotationpolicy", "all"},
		Secrets:      []string{"get", "list", "set"},
		Certificates: []string{"managecontacts", "listissuers"},
		Storage:      []string{"regeneratekey", "getsas"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Normalized (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		edit func(e *AccessPolicyEntry)
		text string
	}{
		{"bad tenant", func(e *AccessPolicyEntry) { e.TenantID = "contoso" }, "tenantId"},
		{"bad object", func(e *AccessPolicyEntry) { e.ObjectID = "" }, "objectId"},
		{"bad application", func(e *AccessPolicyEntry) { e.ApplicationID = "app" }, "applicationId"},
		{"unknown secret permission", func(e *AccessPolicyEntry) { e.Permissions.Secrets = []string{"read"} }, `secret permission "read" is not one of all, get, list, set`},
		{"key permission in secrets", func(e *AccessPolicyEntry) { e.Permissions.Secrets = []string{"decrypt"} }, `"decrypt"`},
		{"secret permission in keys", func(e *AccessPolicyEntry) { e.Permissions.Keys = []string{"set"} }, `key permission "set"`},
		{"unknown certificate permission", func(e *AccessPolicyEntry) { e.Permissions.Certificates = []string{"sign"} }, "certificate permission"},
		{"unknown storage permission", func(e *AccessPolicyEntry) { e.Permissions.Storage = []string{"rotate"} }, "storage permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid
			tt.edit(&e)
			if err := e.Validate(); !errors.Is(err, ErrInvalidAccessPolicy) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Validate = %v, want ErrInvalidAccessPolicy containing %q", err, tt.text)
			}
		})
	}
	many := make([]AccessPolicyEntry, MaxAccessPolicies+1)
	for i := range many {
		many[i] = valid
	}
	if err := ValidateAccessPolicies(many); !errors.Is(err, ErrInvalidAccessPolicy) {
		t.Errorf("1025 entries: %v", err)
	}
	if err := ValidateAccessPolicies(many[:MaxAccessPolicies]); err != nil {
		t.Errorf("1024 entries: %v", err)
	}
	bad := []AccessPolicyEntry{valid, {TenantID: tenantID, ObjectID: "x"}}
	if err := ValidateAccessPolicies(bad); err == nil || !strings.Contains(err.Error(), "accessPolicies[1]") {
		t.Errorf("ValidateAccessPolicies = %v, want the index of the bad entry", err)
	}
}

func TestFindAccessPolicy(t *testing.T) {
	entries := []AccessPolicyEntry{entry(aliceID, "", "get"), entry(aliceID, appID, "get"), entry(appSPID, "", "list")}
	tests := []struct {
		name                  string
		tenant, object, appID string
		want                  int
	}{
		{"plain entry", tenantID, aliceID, "", 0},
		{"compound entry", tenantID, strings.ToUpper(aliceID), strings.ToUpper(appID), 1},
		{"service principal", tenantID, appSPID, "", 2},
		{"no compound for the service principal", tenantID, appSPID, appID, -1},
		{"other tenant", "7e4a4700-0000-4000-8000-0000000000ff", aliceID, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FindAccessPolicy(entries, tt.tenant, tt.object, tt.appID); got != tt.want {
				t.Errorf("FindAccessPolicy = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEvaluateAccessPoliciesDoesNotAllocate(t *testing.T) {
	entries := typicalPolicies()
	c := &Caller{TenantID: tenantID, ObjectID: appSPID, ApplicationID: appID, AppOnly: true, GroupIDs: []string{groupID}}
	allocs := testing.AllocsPerRun(100, func() {
		if !EvaluateAccessPolicies(entries, c, secretsGet).Allowed {
			t.Fatal("typical policy check denied")
		}
	})
	if allocs != 0 {
		t.Errorf("EvaluateAccessPolicies allocated %v times per run", allocs)
	}
}

// typicalPolicies is a vault with a handful of entries; the last one grants the service
// principal get and list, as the Key Vault tutorial sets up.
func typicalPolicies() []AccessPolicyEntry {
	return []AccessPolicyEntry{
		{TenantID: tenantID, ObjectID: aliceID, Permissions: AccessPolicyPermissions{
			Keys: []string{"all"}, Secrets: []string{"all"}, Certificates: []string{"all"}}},
		entry(bobID, "", "get", "list", "set", "delete"),
		entry(aliceID, appID, "get"),
		entry(appSPID, "", "Get", "List"),
	}
}
