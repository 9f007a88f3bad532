package arm

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// Group is a resource group.
type Group struct {
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	ManagedBy      string            `json:"managedBy,omitempty"`
	// ProvisioningState is "Succeeded", or "Deleting" while a delete is under way (a delete
	// interrupted by a crash leaves it so; deleting again finishes the job).
	ProvisioningState string     `json:"provisioningState"`
	SystemData        SystemData `json:"systemData"`
}

// ID returns the group's resource id.
func (g *Group) ID() string {
	return "/subscriptions/" + g.SubscriptionID + "/resourceGroups/" + g.Name
}

// GroupParams are the writable properties of a resource group.
type GroupParams struct {
	Location  string
	Tags      map[string]string
	ManagedBy string
}

// GroupPatch changes some properties of a resource group; nil fields are left alone.
type GroupPatch struct {
	Tags      map[string]string // nil: unchanged; empty: remove all tags
	TagsSet   bool
	ManagedBy *string
}

const (
	actionGroupRead   = "Microsoft.Resources/subscriptions/resourceGroups/read"
	actionGroupWrite  = "Microsoft.Resources/subscriptions/resourceGroups/write"
	actionGroupDelete = "Microsoft.Resources/subscriptions/resourceGroups/delete"
)

// Tag limits from ARM's documentation.
const (
	maxTags           = 50
	maxTagNameLength  = 512
	maxTagValueLength = 256
)

// CheckGroupName validates a resource group name as ARM does: 1–90 letters, digits,
// underscores, hyphens, periods and parentheses, not ending in a period.
func CheckGroupName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > 90 || !utf8.ValidString(name) {
		return fault.New(fault.BadRequest, "InvalidResourceGroup",
			"The provided resource group name '%s' has %d characters; a name must have 1 to 90.", clip(name), n)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.()", r) {
			return fault.New(fault.BadRequest, "InvalidResourceGroup",
				"The provided resource group name '%s' has the invalid character '%c'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.", clip(name), r)
		}
	}
	if strings.HasSuffix(name, ".") {
		return fault.New(fault.BadRequest, "InvalidResourceGroup", "The provided resource group name '%s' ends with a period, which is not allowed.", clip(name))
	}
	return nil
}

// checkTags validates resource tags against ARM's limits.
func checkTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return errInvalidParameter("A resource can have at most %d tags; %d were given.", maxTags, len(tags))
	}
	for k, v := range tags {
		if k == "" || utf8.RuneCountInString(k) > maxTagNameLength || strings.ContainsAny(k, "<>%&\\?/") {
			return fault.New(fault.BadRequest, "InvalidTagNameCharacters",
				"The tag name '%s' is empty, longer than %d characters, or holds one of the characters '<,>,%%,&,\\,?,/'.", clip(k), maxTagNameLength)
		}
		if utf8.RuneCountInString(v) > maxTagValueLength {
			return fault.New(fault.BadRequest, "InvalidTagValueLength", "The value of tag '%s' is longer than %d characters.", clip(k), maxTagValueLength)
		}
	}
	return nil
}

// PutGroup creates or updates resource group name in subscription sub. created reports
// whether it is new. The location of an existing group cannot change.
func (s *Service) PutGroup(ctx context.Context, c Caller, sub, name string, p GroupParams) (g Group, created bool, err error) {
	if err := CheckGroupName(name); err != nil {
		return Group{}, false, err
	}
	if err := s.authorize(c, groupScope(sub, name), actionGroupWrite); err != nil {
		return Group{}, false, err
	}
	if strings.TrimSpace(p.Location) == "" {
		return Group{}, false, fault.New(fault.BadRequest, "LocationRequired", "The location property is required for this definition.")
	}
	loc, ok := NormalizeLocation(p.Location)
	if !ok {
		return Group{}, false, errLocationNotAvailable(p.Location, "resourceGroups")
	}
	if err := checkTags(p.Tags); err != nil {
		return Group{}, false, err
	}
	err = s.update(ctx, func(tx storage.Store, _ *changes) error {
		if _, err := s.subscription(ctx, tx, sub); err != nil {
			return err
		}
		var old Group
		err := storage.GetJSON(ctx, tx, groupKey(sub, name), &old)
		switch {
		case err == nil:
			if old.ProvisioningState == provisioningDeleting {
				return fault.New(fault.Conflict, "ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning state and cannot perform this operation.", old.Name)
			}
			if old.Location != loc {
				return fault.New(fault.Conflict, "InvalidResourceGroupLocation",
					"Invalid resource group location '%s'. The Resource group already exists in location '%s'.", loc, old.Location)
			}
			g, created = old, false
		case errors.Is(err, storage.ErrNotFound):
			g = Group{Name: name, SubscriptionID: strings.ToLower(sub), Location: loc}
			created = true
		default:
			return err
		}
		g.Tags = maps.Clone(p.Tags)
		g.ManagedBy = p.ManagedBy
		g.ProvisioningState = provisioningSucceeded
		g.SystemData = g.SystemData.touch(c, s.now().UTC())
		return storage.PutJSON(ctx, tx, groupKey(sub, name), g)
	})
	if err != nil {
		return Group{}, false, err
	}
	return g, created, nil
}

// PatchGroup updates the tags and managedBy of an existing group.
func (s *Service) PatchGroup(ctx context.Context, c Caller, sub, name string, p GroupPatch) (Group, error) {
	if err := s.authorize(c, groupScope(sub, name), actionGroupWrite); err != nil {
		return Group{}, err
	}
	if p.TagsSet {
		if err := checkTags(p.Tags); err != nil {
			return Group{}, err
		}
	}
	var g Group
	err := s.update(ctx, func(tx storage.Store, _ *changes) error {
		var err error
		if g, err = s.group(ctx, tx, sub, name); err != nil {
			return err
		}
		if p.TagsSet {
			g.Tags = maps.Clone(p.Tags)
		}
		if p.ManagedBy != nil {
			g.ManagedBy = *p.ManagedBy
		}
		g.SystemData = g.SystemData.touch(c, s.now().UTC())
		return storage.PutJSON(ctx, tx, groupKey(sub, name), g)
	})
	return g, err
}

// GetGroup returns a resource group.
func (s *Service) GetGroup(ctx context.Context, c Caller, sub, name string) (Group, error) {
	if err := s.authorize(c, groupScope(sub, name), actionGroupRead); err != nil {
		return Group{}, err
	}
	return s.group(ctx, s.store, sub, name)
}

// ListGroups returns the groups of subscription sub that the caller may read, by name.
func (s *Service) ListGroups(ctx context.Context, c Caller, sub string) ([]Group, error) {
	if _, err := s.subscription(ctx, s.store, sub); err != nil {
		return nil, err
	}
	if !s.canSeeSubscription(c, sub) {
		return nil, s.denied(c, subscriptionScope(sub), actionGroupRead)
	}
	var out []Group
	err := listJSON(ctx, s.store, prefixGroups+strings.ToLower(sub)+"/", func(_ string, g *Group) error {
		if s.allowed(c, groupScope(sub, g.Name), actionGroupRead) {
			out = append(out, *g)
		}
		return nil
	})
	if err != nil {
		return nil, storageError("list groups", err)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// group loads a group without an access check, checking its subscription first so that a
// missing subscription is reported as such.
func (s *Service) group(ctx context.Context, st storage.Store, sub, name string) (Group, error) {
	if _, err := s.subscription(ctx, st, sub); err != nil {
		return Group{}, err
	}
	var g Group
	if err := storage.GetJSON(ctx, st, groupKey(sub, name), &g); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Group{}, errGroupNotFound(name)
		}
		return Group{}, storageError("get group", err)
	}
	return g, nil
}

// liveGroup is group for writes into it: a group being deleted accepts no new resources.
func (s *Service) liveGroup(ctx context.Context, st storage.Store, sub, name string) (Group, error) {
	g, err := s.group(ctx, st, sub, name)
	if err != nil {
		return Group{}, err
	}
	if g.ProvisioningState == provisioningDeleting {
		return Group{}, fault.New(fault.Conflict, "ResourceGroupBeingDeleted", "The resource group '%s' is in deprovisioning state and cannot perform this operation.", g.Name)
	}
	return g, nil
}

const (
	provisioningSucceeded = "Succeeded"
	provisioningDeleting  = "Deleting"
)
