package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newADCommand is `keystage ad`: app registrations and service principals in the
// directory (the Graph-shaped API).
func (a *app) newADCommand() *cobra.Command {
	app := group("app", "Manage applications",
		a.adAppCreate(), a.adAppList(), a.adAppShow(), a.adAppDelete(),
		group("credential", "Manage an application's password credentials", a.adAppCredentialReset()),
		group("federated-credential", "Manage an application's federated identity credentials",
			a.adAppFICCreate(), a.adAppFICList(),
			a.adAppFICOne("show", "Show a federated identity credential of an application", http.MethodGet),
			a.adAppFICOne("delete", "Delete a federated identity credential of an application", http.MethodDelete)))
	sp := group("sp", "Manage service principals",
		a.adSPCreate(), a.adSPShow(), a.adSPList(), a.adSPDelete())
	cmd := group("ad", "Manage the directory: applications and service principals", app, sp)
	a.addGlobalFlags(cmd)
	return cmd
}

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// findDirectoryObject resolves an app or service principal identifier: a GUID is an
// application (client) id, else an object id, as in az; any other string is a display name
// (az would look it up as an identifier URI or service principal name, which Keystage's
// directory does not filter on).
func (a *app) findDirectoryObject(ctx context.Context, collection, id string) (map[string]any, error) {
	if _, err := a.signedIn(); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, requiredError("--id")
	}
	get := func(path string) (map[string]any, error) {
		raw, err := a.client.Graph().Do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		v, err := decodeJSON(raw)
		m, _ := v.(map[string]any)
		return m, err
	}
	if isGUID(id) {
		m, err := get("/" + collection + "(appId=" + odataQuote(id) + ")")
		if err == nil || !isNotFound(err) {
			return m, err
		}
		if m, err = get("/" + collection + "/" + id); err == nil || !isNotFound(err) {
			return m, err
		}
	} else {
		items, err := a.client.Graph().List(ctx, "/"+collection+"?$filter=displayName eq "+odataQuote(id))
		if err != nil {
			return nil, err
		}
		switch len(items) {
		case 1:
			v, err := decodeJSON(items[0])
			m, _ := v.(map[string]any)
			return m, err
		case 0:
		default:
			return nil, errorf("More than one object has the display name '%s'; use its application id or object id.", id)
		}
	}
	return nil, notFoundf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

func (a *app) findApplication(ctx context.Context, id string) (map[string]any, error) {
	return a.findDirectoryObject(ctx, "applications", id)
}

func (a *app) findServicePrincipal(ctx context.Context, id string) (map[string]any, error) {
	return a.findDirectoryObject(ctx, "servicePrincipals", id)
}

func objectID(m map[string]any) string { s, _ := m["id"].(string); return s }

// applicationPath resolves an application given by app id, object id or display name to
// its Graph path, "/applications/{object id}".
func (a *app) applicationPath(ctx context.Context, id string) (string, error) {
	app, err := a.findApplication(ctx, id)
	if err != nil {
		return "", err
	}
	return "/applications/" + objectID(app), nil
}

func (a *app) adAppCreate() *cobra.Command {
	var displayName, audience string
	var uris []string
	cmd := a.command(leaf{
		use:   "create",
		short: "Create an application (or update the one with the same display name)",
		nargs: []string{"identifier-uris"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if displayName == "" {
				return nil, requiredError("--display-name")
			}
			if _, err := a.signedIn(); err != nil {
				return nil, err
			}
			body := map[string]any{"displayName": displayName}
			if uris != nil {
				body["identifierUris"] = toAnyList(uris)
			}
			if audience != "" {
				body["signInAudience"] = audience
			}
			existing, err := a.client.Graph().List(ctx, "/applications?$filter=displayName eq "+odataQuote(displayName))
			if err != nil {
				return nil, err
			}
			switch len(existing) {
			case 0:
				raw, err := a.client.Graph().Do(ctx, http.MethodPost, "/applications", body)
				if err != nil {
					return nil, err
				}
				return decodeJSON(raw)
			case 1:
				v, err := decodeJSON(existing[0])
				if err != nil {
					return nil, err
				}
				oid := objectID(v.(map[string]any))
				a.warn("Found an existing application instance: (id) %s. We will patch it.", oid)
				delete(body, "displayName")
				if len(body) > 0 {
					if _, err := a.client.Graph().Do(ctx, http.MethodPatch, "/applications/"+oid, body); err != nil {
						return nil, err
					}
				}
				raw, err := a.client.Graph().Do(ctx, http.MethodGet, "/applications/"+oid, nil)
				if err != nil {
					return nil, err
				}
				return decodeJSON(raw)
			}
			return nil, errorf("More than one application have the same display name '%s', please remove old ones with 'keystage ad app delete'", displayName)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&displayName, "display-name", "", "Display name of the application")
		f.StringArrayVar(&uris, "identifier-uris", nil, "Space-separated identifier URIs")
		f.StringVar(&audience, "sign-in-audience", "", "AzureADMyOrg (default) or another Entra audience")
	})
	return cmd
}

func (a *app) adList(collection string) func(ctx context.Context, filters []string, filter string) (any, error) {
	return func(ctx context.Context, filters []string, filter string) (any, error) {
		if _, err := a.signedIn(); err != nil {
			return nil, err
		}
		if filter != "" {
			filters = append(filters, filter)
		}
		path := "/" + collection
		if len(filters) > 0 {
			path += "?$filter=" + strings.Join(filters, " and ")
		}
		items, err := a.client.Graph().List(ctx, path)
		if err != nil {
			return nil, err
		}
		return decodeList(items)
	}
}

// refuseShowMine fails --show-mine: Keystage's Graph lists no owned objects, and listing
// everything instead would silently ignore the flag.
func refuseShowMine(cmd *cobra.Command) error {
	if mine, _ := cmd.Flags().GetBool("show-mine"); mine {
		return usageErrorf("usage error: --show-mine is not supported by Keystage; filter with --display-name, --filter or --query")
	}
	return nil
}

func (a *app) adAppList() *cobra.Command {
	var displayName, appID, uri, filter string
	return a.command(leaf{
		use:   "list",
		short: "List applications",
		table: func(v any) any {
			return tableColumns(v, []string{"DisplayName", "displayName"}, []string{"Id", "id"}, []string{"AppId", "appId"}, []string{"CreatedDateTime", "createdDateTime"})
		},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if err := refuseShowMine(cmd); err != nil {
				return nil, err
			}
			var fs []string
			if displayName != "" {
				fs = append(fs, "startswith(displayName,"+odataQuote(displayName)+")")
			}
			if appID != "" {
				fs = append(fs, "appId eq "+odataQuote(appID))
			}
			if uri != "" {
				fs = append(fs, "identifierUris/any(s:s eq "+odataQuote(uri)+")")
			}
			return a.adList("applications")(ctx, fs, filter)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&displayName, "display-name", "", "Applications whose display name starts with this")
		f.StringVar(&appID, "app-id", "", "Application (client) id")
		f.StringVar(&uri, "identifier-uri", "", "Identifier URI")
		f.StringVar(&filter, "filter", "", "OData filter, e.g. \"displayName eq 'app'\"")
		f.Bool("all", false, "List all entities (Keystage always does)")
		f.Bool("show-mine", false, "Not supported by Keystage (fails)")
	})
}

func (a *app) adAppShow() *cobra.Command {
	var id string
	return a.command(leaf{
		use:   "show",
		short: "Get the details of an application",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			return a.findApplication(ctx, id)
		},
	}, idFlag(&id, "Identifier uri, application id, or object id"))
}

func idFlag(id *string, usage string) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) { f.StringVar(id, "id", "", usage) }
}

func (a *app) adAppDelete() *cobra.Command {
	var id string
	return a.command(leaf{
		use:   "delete",
		short: "Delete an application",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			appPath, err := a.applicationPath(ctx, id)
			if err != nil {
				return nil, err
			}
			_, err = a.client.Graph().Do(ctx, http.MethodDelete, appPath, nil)
			return nil, err
		},
	}, idFlag(&id, "Identifier uri, application id, or object id"))
}

func (a *app) adAppCredentialReset() *cobra.Command {
	var id, displayName, endDate string
	var years int
	var appendCred bool
	return a.command(leaf{
		use:   "reset",
		short: "Reset an application's password credential (add one, removing the others unless --append)",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			app, err := a.findApplication(ctx, id)
			if err != nil {
				return nil, err
			}
			oid := objectID(app)
			end := time.Now().UTC().AddDate(years, 0, 0)
			if endDate != "" {
				if end, err = parseDate("--end-date", endDate); err != nil {
					return nil, err
				}
			}
			if !appendCred {
				creds, _ := app["passwordCredentials"].([]any)
				for _, c := range creds {
					keyID, _ := lookupPath(c, "keyId").(string)
					if keyID == "" {
						continue
					}
					if _, err := a.client.Graph().Do(ctx, http.MethodPost, "/applications/"+oid+"/removePassword", map[string]any{"keyId": keyID}); err != nil {
						return nil, err
					}
				}
			}
			pc := map[string]any{"endDateTime": end.Format(time.RFC3339)}
			if displayName != "" {
				pc["displayName"] = displayName
			}
			raw, err := a.client.Graph().Do(ctx, http.MethodPost, "/applications/"+oid+"/addPassword", map[string]any{"passwordCredential": pc})
			if err != nil {
				return nil, err
			}
			var added struct {
				SecretText string `json:"secretText"`
			}
			if err := json.Unmarshal(raw, &added); err != nil || added.SecretText == "" {
				return nil, errorf("the server's addPassword answer holds no secretText")
			}
			a.warn("The output includes credentials that you must protect. Be sure that you do not include these credentials in your code or check the credentials into your source control.")
			return map[string]any{"appId": app["appId"], "password": added.SecretText, "tenant": a.prof.TenantID}, nil
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&id, "id", "", "Identifier uri, application id, or object id")
		f.BoolVar(&appendCred, "append", false, "Add the new credential instead of replacing the existing ones")
		f.StringVar(&displayName, "display-name", "", "Friendly name of the credential")
		f.IntVar(&years, "years", 1, "Number of years the credential is valid")
		f.StringVar(&endDate, "end-date", "", "Expiry date, e.g. 2030-12-31T11:59:59Z (instead of --years)")
	})
}

// readJSONArg reads az's JSON arguments: inline JSON, or @file.
func readJSONArg(flag, s string) (any, error) {
	if s == "" {
		return nil, requiredError(flag)
	}
	data := []byte(s)
	if strings.HasPrefix(s, "@") {
		var err error
		if data, err = os.ReadFile(s[1:]); err != nil {
			return nil, usageErrorf("argument %s: %v", flag, err)
		}
	} else if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		if b, err := os.ReadFile(s); err == nil {
			data = b
		}
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, usageErrorf("argument %s: not valid JSON: %v", flag, err)
	}
	return v, nil
}

func (a *app) adAppFICCreate() *cobra.Command {
	var id, params string
	return a.command(leaf{
		use:     "create",
		short:   "Create a federated identity credential on an application",
		example: `  keystage ad app federated-credential create --id APP_ID --parameters '{"name":"sc","issuer":"https://issuer","subject":"sc://org/project/conn","audiences":["api://AzureADTokenExchange"]}'`,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			body, err := readJSONArg("--parameters", params)
			if err != nil {
				return nil, err
			}
			appPath, err := a.applicationPath(ctx, id)
			if err != nil {
				return nil, err
			}
			raw, err := a.client.Graph().Do(ctx, http.MethodPost, appPath+"/federatedIdentityCredentials", body)
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&id, "id", "", "Application id or object id of the application")
		f.StringVar(&params, "parameters", "", "JSON (or @file) with name, issuer, subject, audiences and optional description")
	})
}

func (a *app) adAppFICList() *cobra.Command {
	var id string
	return a.command(leaf{
		use:   "list",
		short: "List an application's federated identity credentials",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			appPath, err := a.applicationPath(ctx, id)
			if err != nil {
				return nil, err
			}
			items, err := a.client.Graph().List(ctx, appPath+"/federatedIdentityCredentials")
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, idFlag(&id, "Application id or object id of the application"))
}

// adAppFICOne is federated-credential show (GET) or delete (DELETE): one request about
// one federated credential of an application.
func (a *app) adAppFICOne(use, short, method string) *cobra.Command {
	var id, fic string
	return a.command(leaf{
		use:   use,
		short: short,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if fic == "" {
				return nil, requiredError("--federated-credential-id")
			}
			appPath, err := a.applicationPath(ctx, id)
			if err != nil {
				return nil, err
			}
			raw, err := a.client.Graph().Do(ctx, method, appPath+"/federatedIdentityCredentials/"+pathEscape(fic), nil)
			if err != nil || method == http.MethodDelete {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&id, "id", "", "Application id or object id of the application")
		f.StringVar(&fic, "federated-credential-id", "", "Id or name of the federated credential")
	})
}

func (a *app) adSPCreate() *cobra.Command {
	var id string
	return a.command(leaf{
		use:   "create",
		short: "Create a service principal for an application",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			app, err := a.findApplication(ctx, id)
			if err != nil {
				return nil, err
			}
			raw, err := a.client.Graph().Do(ctx, http.MethodPost, "/servicePrincipals", map[string]any{"appId": app["appId"]})
			if err != nil {
				return nil, err
			}
			return decodeJSON(raw)
		},
	}, idFlag(&id, "Application id (or identifier uri / object id) of the application"))
}

func (a *app) adSPShow() *cobra.Command {
	var id string
	return a.command(leaf{
		use:     "show",
		short:   "Get the details of a service principal",
		example: "  keystage ad sp show --id APP_ID --query id -o tsv",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			return a.findServicePrincipal(ctx, id)
		},
	}, idFlag(&id, "Service principal name (app id) or object id"))
}

func (a *app) adSPList() *cobra.Command {
	var displayName, spn, filter string
	return a.command(leaf{
		use:   "list",
		short: "List service principals",
		table: func(v any) any {
			return tableColumns(v, []string{"DisplayName", "displayName"}, []string{"Id", "id"}, []string{"AppId", "appId"}, []string{"CreatedDateTime", "createdDateTime"})
		},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if err := refuseShowMine(cmd); err != nil {
				return nil, err
			}
			var fs []string
			if displayName != "" {
				fs = append(fs, "startswith(displayName,"+odataQuote(displayName)+")")
			}
			if spn != "" {
				// An app's service principal name is its application id.
				fs = append(fs, "appId eq "+odataQuote(spn))
			}
			return a.adList("servicePrincipals")(ctx, fs, filter)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&displayName, "display-name", "", "Service principals whose display name starts with this")
		f.StringVar(&spn, "spn", "", "Service principal name (app id)")
		f.StringVar(&filter, "filter", "", "OData filter")
		f.Bool("all", false, "List all entities (Keystage always does)")
		f.Bool("show-mine", false, "Not supported by Keystage (fails)")
	})
}

func (a *app) adSPDelete() *cobra.Command {
	var id string
	return a.command(leaf{
		use:   "delete",
		short: "Delete a service principal",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			sp, err := a.findServicePrincipal(ctx, id)
			if err != nil {
				return nil, err
			}
			_, err = a.client.Graph().Do(ctx, http.MethodDelete, "/servicePrincipals/"+objectID(sp), nil)
			return nil, err
		},
	}, idFlag(&id, "Service principal name (app id) or object id"))
}
