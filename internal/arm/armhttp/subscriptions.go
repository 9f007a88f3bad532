package armhttp

import (
	"time"

	"github.com/keystage/keystage/internal/arm"
)

type subscriptionJSON struct {
	ID                   string               `json:"id"`
	SubscriptionID       string               `json:"subscriptionId"`
	TenantID             string               `json:"tenantId"`
	DisplayName          string               `json:"displayName"`
	State                string               `json:"state"`
	AuthorizationSource  string               `json:"authorizationSource"`
	ManagedByTenants     []any                `json:"managedByTenants"`
	Tags                 map[string]string    `json:"tags,omitempty"`
	SubscriptionPolicies subscriptionPolicies `json:"subscriptionPolicies"`
}

type subscriptionPolicies struct {
	LocationPlacementID string `json:"locationPlacementId"`
	QuotaID             string `json:"quotaId"`
	SpendingLimit       string `json:"spendingLimit"`
}

func renderSubscription(s arm.Subscription) any {
	return subscriptionJSON{
		ID: "/subscriptions/" + s.ID, SubscriptionID: s.ID, TenantID: s.TenantID, DisplayName: s.DisplayName,
		State: s.State, AuthorizationSource: "RoleBased", ManagedByTenants: []any{},
		SubscriptionPolicies: subscriptionPolicies{LocationPlacementID: "Public_2014-09-01", QuotaID: "Keystage", SpendingLimit: "Off"},
	}
}

func listSubscriptions(q *request) error {
	subs, err := q.h.svc.ListSubscriptions(q.r.Context(), q.caller)
	if err != nil {
		return err
	}
	return writeList(q, subs, func(s arm.Subscription) string { return s.DisplayName + s.ID }, renderSubscription)
}

func getSubscription(q *request) error {
	s, err := q.h.svc.GetSubscription(q.r.Context(), q.caller, q.args[0])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderSubscription(s))
	return nil
}

type tenantJSON struct {
	ID             string   `json:"id"`
	TenantID       string   `json:"tenantId"`
	TenantCategory string   `json:"tenantCategory"`
	DisplayName    string   `json:"displayName"`
	DefaultDomain  string   `json:"defaultDomain"`
	Domains        []string `json:"domains"`
	TenantType     string   `json:"tenantType"`
	CountryCode    string   `json:"countryCode,omitempty"`
}

// listTenants returns the caller's own tenant: a token is issued for one tenant, and
// Keystage does not let principals act across tenants.
func listTenants(q *request) error {
	t := q.caller.TenantID
	writeJSON(q.w, 200, listBody{Value: []any{tenantJSON{
		ID: "/tenants/" + t, TenantID: t, TenantCategory: "Home", DisplayName: "Keystage",
		DefaultDomain: t + ".keystage.local", Domains: []string{t + ".keystage.local"}, TenantType: "AAD",
	}}})
	return nil
}

type locationJSON struct {
	ID                  string           `json:"id"`
	Name                string           `json:"name"`
	Type                string           `json:"type"`
	DisplayName         string           `json:"displayName"`
	RegionalDisplayName string           `json:"regionalDisplayName"`
	Metadata            locationMetadata `json:"metadata"`
}

type locationMetadata struct {
	RegionType       string `json:"regionType"`
	RegionCategory   string `json:"regionCategory"`
	GeographyGroup   string `json:"geographyGroup"`
	PhysicalLocation string `json:"physicalLocation"`
}

func listLocations(q *request) error {
	s, err := q.h.svc.GetSubscription(q.r.Context(), q.caller, q.args[0])
	if err != nil {
		return err
	}
	locs := arm.Locations()
	out := make([]any, len(locs))
	for i, l := range locs {
		out[i] = locationJSON{
			ID: "/subscriptions/" + s.ID + "/locations/" + l.Name, Name: l.Name, Type: "Region",
			DisplayName: l.DisplayName, RegionalDisplayName: l.RegionalDisplayName(),
			Metadata: locationMetadata{RegionType: "Physical", RegionCategory: "Recommended", GeographyGroup: l.GeographyGroup, PhysicalLocation: l.PhysicalLocation},
		}
	}
	writeJSON(q.w, 200, listBody{Value: out})
	return nil
}

// systemDataJSON is ARM's systemData.
type systemDataJSON struct {
	CreatedBy          string `json:"createdBy,omitempty"`
	CreatedByType      string `json:"createdByType,omitempty"`
	CreatedAt          string `json:"createdAt,omitempty"`
	LastModifiedBy     string `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     string `json:"lastModifiedAt,omitempty"`
}

func renderSystemData(sd arm.SystemData) *systemDataJSON {
	if sd.CreatedAt.IsZero() {
		return nil
	}
	return &systemDataJSON{
		CreatedBy: sd.CreatedBy, CreatedByType: sd.CreatedByType, CreatedAt: sd.CreatedAt.UTC().Format(time.RFC3339Nano),
		LastModifiedBy: sd.LastModifiedBy, LastModifiedByType: sd.LastModifiedByType, LastModifiedAt: sd.LastModifiedAt.UTC().Format(time.RFC3339Nano),
	}
}

// tagsOrEmpty renders absent tags as {} as ARM does.
func tagsOrEmpty(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return t
}
