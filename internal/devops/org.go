package devops

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Organization is an Azure DevOps organization (a project collection). Its name is the
// first path segment of its URL and is matched case-insensitively; Name keeps the spelling
// it was created with.
type Organization struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Owners      []PrincipalRef `json:"owners"`
	CreatedBy   IdentityRef    `json:"createdBy"`
	Created     time.Time      `json:"created"`
}

// NewOrganization is what CreateOrganization needs.
type NewOrganization struct {
	Name        string
	Description string
	// Owners manage the organization; the Keystage administrator always may.
	Owners []PrincipalRef
}

// CreateOrganization creates an organization with the built-in agent pools (the default
// and the hosted pool). Names are 1–50 letters, digits and hyphens, starting and ending
// with a letter or digit, not GUID-shaped and not a path segment the server reserves.
func (s *Service) CreateOrganization(ctx context.Context, by IdentityRef, n NewOrganization) (Organization, error) {
	if err := s.checkOrgName(n.Name); err != nil {
		return Organization{}, err
	}
	if len(n.Description) > 1024 {
		return Organization{}, BadRequest("The organization description is longer than 1024 characters.")
	}
	owners := make([]PrincipalRef, 0, len(n.Owners))
	for _, o := range n.Owners {
		ref, err := o.normalized()
		if err != nil {
			return Organization{}, err
		}
		if !slices.Contains(owners, ref) {
			owners = append(owners, ref)
		}
	}
	org := Organization{
		ID: newID(), Name: n.Name, Description: n.Description, Owners: owners,
		CreatedBy: by, Created: s.now().UTC(),
	}
	err := s.st.Update(ctx, func(tx storage.Store) error {
		if ok, err := exists(ctx, tx, orgNameKey(org.Name)); err != nil {
			return err
		} else if ok {
			return fault.New(fault.Conflict, CodeOrganizationExists, "The organization name %s is already in use.", org.Name)
		}
		if err := storage.PutJSON(ctx, tx, orgKey(org.ID), org); err != nil {
			return err
		}
		if err := tx.Put(ctx, orgNameKey(org.Name), []byte(org.ID)); err != nil {
			return err
		}
		for _, name := range []string{s.cfg.DefaultPoolName, s.cfg.HostedPoolName} {
			hosted := name == s.cfg.HostedPoolName
			if _, err := s.addPool(ctx, tx, org, by, NewPool{Name: name, AutoProvision: true}, hosted); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Organization{}, storageError("create organization", err)
	}
	s.log.InfoContext(ctx, "organization created", "org", org.Name, "id", org.ID)
	return org, nil
}

// Organization returns the organization named nameOrID (case-insensitively) or with that
// id.
func (s *Service) Organization(ctx context.Context, nameOrID string) (Organization, error) {
	return s.organization(ctx, s.st, nameOrID)
}

func (s *Service) organization(ctx context.Context, st storage.Store, nameOrID string) (Organization, error) {
	id, isID := normalizeGUID(nameOrID)
	if !isID {
		if !validOrgName(nameOrID) {
			return Organization{}, orgNotFound(nameOrID)
		}
		var err error
		id, err = getString(ctx, st, orgNameKey(nameOrID))
		if errors.Is(err, storage.ErrNotFound) {
			return Organization{}, orgNotFound(nameOrID)
		}
		if err != nil {
			return Organization{}, storageError("get organization", err)
		}
	}
	var org Organization
	err := storage.GetJSON(ctx, st, orgKey(id), &org)
	if errors.Is(err, storage.ErrNotFound) {
		return Organization{}, orgNotFound(nameOrID)
	}
	if err != nil {
		return Organization{}, storageError("get organization", err)
	}
	return org, nil
}

func orgNotFound(name string) error {
	return notFound(CodeHostNotFound, "The organization %s does not exist.", clip(name))
}

// Organizations lists every organization, by name.
func (s *Service) Organizations(ctx context.Context) ([]Organization, error) {
	orgs, err := storage.ListJSON[Organization](ctx, s.st, orgsPrefix, "", 0)
	if err != nil {
		return nil, storageError("list organizations", err)
	}
	slices.SortFunc(orgs, func(a, b Organization) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return orgs, nil
}

// SetOrganizationOwners replaces the organization's owners.
func (s *Service) SetOrganizationOwners(ctx context.Context, orgID string, owners []PrincipalRef) (Organization, error) {
	norm := make([]PrincipalRef, 0, len(owners))
	for _, o := range owners {
		ref, err := o.normalized()
		if err != nil {
			return Organization{}, err
		}
		if !slices.Contains(norm, ref) {
			norm = append(norm, ref)
		}
	}
	var org Organization
	err := s.st.Update(ctx, func(tx storage.Store) error {
		var err error
		if org, err = s.organization(ctx, tx, orgID); err != nil {
			return err
		}
		org.Owners = norm
		return storage.PutJSON(ctx, tx, orgKey(org.ID), org)
	})
	if err != nil {
		return Organization{}, storageError("set organization owners", err)
	}
	return org, nil
}

// DeleteOrganization deletes the organization and everything in it: each project (with
// its hooks), then every key under OrgPrefix, then the organization itself. It can be
// retried after a failure and resumes where it stopped.
func (s *Service) DeleteOrganization(ctx context.Context, orgID string) error {
	org, err := s.Organization(ctx, orgID)
	if err != nil {
		return err
	}
	projects, err := s.projects(ctx, org.ID)
	if err != nil {
		return err
	}
	for _, p := range projects {
		if err := s.deleteProject(ctx, org, p); err != nil {
			return err
		}
	}
	if err := storage.DeletePrefixBatched(ctx, s.st, OrgPrefix(org.ID)); err != nil {
		return storageError("delete organization", err)
	}
	err = s.st.Update(ctx, func(tx storage.Store) error {
		if err := tx.Delete(ctx, orgNameKey(org.Name)); err != nil {
			return err
		}
		return tx.Delete(ctx, orgKey(org.ID))
	})
	if err != nil {
		return storageError("delete organization", err)
	}
	s.log.InfoContext(ctx, "organization deleted", "org", org.Name, "id", org.ID)
	return nil
}

// checkOrgName applies Azure DevOps' organization name rules plus Keystage's: the name is
// the first path segment of every URL in the organization, so it must not be GUID-shaped
// (the identity provider's tenants) nor a reserved segment.
func (s *Service) checkOrgName(name string) error {
	if !validOrgName(name) {
		return BadRequest("The organization name %q is invalid: use 1 to 50 letters, digits and hyphens, starting and ending with a letter or digit.", clip(name))
	}
	if _, ok := normalizeGUID(name); ok {
		return BadRequest("The organization name %s is invalid: names shaped like GUIDs are reserved for directory tenants.", name)
	}
	if s.cfg.ReservedName != nil && s.cfg.ReservedName(strings.ToLower(name)) {
		return BadRequest("The organization name %s is reserved by Keystage for another API.", name)
	}
	return nil
}

func validOrgName(name string) bool {
	if len(name) == 0 || len(name) > 50 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}
