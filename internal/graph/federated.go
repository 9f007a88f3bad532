package graph

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/identity"
)

type ficJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Issuer      string   `json:"issuer"`
	Subject     string   `json:"subject"`
	Description *string  `json:"description"`
	Audiences   []string `json:"audiences"`
}

// ficNamespace derives the stable GUID Graph shows as a federated credential's id from its
// application and name (the identity service keys credentials by name).
var ficNamespace = uuid.MustParse("3f0cbb8e-8f5e-4c66-9d7a-6a2f0f1d1c57")

func ficID(app identity.Application, name string) string {
	return uuid.NewSHA1(ficNamespace, []byte(app.TenantID+"/"+app.AppID+"/"+strings.ToLower(name))).String()
}

func renderFIC(app identity.Application, f identity.FederatedCredential) ficJSON {
	out := ficJSON{ID: ficID(app, f.Name), Name: f.Name, Issuer: f.Issuer, Subject: f.Subject, Audiences: f.Audiences}
	if out.Audiences == nil {
		out.Audiences = []string{}
	}
	if f.Description != "" {
		out.Description = &f.Description
	}
	return out
}

// findFIC returns the credential of app whose id or name is key.
func (q *request) findFIC(app identity.Application, key string) (identity.FederatedCredential, error) {
	fs, err := q.h.dir.FederatedCredentials(q.r.Context(), app.TenantID, app.AppID)
	if err != nil {
		return identity.FederatedCredential{}, err
	}
	for _, f := range fs {
		if strings.EqualFold(f.Name, key) || strings.EqualFold(ficID(app, f.Name), key) {
			return f, nil
		}
	}
	return identity.FederatedCredential{}, notFound(key)
}

type ficBody struct {
	Name        *string  `json:"name"`
	Issuer      *string  `json:"issuer"`
	Subject     *string  `json:"subject"`
	Description *string  `json:"description"`
	Audiences   []string `json:"audiences"`
}

func (q *request) listFICs(ref appRef) error {
	app, err := q.resolveApp(ref)
	if err != nil {
		return err
	}
	fs, err := q.h.dir.FederatedCredentials(q.r.Context(), app.TenantID, app.AppID)
	if err != nil {
		return err
	}
	out := make([]ficJSON, len(fs))
	for i, f := range fs {
		out[i] = renderFIC(app, f)
	}
	return writePage(q, "applications('"+app.ObjectID+"')/federatedIdentityCredentials", out, func(f ficJSON) string { return strings.ToLower(f.Name) })
}

func (q *request) getFIC(ref appRef, key string) error {
	app, err := q.resolveApp(ref)
	if err != nil {
		return err
	}
	f, err := q.findFIC(app, key)
	if err != nil {
		return err
	}
	writeJSON(q.w, http.StatusOK, withContext(renderFIC(app, f), "applications('"+app.ObjectID+"')/federatedIdentityCredentials/$entity"))
	return nil
}

func (q *request) createFIC(ref appRef) error {
	var b ficBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	if b.Name == nil || b.Issuer == nil || b.Subject == nil {
		return badRequest("Properties 'name', 'issuer', 'subject' and 'audiences' are required.")
	}
	app, err := q.managedApp(ref)
	if err != nil {
		return err
	}
	in := identity.FederatedCredential{Name: *b.Name, Issuer: *b.Issuer, Subject: *b.Subject, Audiences: b.Audiences}
	if b.Description != nil {
		in.Description = *b.Description
	}
	f, err := q.h.dir.CreateFederatedCredential(q.r.Context(), app.TenantID, app.AppID, in)
	if err != nil {
		return err
	}
	q.h.log.Info("federated identity credential created", "app_id", app.AppID, "name", f.Name, "issuer", f.Issuer, "subject", f.Subject, "caller", q.caller.ObjectID)
	writeJSON(q.w, http.StatusCreated, withContext(renderFIC(app, f), "applications('"+app.ObjectID+"')/federatedIdentityCredentials/$entity"))
	return nil
}

// patchFIC changes the given properties of a credential; its name cannot change.
func (q *request) patchFIC(ref appRef, key string) error {
	var b ficBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	app, err := q.managedApp(ref)
	if err != nil {
		return err
	}
	f, err := q.findFIC(app, key)
	if err != nil {
		return err
	}
	if b.Name != nil && !strings.EqualFold(*b.Name, f.Name) {
		return badRequest("The name of a federated identity credential cannot be changed.")
	}
	if b.Issuer != nil {
		f.Issuer = *b.Issuer
	}
	if b.Subject != nil {
		f.Subject = *b.Subject
	}
	if b.Audiences != nil {
		f.Audiences = b.Audiences
	}
	if b.Description != nil {
		f.Description = *b.Description
	}
	if _, _, err := q.h.dir.PutFederatedCredential(q.r.Context(), app.TenantID, app.AppID, f); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (q *request) deleteFIC(ref appRef, key string) error {
	app, err := q.managedApp(ref)
	if err != nil {
		return err
	}
	f, err := q.findFIC(app, key)
	if err != nil {
		return err
	}
	err = q.h.dir.DeleteFederatedCredential(q.r.Context(), app.TenantID, app.AppID, f.Name)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
