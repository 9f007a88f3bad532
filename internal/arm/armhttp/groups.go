package armhttp

import (
	"net/http"

	"github.com/keystage/keystage/internal/arm"
)

type groupJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	ManagedBy  string            `json:"managedBy,omitempty"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

func renderGroup(g arm.Group) any {
	out := groupJSON{ID: g.ID(), Name: g.Name, Type: "Microsoft.Resources/resourceGroups", Location: g.Location, ManagedBy: g.ManagedBy, Tags: tagsOrEmpty(g.Tags)}
	out.Properties.ProvisioningState = g.ProvisioningState
	return out
}

// groupBody is the request body of a group PUT or PATCH.
type groupBody struct {
	Location  string             `json:"location"`
	ManagedBy *string            `json:"managedBy"`
	Tags      *map[string]string `json:"tags"`
}

func putGroup(q *request) error {
	var b groupBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	p := arm.GroupParams{Location: b.Location}
	if b.Tags != nil {
		p.Tags = *b.Tags
	}
	if b.ManagedBy != nil {
		p.ManagedBy = *b.ManagedBy
	}
	g, created, err := q.h.svc.PutGroup(q.r.Context(), q.caller, q.args[0], q.args[1], p)
	if err != nil {
		return err
	}
	writeJSON(q.w, createdStatus(created), renderGroup(g))
	return nil
}

func patchGroup(q *request) error {
	var b groupBody
	if err := decodeBody(q.r, &b); err != nil {
		return err
	}
	p := arm.GroupPatch{ManagedBy: b.ManagedBy}
	if b.Tags != nil {
		p.Tags, p.TagsSet = *b.Tags, true
	}
	g, err := q.h.svc.PatchGroup(q.r.Context(), q.caller, q.args[0], q.args[1], p)
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderGroup(g))
	return nil
}

func getGroup(q *request) error {
	g, err := q.h.svc.GetGroup(q.r.Context(), q.caller, q.args[0], q.args[1])
	if err != nil {
		return err
	}
	writeJSON(q.w, 200, renderGroup(g))
	return nil
}

// headGroup answers CheckExistence: 204 when the group exists, 404 when not.
func headGroup(q *request) error {
	_, err := q.h.svc.GetGroup(q.r.Context(), q.caller, q.args[0], q.args[1])
	if err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func listGroups(q *request) error {
	groups, err := q.h.svc.ListGroups(q.r.Context(), q.caller, q.args[0])
	if err != nil {
		return err
	}
	return writeList(q, groups, func(g arm.Group) string { return lowerKey(g.Name) }, renderGroup)
}

// deleteGroup deletes the group and answers as ARM does: 202 Accepted with a Location to
// poll. Keystage has finished by then, so the first poll reports the result.
func deleteGroup(q *request) error {
	op, err := q.h.svc.DeleteGroup(q.r.Context(), q.caller, q.args[0], q.args[1])
	if err != nil {
		return err
	}
	q.accepted(q.baseURL() + "/subscriptions/" + op.SubscriptionID + "/operationresults/" + op.ID + "?api-version=" + q.version)
	return nil
}

// accepted answers 202 with the Location of an operation result and Retry-After 0: the
// operation is already finished, so clients may poll at once.
func (q *request) accepted(location string) {
	q.w.Header().Set("Location", location)
	q.w.Header().Set("Retry-After", "0")
	q.w.WriteHeader(http.StatusAccepted)
}

// getGroupOperation is the Location poll of a group delete: 200 when it succeeded, its error
// when it failed.
func getGroupOperation(q *request) error {
	return q.writeOperation(q.args[0], q.args[1])
}

func (q *request) writeOperation(sub, id string) error {
	op, err := q.h.svc.GetOperation(q.r.Context(), q.caller, sub, id)
	if err != nil {
		return err
	}
	if op.Error != nil {
		return op.Error
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// genericResourceJSON is an item of /resources lists.
type genericResourceJSON struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

// listResources lists the resources of a subscription or group, as /resources does, with
// the only $filter Keystage supports: resourceType eq '…'.
func listResources(q *request) error {
	group := ""
	if len(q.args) > 1 {
		group = q.args[1]
	}
	typ, err := parseResourceTypeFilter(q.query("$filter"))
	if err != nil {
		return err
	}
	var items []genericResourceJSON
	if typ == "" || typ == arm.VaultType {
		vaults, err := q.h.svc.ListVaults(q.r.Context(), q.caller, q.args[0], group)
		if err != nil {
			return err
		}
		for _, v := range vaults {
			items = append(items, genericResourceJSON{ID: v.ID(), Name: v.Name, Type: arm.VaultType, Location: v.Location, Tags: tagsOrEmpty(v.Tags)})
		}
	}
	if typ == "" || typ == arm.IdentityType {
		ids, err := q.h.svc.ListIdentities(q.r.Context(), q.caller, q.args[0], group)
		if err != nil {
			return err
		}
		for _, id := range ids {
			items = append(items, genericResourceJSON{ID: id.ID(), Name: id.Name, Type: arm.IdentityType, Location: id.Location, Tags: tagsOrEmpty(id.Tags)})
		}
	}
	sortByKey(items, func(r genericResourceJSON) string { return lowerKey(r.ID) })
	return writeList(q, items, func(r genericResourceJSON) string { return lowerKey(r.ID) }, func(r genericResourceJSON) any { return r })
}
