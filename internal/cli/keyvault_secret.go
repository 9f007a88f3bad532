package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keystage/keystage/internal/client"
)

// newSecretCommand is `keystage keyvault secret`: the Key Vault data plane.
func (a *app) newSecretCommand() *cobra.Command {
	return group("secret", "Manage secrets in a Key Vault",
		a.secretSet(),
		a.secretOp(leaf{use: "show", short: "Get a specified secret (the latest version unless --version)",
			example: "  keystage keyvault secret show --vault-name MyVault --name DbPassword --query value -o tsv"},
			true, http.MethodGet, secretPath, secretShape{bundle: true, value: true}), a.secretList(), a.secretListVersions(), a.secretSetAttributes(),
		a.secretOp(leaf{use: "delete", short: "Delete all versions of a secret (recoverable until the vault's retention ends or it is purged)"},
			false, http.MethodDelete, func(n, _ string) string { return "/secrets/" + pathEscape(n) }, secretShape{bundle: true, deleted: true}),
		a.secretListDeleted(),
		a.secretOp(leaf{use: "show-deleted", short: "Get a soft-deleted secret"},
			false, http.MethodGet, func(n, _ string) string { return "/deletedsecrets/" + pathEscape(n) }, secretShape{bundle: true, deleted: true}),
		a.secretOp(leaf{use: "recover", short: "Recover a soft-deleted secret to its latest version"},
			false, http.MethodPost, func(n, _ string) string { return "/deletedsecrets/" + pathEscape(n) + "/recover" }, secretShape{bundle: true}),
		a.secretOp(leaf{use: "purge", short: "Permanently delete a soft-deleted secret"},
			false, http.MethodDelete, func(n, _ string) string { return "/deletedsecrets/" + pathEscape(n) }, secretShape{none: true}),
		a.secretBackup(), a.secretRestore(), a.secretDownload())
}

// secretRef is how a command names a secret: --vault-name and --name (and --version), or
// --id.
type secretRef struct {
	vault, name, version, id string
}

func (r *secretRef) flags(withVersion, withID bool) func(f *pflag.FlagSet) {
	return func(f *pflag.FlagSet) {
		f.StringVar(&r.vault, "vault-name", "", "Name of the Key Vault")
		f.StringVarP(&r.name, "name", "n", "", "Name of the secret")
		if withVersion {
			f.StringVarP(&r.version, "version", "v", "", "Version of the secret; the latest when omitted")
		}
		if withID {
			f.StringVar(&r.id, "id", "", "Id of the secret, e.g. https://VAULT.vault.localhost:8443/secrets/NAME[/VERSION]; replaces --vault-name, --name and --version")
		}
	}
}

// resolveSecret returns the vault client and the secret's name and version.
func (a *app) resolveSecret(r secretRef, needName bool) (client.Vault, string, string, error) {
	return a.resolveSecretOf(r, needName, "secrets")
}

// resolveSecretOf is resolveSecret for ids of kind "secrets" (a secret) or
// "deletedsecrets" (a soft-deleted one): an --id of the other kind is refused rather than
// read as the same name.
func (a *app) resolveSecretOf(r secretRef, needName bool, kind string) (client.Vault, string, string, error) {
	c, err := a.signedIn()
	if err != nil {
		return client.Vault{}, "", "", err
	}
	if r.id != "" {
		if r.vault != "" || r.name != "" || r.version != "" {
			return client.Vault{}, "", "", usageErrorf("usage error: --id cannot be combined with --vault-name, --name or --version")
		}
		id, err := parseSecretID(r.id)
		if err != nil {
			return client.Vault{}, "", "", err
		}
		if id.kind != kind {
			return client.Vault{}, "", "", usageErrorf("usage error: --id must be the id of a %s (https://VAULT/%s/NAME), not %s", map[string]string{"secrets": "secret", "deletedsecrets": "deleted secret"}[kind], kind, r.id)
		}
		v, err := c.VaultAt(id.vault)
		return v, id.name, id.version, err
	}
	var missing []string
	if r.vault == "" {
		missing = append(missing, "--vault-name")
	}
	if needName && r.name == "" {
		missing = append(missing, "--name/-n")
	}
	if len(missing) > 0 {
		return client.Vault{}, "", "", requiredError(missing...)
	}
	v, err := c.Vault(r.vault)
	return v, r.name, r.version, err
}

func secretPath(name, version string) string {
	p := "/secrets/" + pathEscape(name)
	if version != "" {
		return p + "/" + pathEscape(version)
	}
	return p + "/"
}

// attributeFlags are the attribute arguments of set and set-attributes.
type attributeFlags struct {
	expires, notBefore, contentType string
	tags                            []string
}

func (af *attributeFlags) add(f *pflag.FlagSet) {
	f.StringVar(&af.expires, "expires", "", "Expiration UTC datetime (Y-m-d'T'H:M:S'Z')")
	f.StringVar(&af.notBefore, "not-before", "", "Key not usable before the provided UTC datetime (Y-m-d'T'H:M:S'Z')")
	f.StringVar(&af.contentType, "content-type", "", "Type of the secret value, such as a password")
	f.StringArrayVar(&af.tags, "tags", nil, `Space-separated tags: key[=value] [key[=value] ...]. Use "" to clear existing tags`)
}

// body adds the attribute arguments given to a request body.
func (af *attributeFlags) body(f *pflag.FlagSet, body, attrs map[string]any) error {
	for _, d := range []struct{ flag, val, key string }{{"--expires", af.expires, "exp"}, {"--not-before", af.notBefore, "nbf"}} {
		if d.val == "" {
			continue
		}
		t, err := parseDate(d.flag, d.val)
		if err != nil {
			return err
		}
		attrs[d.key] = t.Unix()
	}
	if f.Changed("content-type") {
		body["contentType"] = af.contentType
	}
	tags, err := parseTags(af.tags)
	if err != nil {
		return err
	}
	if tags != nil {
		body["tags"] = tags
	}
	return nil
}

func (a *app) secretSet() *cobra.Command {
	var ref secretRef
	var value, file, encoding string
	var disabled bool
	var af attributeFlags
	cmd := a.command(leaf{
		use:     "set",
		short:   "Create a secret (if it does not exist) or add a new version of it",
		example: "  keystage keyvault secret set --vault-name MyVault --name DbPassword --value 'p@ss'\n  keystage keyvault secret set --vault-name MyVault --name Cert --file cert.pfx --encoding base64",
		nargs:   []string{"tags"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			v, name, _, err := a.resolveSecret(ref, true)
			if err != nil {
				return nil, err
			}
			fs := cmd.Flags()
			if fs.Changed("value") == (file != "") {
				return nil, usageErrorf("usage error: give exactly one of --value and --file")
			}
			body := map[string]any{"value": value}
			attrs := map[string]any{}
			if err := af.body(fs, body, attrs); err != nil {
				return nil, err
			}
			if file != "" {
				data, err := os.ReadFile(file)
				if err != nil {
					return nil, usageErrorf("argument --file: %v", err)
				}
				if body["value"], err = encodeSecretFile(data, encoding); err != nil {
					return nil, errorf("%v", err)
				}
				tags, _ := body["tags"].(map[string]any)
				if tags == nil {
					tags = map[string]any{}
				}
				tags["file-encoding"] = encoding
				body["tags"] = tags
			} else if fs.Changed("encoding") {
				return nil, usageErrorf("usage error: --encoding applies to --file only")
			}
			if disabled {
				attrs["enabled"] = false
			}
			if len(attrs) > 0 {
				body["attributes"] = attrs
			}
			raw, err := v.Do(ctx, http.MethodPut, "/secrets/"+pathEscape(name), body)
			if err != nil {
				return nil, err
			}
			return decodeSecret(raw, true, true, false)
		},
	}, func(f *pflag.FlagSet) {
		ref.flags(false, false)(f)
		f.StringVar(&value, "value", "", "Value of the secret")
		f.StringVarP(&file, "file", "f", "", "Read the value from a file")
		f.StringVarP(&encoding, "encoding", "e", "utf-8", "Encoding of --file: "+strings.Join(secretEncodings, ", "))
		f.BoolVar(&disabled, "disabled", false, "Create the secret in the disabled state")
		af.add(f)
	})
	return cmd
}

// secretShape says how a secret command prints the vault's answer (see secretResult).
type secretShape struct {
	bundle, value, deleted bool
	none                   bool // print nothing
}

// secretOp is a secret command that sends one request about one secret and prints the
// answer in az's shape.
func (a *app) secretOp(l leaf, withVersion bool, method string, path func(name, version string) string, shape secretShape) *cobra.Command {
	var ref secretRef
	kind := "secrets"
	if strings.HasPrefix(path("", ""), "/deletedsecrets/") {
		kind = "deletedsecrets"
	}
	l.run = func(ctx context.Context, cmd *cobra.Command) (any, error) {
		v, name, version, err := a.resolveSecretOf(ref, true, kind)
		if err != nil {
			return nil, err
		}
		raw, err := v.Do(ctx, method, path(name, version), nil)
		if err != nil || shape.none {
			return nil, err
		}
		return decodeSecret(raw, shape.bundle, shape.value, shape.deleted)
	}
	return a.command(l, ref.flags(withVersion, true))
}

func decodeSecret(raw json.RawMessage, bundle, withValue, deleted bool) (any, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	return secretResult(v, bundle, withValue, deleted), nil
}

func (a *app) secretItems(ctx context.Context, v client.Vault, path string, deleted, includeManaged bool, max int) (any, error) {
	items, err := v.List(ctx, path)
	if err != nil {
		return nil, err
	}
	list, err := decodeList(items)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, it := range list {
		if managed, _ := lookupPath(it, "managed").(bool); managed && !includeManaged {
			continue
		}
		if max > 0 && len(out) == max {
			break
		}
		out = append(out, secretResult(it, false, false, deleted))
	}
	return out, nil
}

func (a *app) secretList() *cobra.Command {
	var ref secretRef
	var max int
	var includeManaged bool
	return a.command(leaf{
		use:   "list",
		short: "List secrets in a vault (names and attributes, never values)",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			v, _, _, err := a.resolveSecret(ref, false)
			if err != nil {
				return nil, err
			}
			return a.secretItems(ctx, v, "/secrets", false, includeManaged, max)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&ref.vault, "vault-name", "", "Name of the Key Vault")
		f.IntVar(&max, "maxresults", 0, "Maximum number of results to return")
		f.BoolVar(&includeManaged, "include-managed", false, "Include certificate-backed secrets")
	})
}

func (a *app) secretListVersions() *cobra.Command {
	var ref secretRef
	var max int
	return a.command(leaf{
		use:   "list-versions",
		short: "List all versions of a secret",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			v, name, _, err := a.resolveSecret(ref, true)
			if err != nil {
				return nil, err
			}
			return a.secretItems(ctx, v, "/secrets/"+pathEscape(name)+"/versions", false, true, max)
		},
	}, func(f *pflag.FlagSet) {
		ref.flags(false, true)(f)
		f.IntVar(&max, "maxresults", 0, "Maximum number of results to return")
	})
}

func (a *app) secretSetAttributes() *cobra.Command {
	var ref secretRef
	var enabled string
	var af attributeFlags
	return a.command(leaf{
		use:     "set-attributes",
		short:   "Update a secret's attributes (enabled, expires, not-before, content type, tags)",
		example: "  keystage keyvault secret set-attributes --vault-name MyVault --name DbPassword --enabled false",
		nargs:   []string{"tags"},
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			v, name, version, err := a.resolveSecret(ref, true)
			if err != nil {
				return nil, err
			}
			body := map[string]any{}
			attrs := map[string]any{}
			if err := af.body(cmd.Flags(), body, attrs); err != nil {
				return nil, err
			}
			if enabled != "" {
				b, err := parseBool("--enabled", enabled)
				if err != nil {
					return nil, err
				}
				attrs["enabled"] = b
			}
			if len(attrs) > 0 {
				body["attributes"] = attrs
			}
			raw, err := v.Do(ctx, http.MethodPatch, secretPath(name, version), body)
			if err != nil {
				return nil, err
			}
			return decodeSecret(raw, true, false, false)
		},
	}, func(f *pflag.FlagSet) {
		ref.flags(true, true)(f)
		f.StringVar(&enabled, "enabled", "", "Enable the secret (true/false)")
		f.Lookup("enabled").NoOptDefVal = "true"
		af.add(f)
	})
}

func (a *app) secretListDeleted() *cobra.Command {
	var ref secretRef
	var max int
	return a.command(leaf{
		use:   "list-deleted",
		short: "List soft-deleted secrets in a vault",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			v, _, _, err := a.resolveSecret(ref, false)
			if err != nil {
				return nil, err
			}
			return a.secretItems(ctx, v, "/deletedsecrets", true, true, max)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&ref.vault, "vault-name", "", "Name of the Key Vault")
		f.IntVar(&max, "maxresults", 0, "Maximum number of results to return")
	})
}

func (a *app) secretBackup() *cobra.Command {
	var ref secretRef
	var file string
	return a.command(leaf{
		use:   "backup",
		short: "Back up every version of a secret to a file (restorable only into this Keystage)",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if file == "" {
				return nil, requiredError("--file/-f")
			}
			v, name, _, err := a.resolveSecret(ref, true)
			if err != nil {
				return nil, err
			}
			raw, err := v.Do(ctx, http.MethodPost, "/secrets/"+pathEscape(name)+"/backup", nil)
			if err != nil {
				return nil, err
			}
			var b struct{ Value string }
			if err := json.Unmarshal(raw, &b); err != nil {
				return nil, err
			}
			blob, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(b.Value, "="))
			if err != nil {
				return nil, errorf("the vault's backup is not base64url: %v", err)
			}
			return nil, writeNewFile(file, blob, true)
		},
	}, func(f *pflag.FlagSet) {
		ref.flags(false, true)(f)
		f.StringVarP(&file, "file", "f", "", "File to write the backup to")
	})
}

func (a *app) secretRestore() *cobra.Command {
	var ref secretRef
	var file string
	return a.command(leaf{
		use:   "restore",
		short: "Restore a backed-up secret, with every version, into a vault",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if file == "" {
				return nil, requiredError("--file/-f")
			}
			v, _, _, err := a.resolveSecret(ref, false)
			if err != nil {
				return nil, err
			}
			blob, err := os.ReadFile(file)
			if err != nil {
				return nil, usageErrorf("argument --file: %v", err)
			}
			raw, err := v.Do(ctx, http.MethodPost, "/secrets/restore", map[string]any{"value": base64.RawURLEncoding.EncodeToString(blob)})
			if err != nil {
				return nil, err
			}
			return decodeSecret(raw, true, false, false)
		},
	}, func(f *pflag.FlagSet) {
		f.StringVar(&ref.vault, "vault-name", "", "Name of the Key Vault")
		f.StringVarP(&file, "file", "f", "", "File holding the backup")
	})
}

func (a *app) secretDownload() *cobra.Command {
	var ref secretRef
	var file, encoding string
	var overwrite bool
	return a.command(leaf{
		use:   "download",
		short: "Download a secret's value to a file, decoded with its file-encoding tag or --encoding",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if file == "" {
				return nil, requiredError("--file/-f")
			}
			if st, err := os.Stat(file); err == nil {
				if st.IsDir() {
					return nil, errorf("Cannot write to '%s': it is a directory.", file)
				}
				if !overwrite {
					return nil, errorf("File '%s' already exists. Use --overwrite to overwrite the existing file.", file)
				}
			}
			v, name, version, err := a.resolveSecret(ref, true)
			if err != nil {
				return nil, err
			}
			raw, err := v.Do(ctx, http.MethodGet, secretPath(name, version), nil)
			if err != nil {
				return nil, err
			}
			var s struct {
				Value string
				Tags  map[string]string
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
			enc := encoding
			if enc == "" {
				enc = s.Tags["file-encoding"]
			}
			if enc == "" {
				enc = "utf-8"
			}
			data, err := decodeSecretFile(s.Value, enc)
			if err != nil {
				return nil, errorf("%v", err)
			}
			return nil, writeNewFile(file, data, overwrite)
		},
	}, func(f *pflag.FlagSet) {
		ref.flags(true, true)(f)
		f.StringVarP(&file, "file", "f", "", "File to write the secret's value to")
		f.StringVarP(&encoding, "encoding", "e", "", "Decoding of the value: "+strings.Join(secretEncodings, ", ")+"; default the secret's file-encoding tag, else utf-8")
		f.BoolVar(&overwrite, "overwrite", false, "Overwrite an existing file")
	})
}

// writeNewFile writes data to a file with mode 0600 (it may hold a secret), refusing to
// replace an existing file unless overwrite.
func writeNewFile(path string, data []byte, overwrite bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !overwrite {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errorf("File '%s' already exists.", path)
		}
		return errorf("%v", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return errorf("%v", err)
	}
	return f.Close()
}
