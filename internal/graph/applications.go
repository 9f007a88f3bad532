package graph

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity"
)

// appRef names an application by object id (Graph's id) or by appId.
type appRef struct {
	objectID string
	appID    string
}

type passwordCredentialJSON struct {
	CustomKeyIdentifier *string `json:"customKeyIdentifier"`
	DisplayName         *string `json:"displayName"`
	EndDateTime         *string `json:"endDateTime"`
	Hint                string  `json:"hint"`
	KeyID               string  `json:"keyId"`
	SecretText          *string `json:"secretText"`
	StartDateTime       string  `json:"startDateTime"`
}

type applicationJSON struct {
	ODataType           string                   `json:"@odata.type,omitempty"`
	ID                  string                   `json:"id"`
	AppID               string                   `json:"appId"`
	DisplayName         string                   `json:"displayName"`
	CreatedDateTime     string                   `json:"createdDateTime"`
	SignInAudience      string                   `json:"signInAudience"`
	PublisherDomain     string                   `json:"publisherDomain,omitempty"`
	PasswordCredentials []passwordCredentialJSON `json:"passwordCredentials"`
	KeyCredentials      []any                    `json:"keyCredentials"`
	IdentifierURIs      []string                 `json:"identifierUris"`
	Tags                []string                 `json:"tags"`
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func renderPassword(s identity.ClientSecret, secretText *string) passwordCredentialJSON {
	out := passwordCredentialJSON{Hint: s.Hint, KeyID: s.KeyID, StartDateTime: graphTime(s.StartDateTime), SecretText: secretText}
	if s.DisplayName != "" {
		out.DisplayName = &s.DisplayName
	}
	if s.EndDateTime != nil {
		e := graphTime(*s.EndDateTime)
		out.EndDateTime = &e
	}
	return out
}

// renderApplication renders app with its secrets (never their values).
func (q *request) renderApplication(app identity.Application, typed bool) (applicationJSON, error) {
	secrets, err := q.h.dir.ClientSecrets(q.r.Context(), app.TenantID, app.AppID)
	if err != nil {
		return applicationJSON{}, err
	}
	out := applicationJSON{
		ID: app.ObjectID, AppID: app.AppID, DisplayName: app.DisplayName, CreatedDateTime: graphTime(app.Created),
		SignInAudience: "AzureADMyOrg", PasswordCredentials: []passwordCredentialJSON{}, KeyCredentials: []any{},
		IdentifierURIs: []string{}, Tags: []string{},
	}
	if typed {
		out.ODataType = "#microsoft.graph.application"
	}
	for _, s := range secrets {
		out.PasswordCredentials = append(out.PasswordCredentials, renderPassword(s, nil))
	}
	return out, nil
}

// resolveApp finds an application of the caller's tenant by object id or appId. For the
// id form, an appId is accepted too (Graph itself only takes the object id there).
func (q *request) resolveApp(ref appRef) (identity.Application, error) {
	ctx, tenant := q.r.Context(), q.caller.TenantID
	id := ref.appID
	if id == "" {
		app, err := q.h.dir.ApplicationByObjectID(ctx, tenant, ref.objectID)
		if !errors.Is(err, identity.ErrNotFound) {
			return app, err
		}
		id = ref.objectID
	}
	app, err := q.h.dir.Application(ctx, tenant, id)
	if errors.Is(err, identity.ErrNotFound) {
		return identity.Application{}, notFound(id)
	}
	return app, err
}

// managedApp resolves ref and checks that the caller may manage the application.
func (q *request) managedApp(ref appRef) (identity.Application, error) {
	app, err := q.resolveApp(ref)
	if err != nil {
		return identity.Application{}, err
	}
	return app, q.mayManage(app)
}

// mayManage fails unless the caller owns app or is a directory administrator.
func (q *request) mayManage(app identity.Application) error {
	if q.h.isAdmin(q.caller) {
		return nil
	}
	owner, err := q.h.owners.isOwner(q.r.Context(), app.TenantID, app.AppID, q.caller.ObjectID)
	if err != nil {
		return err
	}
	if !owner {
		return denied()
	}
	return nil
}

// applicationBody is a POST or PATCH body. Properties Keystage cannot honour are refused
// when given a value, rather than dropped.
type applicationBody struct {
	DisplayName         *string        `json:"displayName"`
	SignInAudience      *string        `json:"signInAudience"`
	Description         *string        `json:"description"`
	Notes               *string        `json:"notes"`
	Tags                []string       `json:"tags"`
	IdentifierURIs      []string       `json:"identifierUris"`
	PasswordCredentials []any          `json:"passwordCredentials"`
	KeyCredentials      []any          `json:"keyCredentials"`
	RequiredAccess      []any          `json:"requiredResourceAccess"`
	AppRoles            []any          `json:"appRoles"`
	Web                 map[string]any `json:"web"`
	SPA                 map[string]any `json:"spa"`
	PublicClient        map[string]any `json:"publicClient"`
	API                 map[string]any `json:"api"`
}

func (b *applicationBody) check() error {
	if b.SignInAudience != nil && *b.SignInAudience != "AzureADMyOrg" {
		return badRequest("signInAudience '%s' is not supported: Keystage applications sign in to their own tenant only (AzureADMyOrg).", clip(*b.SignInAudience))
	}
	unsupported := map[string]bool{
		"identifierUris": len(b.IdentifierURIs) > 0, "passwordCredentials": len(b.PasswordCredentials) > 0,
		"keyCredentials": len(b.KeyCredentials) > 0, "requiredResourceAccess": len(b.RequiredAccess) > 0,
		"appRoles": len(b.AppRoles) > 0, "web": hasValues(b.Web), "spa": hasValues(b.SPA),
		"publicClient": hasValues(b.PublicClient), "api": hasValues(b.API), "tags": len(b.Tags) > 0,
		"description": b.Description != nil && *b.Description != "", "notes": b.Notes != nil && *b.Notes != "",
	}
	var names []string
	for k, set := range unsupported {
		if set {
			names = append(names, k)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		return badRequest("Keystage does not support the application properties %s; use addPassword and federatedIdentityCredentials for credentials.", strings.Join(names, ", "))
	}
	return nil
}

// hasValues reports whether a complex property carries any non-empty value.
func hasValues(m map[string]any) bool {
	for _, v := range m {
		switch v := v.(type) {
		case nil:
		case []any:
			if len(v) > 0 {
				return true
			}
		case map[string]any:
			if hasValues(v) {
				return true
			}
		case string:
			if v != "" {
				return true
			}
		case bool:
			if v {
				return true
			}
		default:
			return true
		}
	}
	return false
}

func (q *request) createApplication() error {
	var b applicationBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.DisplayName == nil || strings.TrimSpace(*b.DisplayName) == "" {
		return badRequest("Property 'displayName' is required.")
	}
	if err := b.check(); err != nil {
		return err
	}
	ctx := q.r.Context()
	app, err := q.h.dir.CreateApplication(ctx, q.caller.TenantID, *b.DisplayName)
	if err != nil {
		return err
	}
	if err := q.h.owners.set(ctx, app.TenantID, app.AppID, []string{strings.ToLower(q.caller.ObjectID)}); err != nil {
		_ = q.h.dir.DeleteApplication(ctx, app.TenantID, app.AppID)
		return err
	}
	q.h.log.Info("application registered", "tenant", app.TenantID, "app_id", app.AppID, "owner", q.caller.ObjectID)
	out, err := q.renderApplication(app, false)
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", q.baseURL()+"/v1.0/applications/"+app.ObjectID)
	writeJSON(q.w, http.StatusCreated, withContext(out, "applications/$entity"))
	return nil
}

func (q *request) getApplication(ref appRef) error {
	app, err := q.resolveApp(ref)
	if err != nil {
		return err
	}
	out, err := q.renderApplication(app, false)
	if err != nil {
		return err
	}
	writeJSON(q.w, http.StatusOK, withContext(out, "applications/$entity"))
	return nil
}

func (q *request) patchApplication(ref appRef) error {
	var b applicationBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	app, err := q.managedApp(ref)
	if err != nil {
		return err
	}
	if b.DisplayName != nil && *b.DisplayName != app.DisplayName {
		return fault.New(fault.BadRequest, "Request_BadRequest", "Renaming an application is not supported by Keystage yet.")
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) deleteApplication(ref appRef) error {
	app, err := q.managedApp(ref)
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	if err := q.h.dir.DeleteApplication(ctx, app.TenantID, app.AppID); err != nil {
		return err
	}
	if err := q.h.owners.drop(ctx, app.TenantID, app.AppID); err != nil {
		q.h.log.Warn("could not drop the owners of a deleted application", "app_id", app.AppID, "err", err)
	}
	q.h.log.Info("application deleted", "tenant", app.TenantID, "app_id", app.AppID, "caller", q.caller.ObjectID)
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) listApplications() error {
	f, err := parseListFilter(q.query("$filter"), "appId", "displayName", "id")
	if err != nil {
		return err
	}
	apps, err := q.h.dir.Applications(q.r.Context(), q.caller.TenantID)
	if err != nil {
		return err
	}
	var out []applicationJSON
	for _, a := range apps {
		if !f.match(map[string]string{"appId": a.AppID, "displayName": a.DisplayName, "id": a.ObjectID}, nil) {
			continue
		}
		j, err := q.renderApplication(a, false)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	return writePage(q, "applications", out, func(a applicationJSON) string { return a.ID })
}

type addPasswordBody struct {
	PasswordCredential *struct {
		DisplayName   string  `json:"displayName"`
		EndDateTime   *string `json:"endDateTime"`
		StartDateTime *string `json:"startDateTime"`
	} `json:"passwordCredential"`
}

// addPassword creates a client secret and returns it, with its value, this once.
func (q *request) addPassword(ref appRef) error {
	var b addPasswordBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	app, err := q.managedApp(ref)
	if err != nil {
		return err
	}
	var opts identity.SecretOptions
	if pc := b.PasswordCredential; pc != nil {
		opts.DisplayName = pc.DisplayName
		if pc.StartDateTime != nil {
			return badRequest("startDateTime is not supported: a Keystage secret is valid from its creation.")
		}
		if pc.EndDateTime != nil {
			end, err := time.Parse(time.RFC3339, *pc.EndDateTime)
			if err != nil {
				return badRequest("endDateTime '%s' is not an RFC 3339 time.", clip(*pc.EndDateTime))
			}
			opts.EndDateTime = &end // the identity service refuses an end in the past
		}
	}
	n, err := q.h.dir.AddClientSecret(q.r.Context(), app.TenantID, app.AppID, opts)
	if err != nil {
		return err
	}
	q.w.Header().Set("Cache-Control", "no-store")
	writeJSON(q.w, http.StatusOK, withContext(renderPassword(n.ClientSecret, &n.SecretText), "microsoft.graph.passwordCredential"))
	return nil
}

func (q *request) removePassword(ref appRef) error {
	var b struct {
		KeyID string `json:"keyId"`
	}
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.KeyID == "" {
		return badRequest("Property 'keyId' is required.")
	}
	app, err := q.managedApp(ref)
	if err != nil {
		return err
	}
	err = q.h.dir.RemoveClientSecret(q.r.Context(), app.TenantID, app.AppID, b.KeyID)
	if errors.Is(err, identity.ErrNotFound) {
		return badRequest("No password credential with keyId '%s' exists on the application.", clip(b.KeyID))
	}
	if err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// listOwners lists the owners of an application as directory objects.
func (q *request) listOwners(ref appRef) error {
	app, err := q.resolveApp(ref)
	if err != nil {
		return err
	}
	ids, err := q.h.owners.get(q.r.Context(), app.TenantID, app.AppID)
	if err != nil {
		return err
	}
	var out []servicePrincipalJSON
	for _, id := range ids {
		sp, err := q.lookupPrincipal(id)
		if err != nil {
			continue // an owner that was deleted since
		}
		out = append(out, sp)
	}
	return writePage(q, "directoryObjects", out, func(s servicePrincipalJSON) string { return s.ID })
}
