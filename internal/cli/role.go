package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newRoleCommand is `keystage role`: RBAC role definitions and assignments.
func (a *app) newRoleCommand() *cobra.Command {
	cmd := group("role", "Manage RBAC role definitions and assignments",
		group("definition", "Manage role definitions", a.roleDefinitionList()),
		group("assignment", "Manage role assignments", a.roleAssignmentCreate(), a.roleAssignmentList(), a.roleAssignmentDelete()))
	a.addGlobalFlags(cmd)
	return cmd
}

const authzProvider = "/providers/Microsoft.Authorization"

// scopeOf returns the scope a role command works at: --scope, else -g's group, else the
// subscription.
func (a *app) scopeOf(scope, grp string) (string, error) {
	if _, err := a.signedIn(); err != nil {
		return "", err
	}
	if scope != "" {
		if !strings.HasPrefix(scope, "/") {
			return "", usageErrorf("argument --scope: %q is not a resource id (it must start with /)", scope)
		}
		return strings.TrimRight(scope, "/"), nil
	}
	sub, err := a.subscriptionID()
	if err != nil {
		return "", err
	}
	if grp != "" {
		return "/subscriptions/" + sub + "/resourceGroups/" + pathEscape(grp), nil
	}
	return "/subscriptions/" + sub, nil
}

// roleDefinitionResult is a role definition as az prints it: properties flattened, the
// definition's type (BuiltInRole, CustomRole) as roleType.
func roleDefinitionResult(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if props, ok := m["properties"].(map[string]any); ok {
		if t, ok := props["type"]; ok {
			m["roleType"] = t
			delete(props, "type")
		}
	}
	return flattened(m)
}

func (a *app) listRoleDefinitions(ctx context.Context, scope, name string) ([]any, error) {
	path := scope + authzProvider + "/roleDefinitions"
	if name != "" {
		path += "?$filter=roleName eq " + odataQuote(name)
	}
	items, err := a.client.ARM().List(ctx, path, apiAuthorization)
	if err != nil {
		return nil, err
	}
	list, err := decodeList(items)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i] = roleDefinitionResult(list[i])
	}
	return list, nil
}

func (a *app) roleDefinitionList() *cobra.Command {
	var name, scope, grp string
	var customOnly bool
	cmd := a.command(leaf{
		use:   "list",
		short: "List role definitions",
		table: func(v any) any {
			return tableColumns(v, []string{"Name", "roleName"}, []string{"Type", "roleType"}, []string{"Description", "description"})
		},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			s, err := a.scopeOf(scope, grp)
			if err != nil {
				return nil, err
			}
			list, err := a.listRoleDefinitions(ctx, s, name)
			if err != nil {
				return nil, err
			}
			if !customOnly {
				return list, nil
			}
			out := []any{}
			for _, d := range list {
				if lookupPath(d, "roleType") == "CustomRole" {
					out = append(out, d)
				}
			}
			return out, nil
		},
	}, func(f *pflag.FlagSet) {
		f.StringVarP(&name, "name", "n", "", "Role name, e.g. Reader")
		f.StringVar(&scope, "scope", "", "Scope, e.g. /subscriptions/ID; default the subscription")
		f.StringVarP(&grp, "resource-group", "g", "", "Use the resource group as scope")
		f.BoolVar(&customOnly, "custom-role-only", false, "Only custom roles")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

// roleDefinitionID resolves --role: a role definition id, a role GUID, or a role name.
func (a *app) roleDefinitionID(ctx context.Context, role, scope string) (string, error) {
	if strings.HasPrefix(role, "/") && strings.Contains(strings.ToLower(role), "/roledefinitions/") {
		return role, nil
	}
	if isGUID(role) {
		sub, err := a.subscriptionID()
		if err != nil {
			return "", err
		}
		return "/subscriptions/" + sub + authzProvider + "/roleDefinitions/" + strings.ToLower(role), nil
	}
	list, err := a.listRoleDefinitions(ctx, scope, role)
	if err != nil {
		return "", err
	}
	switch len(list) {
	case 0:
		return "", errorf("Role '%s' doesn't exist.", role)
	case 1:
		id, _ := lookupPath(list[0], "id").(string)
		return id, nil
	}
	return "", errorf("More than one role matches the given name '%s'. Please pick an id from '%s'", role, strings.Join(idsOf(list), ", "))
}

func idsOf(list []any) []string {
	var ids []string
	for _, v := range list {
		if id, ok := lookupPath(v, "id").(string); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// resolveAssignee resolves --assignee to an object id: a service principal found by app
// id, object id or name; a GUID the directory does not know is taken as an object id (a
// managed identity's principal id, for one).
func (a *app) resolveAssignee(ctx context.Context, assignee string) (oid, principalType string, err error) {
	sp, err := a.findServicePrincipal(ctx, assignee)
	if err == nil {
		return objectID(sp), "ServicePrincipal", nil
	}
	if isGUID(assignee) {
		return strings.ToLower(assignee), "", nil
	}
	if isNotFound(err) || isCLINotFound(err) {
		return "", "", errorf("Cannot find user or service principal in graph database for '%s'. If the assignee is an appId, make sure the corresponding service principal is created with 'keystage ad sp create --id %s'.", assignee, assignee)
	}
	return "", "", err
}

func isCLINotFound(err error) bool {
	ce, ok := err.(*cliError)
	return ok && ce.code == exitNotFound
}

func (a *app) roleAssignmentCreate() *cobra.Command {
	var assignee, assigneeOID, principalType, role, scope, grp, description string
	cmd := a.command(leaf{
		use:     "create",
		short:   "Create a role assignment",
		example: "  keystage role assignment create --assignee APP_ID --role Reader --scope /subscriptions/SUBSCRIPTION_ID",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if role == "" {
				return nil, requiredError("--role")
			}
			if (assignee == "") == (assigneeOID == "") {
				return nil, usageErrorf("usage error: give exactly one of --assignee and --assignee-object-id")
			}
			s, err := a.scopeOf(scope, grp)
			if err != nil {
				return nil, err
			}
			roleID, err := a.roleDefinitionID(ctx, role, s)
			if err != nil {
				return nil, err
			}
			oid, ptype := assigneeOID, principalType
			if assignee != "" {
				var found string
				if oid, found, err = a.resolveAssignee(ctx, assignee); err != nil {
					return nil, err
				}
				if ptype == "" {
					ptype = found
				}
			}
			props := map[string]any{"roleDefinitionId": roleID, "principalId": oid}
			if ptype != "" {
				props["principalType"] = ptype
			}
			if description != "" {
				props["description"] = description
			}
			path := s + authzProvider + "/roleAssignments/" + uuid.NewString()
			raw, err := a.client.ARM().Put(ctx, path, apiAuthorization, map[string]any{"properties": props})
			if err != nil {
				return nil, err
			}
			return flattenedResult(raw)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&assignee, "assignee", "", "Service principal name (app id), object id or display name")
		f.StringVar(&assigneeOID, "assignee-object-id", "", "Object id of the assignee, used without a directory lookup")
		f.StringVar(&principalType, "assignee-principal-type", "", "ServicePrincipal, User, Group, ForeignGroup or Device")
		f.StringVar(&role, "role", "", "Role name or id, e.g. Reader")
		f.StringVar(&scope, "scope", "", "Scope, e.g. /subscriptions/ID/resourceGroups/RG; default the subscription")
		f.StringVarP(&grp, "resource-group", "g", "", "Use the resource group as scope")
		f.StringVar(&description, "description", "", "Description of the assignment")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

// searchAssignments lists assignments at scope (and, with inherited, at scopes above or
// below it) filtered by assignee and role, with az's added roleDefinitionName and
// principalName fields.
func (a *app) searchAssignments(ctx context.Context, scope, assignee, role string, all, inherited bool) ([]any, error) {
	filter := "atScope()"
	if assignee != "" {
		oid, _, err := a.resolveAssignee(ctx, assignee)
		if err != nil {
			return nil, err
		}
		filter = "principalId eq " + odataQuote(oid)
	}
	listScope := scope
	if all {
		sub, err := a.subscriptionID()
		if err != nil {
			return nil, err
		}
		listScope = "/subscriptions/" + sub
		if assignee == "" {
			filter = ""
		}
	}
	path := listScope + authzProvider + "/roleAssignments"
	if filter != "" {
		path += "?$filter=" + filter
	}
	items, err := a.client.ARM().List(ctx, path, apiAuthorization)
	if err != nil {
		return nil, err
	}
	list, err := flattenedList(items)
	if err != nil {
		return nil, err
	}
	var roleID string
	if role != "" {
		if roleID, err = a.roleDefinitionID(ctx, role, scope); err != nil {
			return nil, err
		}
	}
	// Many assignments share a role or a principal: look each up once.
	roleNames, principalNames := map[string]string{}, map[string]string{}
	out := []any{}
	for _, v := range list.([]any) {
		m, _ := v.(map[string]any)
		s, _ := m["scope"].(string)
		if !all && !inherited && !strings.EqualFold(strings.TrimRight(s, "/"), scope) {
			continue
		}
		rid, _ := m["roleDefinitionId"].(string)
		if roleID != "" && !strings.EqualFold(lastSegment(rid), lastSegment(roleID)) {
			continue
		}
		m["roleDefinitionName"] = lookupOnce(roleNames, lastSegment(rid), func() string { return a.roleName(ctx, rid) })
		if pid, _ := m["principalId"].(string); pid != "" {
			m["principalName"] = lookupOnce(principalNames, pid, func() string { return a.principalName(ctx, pid) })
		}
		out = append(out, m)
	}
	return out, nil
}

// lookupOnce returns cache's value for key (compared case-insensitively), calling lookup
// to fill it on first use.
func lookupOnce(cache map[string]string, key string, lookup func() string) string {
	key = strings.ToLower(key)
	v, ok := cache[key]
	if !ok {
		v = lookup()
		cache[key] = v
	}
	return v
}

func lastSegment(id string) string {
	return id[strings.LastIndexByte(id, '/')+1:]
}

// roleName returns a role definition's name, or "" when it cannot be read.
func (a *app) roleName(ctx context.Context, id string) string {
	raw, err := a.client.ARM().Get(ctx, id, apiAuthorization)
	if err != nil {
		return ""
	}
	var d struct {
		Properties struct{ RoleName string } `json:"properties"`
	}
	_ = json.Unmarshal(raw, &d)
	return d.Properties.RoleName
}

// principalName returns a principal's display name as az does (the first service
// principal name for service principals), or "" when the directory does not know it.
func (a *app) principalName(ctx context.Context, oid string) string {
	raw, err := a.client.Graph().Do(ctx, "GET", "/servicePrincipals/"+pathEscape(oid), nil)
	if err != nil {
		return ""
	}
	var sp struct {
		AppID string `json:"appId"`
	}
	_ = json.Unmarshal(raw, &sp)
	return sp.AppID
}

func assignmentTable(v any) any {
	return tableColumns(v, []string{"Principal", "principalName"}, []string{"Role", "roleDefinitionName"}, []string{"Scope", "scope"})
}

func (a *app) roleAssignmentList() *cobra.Command {
	var assignee, role, scope, grp string
	var all, inherited bool
	cmd := a.command(leaf{
		use:   "list",
		short: "List role assignments (at the subscription unless --scope, -g or --all)",
		table: assignmentTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			s, err := a.scopeOf(scope, grp)
			if err != nil {
				return nil, err
			}
			return a.searchAssignments(ctx, s, assignee, role, all, inherited)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&assignee, "assignee", "", "Service principal name (app id) or object id")
		f.StringVar(&role, "role", "", "Role name or id")
		f.StringVar(&scope, "scope", "", "Scope; default the subscription")
		f.StringVarP(&grp, "resource-group", "g", "", "Use the resource group as scope")
		f.BoolVar(&all, "all", false, "Show assignments at every scope of the subscription")
		f.BoolVar(&inherited, "include-inherited", false, "Include assignments applied on parent scopes")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}

func (a *app) roleAssignmentDelete() *cobra.Command {
	var assignee, role, scope, grp string
	var ids []string
	var yes bool
	cmd := a.command(leaf{
		use:   "delete",
		short: "Delete role assignments (by --ids, or by --assignee/--role at --scope)",
		nargs: []string{"ids"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if len(ids) > 0 {
				if assignee != "" || role != "" || scope != "" {
					return nil, usageErrorf("usage error: --ids cannot be combined with --assignee, --role or --scope")
				}
				if _, err := a.signedIn(); err != nil {
					return nil, err
				}
				for _, id := range ids {
					if err := a.client.ARM().Delete(ctx, id, apiAuthorization); err != nil {
						return nil, err
					}
				}
				return nil, nil
			}
			if assignee == "" && role == "" && scope == "" && grp == "" {
				return nil, usageErrorf("usage error: give --ids, or at least one of --assignee, --role, --scope, --resource-group")
			}
			s, err := a.scopeOf(scope, grp)
			if err != nil {
				return nil, err
			}
			list, err := a.searchAssignments(ctx, s, assignee, role, false, false)
			if err != nil {
				return nil, err
			}
			if len(list) == 0 {
				return nil, errorf("No matched assignments were found to delete")
			}
			for _, v := range list {
				id, _ := lookupPath(v, "id").(string)
				if err := a.client.ARM().Delete(ctx, id, apiAuthorization); err != nil {
					return nil, err
				}
			}
			return nil, nil
		},
	}, func(f *pflag.FlagSet) {
		f.StringArrayVar(&ids, "ids", nil, "Space-separated role assignment ids")
		f.StringVar(&assignee, "assignee", "", "Service principal name (app id) or object id")
		f.StringVar(&role, "role", "", "Role name or id")
		f.StringVar(&scope, "scope", "", "Scope; default the subscription")
		f.StringVarP(&grp, "resource-group", "g", "", "Use the resource group as scope")
		f.BoolVarP(&yes, "yes", "y", false, "Do not prompt for confirmation")
	})
	a.addSubscriptionFlag(cmd)
	return cmd
}
