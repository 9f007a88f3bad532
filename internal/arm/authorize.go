package arm

import (
	"strings"

	"github.com/keystage/keystage/internal/authz"
	"github.com/keystage/keystage/internal/fault"
)

// Scope strings of the resource hierarchy.
func subscriptionScope(sub string) string { return "/subscriptions/" + sub }
func groupScope(sub, group string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group
}
func resourceScope(sub, group, resourceType, name string) string {
	return groupScope(sub, group) + "/providers/" + resourceType + "/" + name
}

// authorize checks that the caller may perform the control-plane action at scope, returning
// ARM's AuthorizationFailed (403) when it may not. A scope inside a subscription of another
// tenant than the caller's fails with InvalidAuthenticationTokenTenant (401), as ARM does.
func (s *Service) authorize(c Caller, scope, action string) error {
	sc, err := authz.ParseScope(scope)
	if err != nil {
		return errInvalidParameter("The scope '%s' is not valid: %s.", clip(scope), strings.TrimPrefix(err.Error(), "authz: "))
	}
	return s.authorizeRequest(c, &authz.Request{Action: action, Scope: sc})
}

// authorizeRequest is authorize for a prepared request (role-assignment writes carry
// attributes for ABAC conditions). It fills req.Principal from c.
func (s *Service) authorizeRequest(c Caller, req *authz.Request) error {
	if err := s.checkTenant(c, req.Scope); err != nil {
		return err
	}
	req.Principal = authz.Principal{ObjectID: c.ObjectID}
	d := s.check(req)
	if d.Allowed {
		return nil
	}
	return errAuthorizationFailed(c, req.Action, req.Scope.String())
}

// checkTenant refuses a caller whose tenant is not the tenant of the subscription scope
// lies in.
func (s *Service) checkTenant(c Caller, scope authz.Scope) error {
	id := scope.SubscriptionID()
	if id == "" {
		return nil
	}
	sub, ok := s.cache.subscription(id)
	if !ok || strings.EqualFold(sub.TenantID, c.TenantID) {
		return nil // a missing subscription is reported by the operation itself
	}
	return fault.New(fault.Unauthorized, "InvalidAuthenticationTokenTenant",
		"The access token is from the wrong issuer. It must match the tenant '%s' associated with this subscription. Please use the authority (URL) '%s' to get the token.",
		sub.TenantID, sub.TenantID)
}

// allowed reports whether the caller may perform action at scope, for filtering lists.
func (s *Service) allowed(c Caller, scope, action string) bool {
	return s.authorize(c, scope, action) == nil
}

// allowedAt is allowed for a parsed scope.
func (s *Service) allowedAt(c Caller, scope authz.Scope, action string) bool {
	return s.authorizeRequest(c, &authz.Request{Action: action, Scope: scope}) == nil
}

// denied returns the AuthorizationFailed error for action at scope.
func (s *Service) denied(c Caller, scope, action string) error {
	return errAuthorizationFailed(c, action, scope)
}

// canSeeSubscription reports whether the caller holds any role assignment at, above or
// below subscription sub; ARM lists and shows a subscription only to such callers.
func (s *Service) canSeeSubscription(c Caller, sub string) bool {
	if cached, ok := s.cache.subscription(sub); !ok || !strings.EqualFold(cached.TenantID, c.TenantID) {
		return false
	}
	scope, err := authz.ParseScope(subscriptionScope(sub))
	if err != nil {
		return false
	}
	for _, a := range s.cache.rbac.Load().byPrincipal[strings.ToLower(c.ObjectID)] {
		if a.Scope.Contains(scope) || scope.Contains(a.Scope) {
			return true
		}
	}
	return false
}

// errAuthorizationFailed is ARM's 403 for a denied control-plane action, worded by authz.
// ARM names a service principal caller by its object id twice.
func errAuthorizationFailed(c Caller, action, scope string) error {
	return authz.AuthorizationFailed("", c.ObjectID, action, scope)
}
