package devopshttp

import (
	"net/http"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
)

// Personal access tokens follow Azure DevOps' PAT lifecycle API, served under the
// organization (Azure serves it on vssps.dev.azure.com/{org}):
//
//	POST   /{org}/_apis/tokens/pats                     {displayName, scope, validTo, allOrgs}
//	GET    /{org}/_apis/tokens/pats                     the caller's tokens (values never shown)
//	DELETE /{org}/_apis/tokens/pats?authorizationId=    revoke (204)
//
// As in Azure DevOps, only an access token (not a PAT) may manage PATs, and the caller must
// be allowed to read the organization. A token is valid for this organization only unless
// allOrgs is true.
func (h *Handler) patsArea() Area {
	const tmpl = "_apis/tokens/pats"
	return Area{Name: "pats", Routes: []Route{
		{Template: tmpl, Method: http.MethodPost, Access: AccessAuthenticated, Handle: h.createPAT},
		{Template: tmpl, Method: http.MethodGet, Access: AccessAuthenticated, Handle: h.listPATs},
		{Template: tmpl, Method: http.MethodDelete, Access: AccessAuthenticated, Handle: h.revokePAT},
	}}
}

type patJSON struct {
	DisplayName     string    `json:"displayName"`
	ValidTo         time.Time `json:"validTo"`
	Scope           string    `json:"scope"`
	TargetAccounts  []string  `json:"targetAccounts"`
	ValidFrom       time.Time `json:"validFrom"`
	AuthorizationID string    `json:"authorizationId"`
	Token           *string   `json:"token"`
}

func renderPAT(p devops.PAT) patJSON {
	targets := []string{}
	if p.OrgID != "" {
		targets = append(targets, p.OrgID)
	}
	return patJSON{DisplayName: p.DisplayName, ValidTo: p.ValidTo, Scope: p.Scope(), TargetAccounts: targets,
		ValidFrom: p.ValidFrom, AuthorizationID: p.ID}
}

// patCaller checks that the caller may manage PATs here.
func patCaller(rq *Request) error {
	if rq.Caller.Kind != devops.CallerToken {
		return fault.New(fault.Forbidden, devops.CodeAccessDenied,
			"Personal access tokens can only be managed with an access token from the identity provider, not with a personal access token or a job token.")
	}
	return rq.Authorize(devops.Read)
}

func (h *Handler) createPAT(rq *Request) error {
	if err := patCaller(rq); err != nil {
		return err
	}
	var b struct {
		DisplayName string    `json:"displayName"`
		Scope       string    `json:"scope"`
		ValidTo     time.Time `json:"validTo"`
		AllOrgs     bool      `json:"allOrgs"`
	}
	if err := rq.Decode(&b); err != nil {
		return err
	}
	n := devops.NewPAT{DisplayName: b.DisplayName, Scope: b.Scope, ValidTo: b.ValidTo, OrgID: rq.Org.ID}
	if b.AllOrgs {
		n.OrgID = ""
	}
	tok, err := h.svc.CreatePAT(rq.R.Context(), rq.Caller.Identity(), n)
	if err != nil {
		return err
	}
	out := renderPAT(tok.PAT)
	out.Token = &tok.Token
	return rq.OK(map[string]any{"patToken": out, "patTokenError": "none"})
}

func (h *Handler) listPATs(rq *Request) error {
	if err := patCaller(rq); err != nil {
		return err
	}
	pats, err := h.svc.PATs(rq.R.Context(), rq.Caller.Principal)
	if err != nil {
		return err
	}
	out := []patJSON{}
	for _, p := range pats {
		out = append(out, renderPAT(p))
	}
	return rq.OK(map[string]any{"patTokens": out, "continuationToken": ""})
}

func (h *Handler) revokePAT(rq *Request) error {
	if err := patCaller(rq); err != nil {
		return err
	}
	id := rq.Query("authorizationId")
	if id == "" {
		return devops.BadRequest("authorizationId is required.")
	}
	if err := h.svc.RevokePAT(rq.R.Context(), rq.Caller.Principal, id); err != nil {
		return err
	}
	return rq.NoContent()
}
