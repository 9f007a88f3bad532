package devopshttp

import (
	"errors"
	"io"
	"net/http"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/fault"
)

// OIDCArea serves workload identity federation (devops.md §6, identity.md §1): the
// oidctoken endpoint jobs call with their access token, and each organization's issuer
// documents at {server}/_oidc/{orgId}/.well-known/openid-configuration and /jwks, read by
// the identity provider (or any verifier) without authentication.
func OIDCArea(h *Handler, svc *oidc.Service) Area {
	a := &oidcAPI{h: h, svc: svc}
	return Area{
		Name: "oidc",
		Routes: []Route{
			{Location: LocOIDCToken, Method: http.MethodPost, Access: AccessAuthenticated, Handle: a.createToken},
			{Location: LocOIDCToken, Method: http.MethodGet, Access: AccessAnonymous, Handle: a.getNotAllowed},
			{Template: "_oidc/{orgId}" + oidc.DiscoveryPath, Server: true, Method: http.MethodGet, Access: AccessAnonymous, Handle: a.discovery},
			{Template: "_oidc/{orgId}" + oidc.JWKSPath, Server: true, Method: http.MethodGet, Access: AccessAnonymous, Handle: a.jwks},
		},
	}
}

type oidcAPI struct {
	h   *Handler
	svc *oidc.Service
}

// createToken serves POST {scopeIdentifier}/_apis/distributedtask/hubs/{hubName}/plans/
// {planId}/jobs/{jobId}/oidctoken?serviceConnectionId=…: {"oidcToken":"…"}.
func (a *oidcAPI) createToken(rq *Request) error {
	raw, err := credential(rq.R.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(rq.W, rq.R.Body, oidc.MaxBodyBytes+1))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return fault.New(fault.TooLarge, devops.CodeArgument, "The request body is larger than %d bytes.", oidc.MaxBodyBytes)
		}
		return devops.BadRequest("The request body could not be read.")
	}
	claims, err := oidc.DecodeClaims(body)
	if err != nil {
		return err
	}
	scope, _ := rq.Value("scopeIdentifier")
	hub, _ := rq.Value("hubName")
	plan, _ := rq.Value("planId")
	jobID, _ := rq.Value("jobId")
	tok, err := a.svc.CreateToken(rq.R.Context(), oidc.TokenRequest{
		OrgID: rq.Org.ID, ProjectID: scope, Hub: hub, PlanID: plan, JobID: jobID,
		ServiceConnectionID: rq.Query("serviceConnectionId"), JobToken: raw, Claims: claims,
	})
	if err != nil {
		return err
	}
	return rq.OK(struct {
		OIDCToken string `json:"oidcToken"`
	}{tok.Raw})
}

// getNotAllowed answers GET as Azure DevOps does: 405 with an ASP.NET-shaped body.
func (a *oidcAPI) getNotAllowed(rq *Request) error {
	rq.W.Header().Set("Allow", http.MethodPost)
	return rq.JSON(http.StatusMethodNotAllowed, struct {
		Count int `json:"count"`
		Value struct {
			Message string `json:"Message"`
		} `json:"value"`
	}{Count: 1, Value: struct {
		Message string `json:"Message"`
	}{"The requested resource does not support http method 'GET'."}})
}

// issuerOrg returns the organization an issuer path names by id.
func (a *oidcAPI) issuerOrg(rq *Request) (devops.Organization, error) {
	id, _ := rq.Value("orgId")
	org, err := a.h.svc.Organization(rq.R.Context(), id)
	if err != nil || org.ID != id {
		return devops.Organization{}, fault.New(fault.NotFound, devops.CodeHostNotFound, "No organization has the issuer %s.", clip(id)).Wrap(devops.ErrNotFound)
	}
	return org, nil
}

func (a *oidcAPI) discovery(rq *Request) error {
	org, err := a.issuerOrg(rq)
	if err != nil {
		return err
	}
	return rq.OK(a.svc.Issuer().Discovery(org.ID))
}

func (a *oidcAPI) jwks(rq *Request) error {
	org, err := a.issuerOrg(rq)
	if err != nil {
		return err
	}
	set, err := a.svc.Issuer().JWKS(rq.R.Context(), org.ID)
	if err != nil {
		return err
	}
	return rq.OK(set)
}
