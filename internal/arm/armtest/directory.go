// Package armtest provides an in-memory arm.Directory for the management plane's unit tests;
// integration tests use the real identity service instead.
package armtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/fault"
)

// Directory is an in-memory arm.Directory. The zero value is not usable; call NewDirectory.
// It is safe for concurrent use.
type Directory struct {
	mu         sync.Mutex
	principals map[string]arm.PrincipalType // tenant/object -> type
	groups     map[string][]string          // tenant/object -> group ids
	clients    map[string]string            // tenant/client id -> principal id of managed identities
	fics       map[string]map[string]arm.FederatedCredential
	// FailNext, when set, is returned (once) by the next call that writes.
	FailNext error
}

var _ arm.Directory = (*Directory)(nil)

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{principals: map[string]arm.PrincipalType{}, groups: map[string][]string{}, clients: map[string]string{}, fics: map[string]map[string]arm.FederatedCredential{}}
}

func key(tenant, object string) string {
	return strings.ToLower(tenant) + "/" + strings.ToLower(object)
}

// AddPrincipal registers a principal of type typ and returns its object id.
func (d *Directory) AddPrincipal(tenant string, typ arm.PrincipalType) string {
	id := uuid.NewString()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.principals[key(tenant, id)] = typ
	return id
}

// AddMember makes object a member of group.
func (d *Directory) AddMember(tenant, group, object string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.groups[key(tenant, object)] = append(d.groups[key(tenant, object)], strings.ToLower(group))
}

func (d *Directory) fail() error {
	err := d.FailNext
	d.FailNext = nil
	return err
}

func (d *Directory) LookupPrincipal(_ context.Context, tenant, object string) (arm.PrincipalType, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.principals[key(tenant, object)]
	if !ok {
		return "", fmt.Errorf("armtest: %s: %w", object, arm.ErrPrincipalNotFound)
	}
	return t, nil
}

func (d *Directory) GroupsOf(_ context.Context, tenant, object string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.groups[key(tenant, object)]), nil
}

func (d *Directory) CreateManagedIdentity(_ context.Context, tenant, resourceID string) (arm.ManagedIdentity, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail(); err != nil {
		return arm.ManagedIdentity{}, err
	}
	mi := arm.ManagedIdentity{PrincipalID: uuid.NewString(), ClientID: uuid.NewString()}
	d.principals[key(tenant, mi.PrincipalID)] = arm.PrincipalServicePrincipal
	d.clients[key(tenant, mi.ClientID)] = mi.PrincipalID
	return mi, nil
}

func (d *Directory) DeleteManagedIdentity(_ context.Context, tenant, clientID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail(); err != nil {
		return err
	}
	delete(d.principals, key(tenant, d.clients[key(tenant, clientID)]))
	delete(d.clients, key(tenant, clientID))
	delete(d.fics, key(tenant, clientID))
	return nil
}

// ManagedIdentityExists reports whether the managed identity with clientID exists.
func (d *Directory) ManagedIdentityExists(tenant, clientID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.clients[key(tenant, clientID)]
	return ok
}

func (d *Directory) PutFederatedCredential(_ context.Context, tenant, clientID string, fc arm.FederatedCredential) (arm.FederatedCredential, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail(); err != nil {
		return arm.FederatedCredential{}, false, err
	}
	if fc.Issuer == "" || fc.Subject == "" || len(fc.Audiences) != 1 {
		return arm.FederatedCredential{}, false, fault.New(fault.BadRequest, "BadRequest", "issuer, subject and exactly one audience are required")
	}
	k := key(tenant, clientID)
	if d.fics[k] == nil {
		d.fics[k] = map[string]arm.FederatedCredential{}
	}
	_, existed := d.fics[k][fc.Name]
	d.fics[k][fc.Name] = fc
	return fc, !existed, nil
}

func (d *Directory) GetFederatedCredential(_ context.Context, tenant, clientID, name string) (arm.FederatedCredential, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fc, ok := d.fics[key(tenant, clientID)][name]
	if !ok {
		return arm.FederatedCredential{}, arm.ErrFederatedCredentialNotFound
	}
	return fc, nil
}

func (d *Directory) ListFederatedCredentials(_ context.Context, tenant, clientID string) ([]arm.FederatedCredential, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []arm.FederatedCredential
	for _, fc := range d.fics[key(tenant, clientID)] {
		out = append(out, fc)
	}
	slices.SortFunc(out, func(a, b arm.FederatedCredential) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (d *Directory) DeleteFederatedCredential(_ context.Context, tenant, clientID, name string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.fics[key(tenant, clientID)][name]
	delete(d.fics[key(tenant, clientID)], name)
	return ok, nil
}

func (d *Directory) IssueIdentityEndpointCredential(_ context.Context, tenant, clientID string) (arm.IdentityEndpointCredential, error) {
	return arm.IdentityEndpointCredential{Endpoint: "https://localhost/identity", Header: uuid.NewString(), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
