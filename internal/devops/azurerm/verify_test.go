package azurerm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/azurerm"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/identity"
)

func (w *world) verify(t *testing.T, endpointID string, d *azurerm.Details) azurerm.VerifyResult {
	t.Helper()
	res, err := w.arm.Verify(context.Background(), azurerm.VerifyRequest{Org: w.org, ProjectID: w.proj.ID, EndpointID: endpointID, Details: d})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func wantOK(t *testing.T, res azurerm.VerifyResult) {
	t.Helper()
	if res.StatusCode != "ok" || res.ErrorMessage != "" {
		t.Fatalf("verification = %+v, want ok", res)
	}
}

func wantFailure(t *testing.T, res azurerm.VerifyResult, status string, parts ...string) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("statusCode = %q, want %q (%s)", res.StatusCode, status, res.ErrorMessage)
	}
	for _, p := range parts {
		if !strings.Contains(res.ErrorMessage, p) {
			t.Errorf("errorMessage lacks %q:\n%s", p, res.ErrorMessage)
		}
	}
}

func TestVerifyServicePrincipal(t *testing.T) {
	w := newWorld(t)
	app, secret := w.app("sp")
	sp := w.connection("sp-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret}, nil)

	res := w.verify(t, sp.ID, nil)
	wantFailure(t, res, "NotFound", "Subscription "+subscriptionID+" was not found, or the identity cannot see it",
		"grant the identity Reader on the subscription (keystage role assignment create --assignee "+app.AppID+" --role Reader --scope /subscriptions/"+subscriptionID+")",
		"SubscriptionNotFound")

	w.reader(app.ServicePrincipalID)
	res = w.verify(t, sp.ID, nil)
	wantOK(t, res)
	if len(res.Result) != 1 || res.Result[0] != "Keystage Subscription" {
		t.Errorf("result = %q", res.Result)
	}

	// Unsaved details with a wrong key.
	res = w.verify(t, "", &azurerm.Details{Type: "AzureRM", Scheme: "ServicePrincipal",
		Parameters: map[string]string{"tenantid": w.tenant, "serviceprincipalid": app.AppID, "serviceprincipalkey": "wrong"},
		Data:       map[string]string{"subscriptionId": subscriptionID}})
	wantFailure(t, res, "Unauthorized", "The service principal key is wrong: create a new client secret for application "+app.AppID, "AADSTS7000215")
	if strings.Contains(res.ErrorMessage, "Trace ID") {
		t.Errorf("trace lines in %q", res.ErrorMessage)
	}

	// The saved key fills in details that omit it.
	res = w.verify(t, sp.ID, &azurerm.Details{Type: "AzureRM", Scheme: "ServicePrincipal",
		Parameters: map[string]string{"tenantid": w.tenant, "serviceprincipalid": app.AppID},
		Data:       map[string]string{"subscriptionId": subscriptionID}})
	wantOK(t, res)

	// An unknown application.
	res = w.verify(t, "", &azurerm.Details{Scheme: "ServicePrincipal",
		Parameters: map[string]string{"tenantid": w.tenant, "serviceprincipalid": "4f1a7e6b-67d5-4c8c-a6f4-3f9eae5b5d44", "serviceprincipalkey": "x"},
		Data:       map[string]string{"subscriptionId": subscriptionID}})
	wantFailure(t, res, "BadRequest", "No application or managed identity with client id 4f1a7e6b-67d5-4c8c-a6f4-3f9eae5b5d44", "AADSTS700016")
}

func TestVerifyResourceGroupScope(t *testing.T) {
	w := newWorld(t)
	app, secret := w.app("sp")
	rg := w.connection("rg-conn", "ServicePrincipal", map[string]string{"serviceprincipalid": app.AppID, "serviceprincipalkey": secret,
		"scope": "/subscriptions/" + subscriptionID + "/resourcegroups/rg1"}, map[string]string{"scopeLevel": "ResourceGroup"})
	wantFailure(t, w.verify(t, rg.ID, nil), "Forbidden", "may not read resource group rg1",
		"grant the identity Reader on the resource group", "--scope /subscriptions/"+subscriptionID+"/resourceGroups/rg1", "AuthorizationFailed")
	w.reader(app.ServicePrincipalID)
	wantOK(t, w.verify(t, rg.ID, nil))
}

func TestVerifyWorkloadIdentityFederation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	app, _ := w.app("federated")
	w.reader(app.ServicePrincipalID)
	wif := w.connection("wif-conn", "WorkloadIdentityFederation", map[string]string{"serviceprincipalid": app.AppID}, nil)
	issuer := w.issuer.IssuerURL(w.org.ID)
	subject := "sc://fabrikam/Web App/wif-conn"
	if got := w.devops.WorkloadIdentityIssuer(w.org); got != issuer {
		t.Fatalf("the connection shows issuer %s, the token endpoint signs as %s", got, issuer)
	}

	wantFailure(t, w.verify(t, wif.ID, nil), "Unauthorized",
		`The identity has no federated credentials: add one with issuer "`+issuer+`" and subject "`+subject+`" (audience api://AzureADTokenExchange).`, "AADSTS70025")

	if _, err := w.idp.CreateFederatedCredential(ctx, w.tenant, app.AppID, identity.FederatedCredential{
		Name: "typo", Issuer: issuer, Subject: "sc://fabrikam/web app/wif-conn", Audiences: []string{oidc.Audience},
	}); err != nil {
		t.Fatal(err)
	}
	wantFailure(t, w.verify(t, wif.ID, nil), "Unauthorized",
		`The federated credential's subject does not match: expected "sc://fabrikam/web app/wif-conn", presented "`+subject+`"`)

	if _, err := w.idp.CreateFederatedCredential(ctx, w.tenant, app.AppID, identity.FederatedCredential{
		Name: "pipeline", Issuer: issuer, Subject: subject, Audiences: []string{oidc.Audience},
	}); err != nil {
		t.Fatal(err)
	}
	wantOK(t, w.verify(t, wif.ID, nil))

	// Unsaved connections have no subject yet.
	wantFailure(t, w.verify(t, "", &azurerm.Details{Scheme: "WorkloadIdentityFederation",
		Parameters: map[string]string{"tenantid": w.tenant, "serviceprincipalid": app.AppID}, Data: map[string]string{"subscriptionId": subscriptionID}}),
		"BadRequest", "Save the service connection before verifying it")

	// Renaming the project changes the subject: the exchange fails until the federated
	// credential is updated (identity.md §5 item 50).
	newName := "Web Shop"
	if _, _, err := w.devops.UpdateProject(ctx, w.org, w.proj.ID, devops.ProjectUpdate{Name: &newName}); err != nil {
		t.Fatal(err)
	}
	wantFailure(t, w.verify(t, wif.ID, nil), "Unauthorized", `presented "sc://fabrikam/Web Shop/wif-conn"`, "AADSTS700213")
	if _, err := w.idp.CreateFederatedCredential(ctx, w.tenant, app.AppID, identity.FederatedCredential{
		Name: "renamed", Issuer: issuer, Subject: "sc://fabrikam/Web Shop/wif-conn", Audiences: []string{oidc.Audience},
	}); err != nil {
		t.Fatal(err)
	}
	wantOK(t, w.verify(t, wif.ID, nil))
}

func TestVerifyManagedIdentity(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mi, err := w.idp.CreateManagedIdentity(ctx, w.tenant, "/subscriptions/"+subscriptionID+"/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/pipeline")
	if err != nil {
		t.Fatal(err)
	}
	conn := w.connection("mi-conn", "ManagedServiceIdentity", map[string]string{"serviceprincipalid": mi.ClientID}, nil)
	wantFailure(t, w.verify(t, conn.ID, nil), "NotFound", "grant the identity Reader on the subscription")
	w.reader(mi.PrincipalID)
	wantOK(t, w.verify(t, conn.ID, nil))

	unknown := w.connection("ghost", "ManagedServiceIdentity", map[string]string{"serviceprincipalid": "4f1a7e6b-67d5-4c8c-a6f4-3f9eae5b5d44"}, nil)
	wantFailure(t, w.verify(t, unknown.ID, nil), "BadRequest", "The managed identity 4f1a7e6b-67d5-4c8c-a6f4-3f9eae5b5d44 cannot be used")
}
