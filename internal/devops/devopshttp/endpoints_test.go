package devopshttp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/serviceendpoint"

	"github.com/keystage/keystage/internal/devops"
)

const (
	subscriptionID = "33333333-3333-4333-8333-333333333333"
	clientID       = "22222222-2222-4222-8222-222222222222"
)

func (hs *harness) project(name string) devops.Project {
	hs.t.Helper()
	p, _, err := hs.svc.CreateProject(context.Background(), hs.org, hs.org.CreatedBy, devops.NewProject{Name: name})
	if err != nil {
		hs.t.Fatal(err)
	}
	return p
}

func projectRef(p devops.Project) []serviceendpoint.ServiceEndpointProjectReference {
	id := uuid.MustParse(p.ID)
	return []serviceendpoint.ServiceEndpointProjectReference{{ProjectReference: &serviceendpoint.ProjectReference{Id: &id, Name: &p.Name}}}
}

// TestServiceEndpointCRUD is devops.md §8.11.
func TestServiceEndpointCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, hs *harness) {
		ctx := context.Background()
		a, b := hs.project("Website"), hs.project("Other")
		client, err := serviceendpoint.NewClient(ctx, hs.conn())
		if err != nil {
			t.Fatal(err)
		}
		refs := projectRef(a)
		created, err := client.CreateServiceEndpoint(ctx, serviceendpoint.CreateServiceEndpointArgs{Endpoint: &serviceendpoint.ServiceEndpoint{
			Name: ptr("my-sc"), Type: ptr("AzureRM"), Url: ptr("https://management.azure.com/"), Owner: ptr("library"),
			Authorization: &serviceendpoint.EndpointAuthorization{Scheme: ptr("WorkloadIdentityFederation"), Parameters: &map[string]string{
				"tenantid": testTenant, "serviceprincipalid": clientID,
			}},
			Data: &map[string]string{"subscriptionId": subscriptionID, "subscriptionName": "Default", "environment": "AzureCloud",
				"scopeLevel": "Subscription", "creationMode": "Manual", "identityType": "ManagedIdentity"},
			ServiceEndpointProjectReferences: &refs,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if created.IsReady == nil || !*created.IsReady || created.Id == nil || *created.IsShared {
			t.Fatalf("created = %+v", created)
		}
		params := *created.Authorization.Parameters
		if got, want := params["workloadIdentityFederationIssuer"], hs.URL+"/_oidc/"+hs.org.ID; got != want {
			t.Errorf("issuer %q, want %q", got, want)
		}
		if got := params["workloadIdentityFederationSubject"]; got != "sc://Fabrikam/Website/my-sc" {
			t.Errorf("subject %q", got)
		}
		if (*created.Data)["identityType"] != "ManagedIdentity" {
			t.Errorf("data = %v", *created.Data)
		}

		byName, err := client.GetServiceEndpointsByNames(ctx, serviceendpoint.GetServiceEndpointsByNamesArgs{
			Project: ptr("website"), EndpointNames: &[]string{"MY-SC"},
		})
		if err != nil || len(*byName) != 1 || *(*byName)[0].Id != *created.Id {
			t.Fatalf("by name = %+v, %v", byName, err)
		}
		details, err := client.GetServiceEndpointDetails(ctx, serviceendpoint.GetServiceEndpointDetailsArgs{Project: ptr(a.ID), EndpointId: created.Id})
		if err != nil || details.Id == nil || *details.Name != "my-sc" {
			t.Fatalf("details = %+v, %v", details, err)
		}

		share := projectRef(b)
		(share)[0].Name = ptr("sc-in-other")
		if err := client.ShareServiceEndpoint(ctx, serviceendpoint.ShareServiceEndpointArgs{EndpointId: created.Id, EndpointProjectReferences: &share}); err != nil {
			t.Fatal(err)
		}
		inOther, err := client.GetServiceEndpointDetails(ctx, serviceendpoint.GetServiceEndpointDetailsArgs{Project: ptr("Other"), EndpointId: created.Id})
		if err != nil || !*inOther.IsShared || *inOther.Name != "sc-in-other" || len(*inOther.ServiceEndpointProjectReferences) != 2 {
			t.Fatalf("after share = %+v, %v", inOther, err)
		}

		// A full update through the org route (the body as read, with both references).
		upd := *inOther
		upd.Description = ptr("changed")
		updated, err := client.UpdateServiceEndpoint(ctx, serviceendpoint.UpdateServiceEndpointArgs{EndpointId: created.Id, Endpoint: &upd})
		if err != nil || *updated.Description != "changed" || len(*updated.ServiceEndpointProjectReferences) != 2 {
			t.Fatalf("update = %+v, %v", updated, err)
		}

		if err := client.DeleteServiceEndpoint(ctx, serviceendpoint.DeleteServiceEndpointArgs{
			EndpointId: created.Id, ProjectIds: &[]string{a.ID, b.ID},
		}); err != nil {
			t.Fatal(err)
		}
		gone, err := client.GetServiceEndpointDetails(ctx, serviceendpoint.GetServiceEndpointDetailsArgs{Project: ptr(a.ID), EndpointId: created.Id})
		if err != nil {
			t.Fatalf("details after delete: %v", err)
		}
		if gone.Id != nil || gone.IsReady != nil || gone.OperationStatus != nil {
			t.Errorf("details after delete = %+v, want the all-nil struct of a null body", gone)
		}
		r := hs.send("GET", "/fabrikam/website/_apis/serviceendpoint/endpoints/"+created.Id.String()+"?api-version=7.1-preview.4", basic(hs.OwnerPAT), nil)
		if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "null" {
			t.Errorf("raw get after delete = %d %s", r.Status, r.Body)
		}
	})
}

func TestServiceEndpointSecretIsNeverReturned(t *testing.T) {
	hs := newHarness(t, "sqlite")
	a := hs.project("Website")
	const secret = "sp-secret-canary"
	body := map[string]any{
		"name": "spn", "type": "azurerm",
		"authorization": map[string]any{"scheme": "ServicePrincipal", "parameters": map[string]string{
			"tenantid": testTenant, "serviceprincipalid": clientID, "authenticationType": "spnKey", "serviceprincipalkey": secret,
		}},
		"data": map[string]string{"subscriptionId": subscriptionID},
	}
	// az devops' v5 client posts to the project route without references.
	var created endpointJSON
	r := hs.do("POST", "/fabrikam/Website/_apis/serviceendpoint/endpoints?api-version=5.0-preview.2", basic(hs.OwnerPAT), body, 200, &created)
	if strings.Contains(string(r.Body), secret) {
		t.Fatalf("create echoes the secret: %s", r.Body)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	params := raw["authorization"].(map[string]any)["parameters"].(map[string]any)
	if v, ok := params["serviceprincipalkey"]; !ok || v != nil {
		t.Errorf("serviceprincipalkey = %v (present %v), want null", v, ok)
	}
	if len(created.ProjectRefs) != 1 || created.ProjectRefs[0].ProjectReference.ID != a.ID {
		t.Errorf("references = %+v", created.ProjectRefs)
	}
	for _, path := range []string{
		"/fabrikam/website/_apis/serviceendpoint/endpoints?api-version=7.1-preview.4",
		"/fabrikam/website/_apis/serviceendpoint/endpoints/" + created.ID + "?api-version=7.1-preview.4",
	} {
		if r := hs.send("GET", path, basic(hs.OwnerPAT), nil); r.Status != 200 || strings.Contains(string(r.Body), secret) {
			t.Errorf("GET %s = %d, leaks the secret: %v", path, r.Status, strings.Contains(string(r.Body), secret))
		}
	}
	// A client echoing the null secret keeps it.
	body["authorization"].(map[string]any)["parameters"].(map[string]string)["serviceprincipalkey"] = ""
	hs.do("PUT", "/fabrikam/_apis/serviceendpoint/endpoints/"+created.ID+"?api-version=7.1-preview.4", basic(hs.OwnerPAT), body, 200, nil)
	secrets, err := hs.svc.EndpointSecrets(context.Background(), hs.org, created.ID)
	if err != nil || secrets["serviceprincipalkey"] != secret {
		t.Fatalf("secret after update: %v, %v", secrets, err)
	}
	// Numbers in data are a 400, not a silent coercion.
	bad := map[string]any{"name": "x", "type": "azurerm", "data": map[string]any{"subscriptionId": 1}}
	if r := hs.send("POST", "/fabrikam/_apis/serviceendpoint/endpoints?api-version=7.1-preview.4", basic(hs.OwnerPAT), bad); r.Status != 400 {
		t.Errorf("numeric data = %d %s", r.Status, r.Body)
	}
}

func TestServiceEndpointTypes(t *testing.T) {
	hs := newHarness(t, "sqlite")
	ctx := context.Background()
	client, err := serviceendpoint.NewClient(ctx, hs.conn())
	if err != nil {
		t.Fatal(err)
	}
	types, err := client.GetServiceEndpointTypes(ctx, serviceendpoint.GetServiceEndpointTypesArgs{})
	if err != nil || len(*types) != 1 || *(*types)[0].Name != "azurerm" || len(*(*types)[0].AuthenticationSchemes) != 3 {
		t.Fatalf("types = %+v, %v", types, err)
	}
	only, err := client.GetServiceEndpointTypes(ctx, serviceendpoint.GetServiceEndpointTypesArgs{Type: ptr("AzureRM"), Scheme: ptr("ServicePrincipal")})
	if err != nil || len(*only) != 1 || len(*(*only)[0].AuthenticationSchemes) != 1 {
		t.Fatalf("filtered types = %+v, %v", only, err)
	}
}
