package kvhttp

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/keyvault"
)

// serve performs an authenticated, authorized operation.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, c *call, v *Vault, vw view, apiVersion string) {
	ctx := r.Context()
	rt := &c.route
	switch rt.op {
	case authz.SecretGet:
		if _, ok := queryValue(r.URL.RawQuery, "outContentType"); ok {
			h.fail(w, c, keyvault.BadParameter("outContentType applies only to secrets that back certificates; Keystage has no certificates."))
			return
		}
		s, err := h.svc.Get(ctx, v.Vault, rt.name, rt.version)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		b := vw.bundle(&s.Properties, true)
		b.Value = &s.Value
		h.writeJSON(w, c, http.StatusOK, b)

	case authz.SecretSet:
		var p wireSetParams
		if err := decodeBody(w, r, maxBodyBytes, &p); err != nil {
			h.fail(w, c, err)
			return
		}
		if p.Value == nil {
			h.fail(w, c, keyvault.BadParameter("The request body has no value: setting a secret needs a string property \"value\"."))
			return
		}
		params := keyvault.SetParams{Value: *p.Value, Tags: p.Tags, Enabled: p.Attributes.enabled()}
		if p.ContentType != nil {
			params.ContentType = *p.ContentType
		}
		params.NotBefore, params.Expires = p.Attributes.times()
		s, err := h.svc.Set(ctx, v.Vault, rt.name, params)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		c.route.version = s.Version
		b := vw.bundle(&s.Properties, true)
		b.Value = &s.Value
		h.writeJSON(w, c, http.StatusOK, b)

	case authz.SecretUpdate:
		var p wireUpdateParams
		if err := decodeBody(w, r, maxBodyBytes, &p); err != nil {
			h.fail(w, c, err)
			return
		}
		params := keyvault.UpdateParams{ContentType: p.ContentType, Enabled: p.Attributes.enabled()}
		if p.Tags != nil {
			params.Tags = *p.Tags
			if params.Tags == nil {
				params.Tags = map[string]string{}
			}
		}
		params.NotBefore, params.Expires = p.Attributes.times()
		props, err := h.svc.Update(ctx, v.Vault, rt.name, rt.version, params)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		h.writeJSON(w, c, http.StatusOK, vw.bundle(&props, true))

	case authz.SecretList, authz.SecretListVersions, authz.SecretListDeleted:
		h.list(w, r, c, v, vw, apiVersion)

	case authz.SecretDelete:
		d, err := h.svc.Delete(ctx, v.Vault, rt.name)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		h.writeJSON(w, c, http.StatusOK, vw.deleted(&d, true))

	case authz.SecretGetDeleted:
		d, err := h.svc.GetDeleted(ctx, v.Vault, rt.name)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		h.writeJSON(w, c, http.StatusOK, vw.deleted(&d, true))

	case authz.SecretRecover:
		props, err := h.svc.Recover(ctx, v.Vault, rt.name)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		h.writeJSON(w, c, http.StatusOK, vw.bundle(&props, true))

	case authz.SecretPurge:
		if err := h.svc.Purge(ctx, v.Vault, rt.name); err != nil {
			h.fail(w, c, err)
			return
		}
		h.noContent(w, c)

	case authz.SecretBackup:
		blob, err := h.svc.Backup(ctx, v.Vault, rt.name)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		h.writeJSON(w, c, http.StatusOK, wireBackup{Value: base64.RawURLEncoding.EncodeToString(blob)})

	case authz.SecretRestore:
		var p wireRestoreParams
		if err := decodeBody(w, r, maxRestoreBytes, &p); err != nil {
			h.fail(w, c, err)
			return
		}
		if p.Value == nil {
			h.fail(w, c, keyvault.BadParameter("The request body has no value: restoring needs the backup blob as \"value\"."))
			return
		}
		blob, err := base64.RawURLEncoding.DecodeString(*p.Value)
		if err != nil {
			h.fail(w, c, keyvault.BadParameter("The backup blob is not unpadded base64url."))
			return
		}
		props, err := h.svc.Restore(ctx, v.Vault, blob)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		c.route.name, c.route.version = props.Name, props.Version
		h.writeJSON(w, c, http.StatusOK, vw.bundle(&props, true))
	}
}

// list serves the three listings: maxresults (1–25, default 25) and $skiptoken from the
// query, an absolute nextLink in the answer.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, c *call, v *Vault, vw view, apiVersion string) {
	req, err := pageRequest(r.URL.RawQuery)
	if err != nil {
		h.fail(w, c, err)
		return
	}
	ctx := r.Context()
	out := wireList{Value: []wireBundle{}}
	switch c.route.op {
	case authz.SecretList:
		page, err := h.svc.List(ctx, v.Vault, req)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		for i := range page.Items {
			out.Value = append(out.Value, vw.bundle(&page.Items[i], false))
		}
		out.NextLink = vw.nextLink("/secrets", apiVersion, page.Next, pageSize(req))
	case authz.SecretListVersions:
		page, err := h.svc.ListVersions(ctx, v.Vault, c.route.name, req)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		for i := range page.Items {
			out.Value = append(out.Value, vw.bundle(&page.Items[i], true))
		}
		out.NextLink = vw.nextLink("/secrets/"+c.route.name+"/versions", apiVersion, page.Next, pageSize(req))
	case authz.SecretListDeleted:
		page, err := h.svc.ListDeleted(ctx, v.Vault, req)
		if err != nil {
			h.fail(w, c, err)
			return
		}
		for i := range page.Items {
			out.Value = append(out.Value, vw.deleted(&page.Items[i], false))
		}
		out.NextLink = vw.nextLink("/deletedsecrets", apiVersion, page.Next, pageSize(req))
	}
	h.writeJSON(w, c, http.StatusOK, out)
}

func pageSize(req keyvault.PageRequest) int {
	if req.Max == 0 {
		return keyvault.MaxPageSize
	}
	return req.Max
}

// pageRequest reads maxresults and $skiptoken.
func pageRequest(rawQuery string) (keyvault.PageRequest, error) {
	var req keyvault.PageRequest
	if s, ok := queryValue(rawQuery, "maxresults"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > keyvault.MaxPageSize {
			return req, keyvault.BadParameter("maxresults must be an integer between 1 and %d.", keyvault.MaxPageSize)
		}
		req.Max = n
	}
	if s, ok := queryValue(rawQuery, "$skiptoken"); ok && s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return req, keyvault.BadParameter("The $skiptoken is not valid for this listing.")
		}
		req.After = string(b)
	}
	return req, nil
}
