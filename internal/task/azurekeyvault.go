package task

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/logcmd"
)

// AzureKeyVault is AzureKeyVault@2: it downloads a vault's secrets through an AzureRM
// service connection and sets them as secret variables (pipelines.md §5.1). It has two
// entry points, like task.json's execution and prejobexecution: Run and RunPreJob; the one
// that does not match the RunAsPreJob input ends Skipped.
//
// The zero value is ready to use: HTTPS requests go through a client that trusts the
// system roots (SSL_CERT_FILE included).
type AzureKeyVault struct {
	// Client makes every HTTPS request (token endpoints and the vault); nil means a default
	// client.
	Client *http.Client
	// RetryDelay is the first wait before a retried vault request (2s, as the real task);
	// later waits grow as 2·w+RetryDelay.
	RetryDelay time.Duration
}

// PreJobTask is implemented by tasks that also have a pre-job entry point (task.json
// prejobexecution). An executor runs RunPreJob for each such step before the job's first
// step (before checkout), shown as "Pre-job: {display name}", and Run at the step's place.
type PreJobTask interface {
	Task
	RunPreJob(ctx context.Context, env *Env) error
}

var _ PreJobTask = AzureKeyVault{}

// keyVaultParallelism is how many secret values are downloaded at once.
const keyVaultParallelism = 20

var azureKeyVaultDef = &Definition{
	Name:         "AzureKeyVault",
	FriendlyName: "Azure Key Vault",
	Description:  "Download Azure Key Vault secrets",
	Author:       "Microsoft Corporation",
	HelpURL:      "https://docs.microsoft.com/azure/devops/pipelines/tasks/deploy/azure-key-vault",
	Version:      Version{2, 276, 0},
	Inputs: []Input{
		{Name: "ConnectedServiceName", Aliases: []string{"azureSubscription"}, Type: String, Required: true},
		{Name: "KeyVaultName", Type: PickList, Required: true},
		{Name: "SecretsFilter", Type: String, Default: "*", Required: true},
		{Name: "RunAsPreJob", Type: Boolean, Default: "false", Required: true},
	},
}

// Definition implements Task.
func (AzureKeyVault) Definition() *Definition { return azureKeyVaultDef }

// Run implements Task: the execution entry point.
func (t AzureKeyVault) Run(ctx context.Context, env *Env) error {
	return t.runInContext(ctx, env, false)
}

// RunPreJob implements PreJobTask: the pre-job entry point.
func (t AzureKeyVault) RunPreJob(ctx context.Context, env *Env) error {
	return t.runInContext(ctx, env, true)
}

// SkippedMessage is what the entry point that does not match RunAsPreJob reports.
func SkippedMessage(runAsPreJob bool) string {
	return "Skipped according to the task's configuration. RunAsPreJob: " + strconv.FormatBool(runAsPreJob)
}

func (t AzureKeyVault) runInContext(ctx context.Context, env *Env, preJob bool) error {
	if env.Inputs.Get("RunAsPreJob") == "" {
		return errors.New("Input required: RunAsPreJob")
	}
	runAsPreJob := env.Inputs.Bool("RunAsPreJob")
	if runAsPreJob != preJob {
		// task-lib's setResult(Skipped, message).
		env.logf("##vso[task.complete result=Skipped;]%s", logcmd.EscapeData(SkippedMessage(runAsPreJob)))
		return nil
	}
	if _, ok := env.Host.Variable("DECODE_PERCENTS"); !ok {
		env.Host.Debug("Setting DECODE_PERCENTS as true to decode %25 to %")
		if err := env.Host.SetVariable("DECODE_PERCENTS", "True", false, false); err != nil {
			return err
		}
	}
	p, err := t.parameters(env)
	if err != nil {
		return err
	}
	return p.download(ctx, env)
}

// keyVaultRun is one run of the task: its parameters and collected errors.
type keyVaultRun struct {
	subscriptionID     string
	vaultName          string
	filter             []string
	scheme             string
	servicePrincipalID string
	client             *vaultClient

	mu        sync.Mutex
	errs      map[string]string
	scriptOut bool // ProvisionKeyVaultPermissions.ps1 written
}

// parameters reads the inputs and the connection (KeyVaultTaskParameters.ts).
func (t AzureKeyVault) parameters(env *Env) (*keyVaultRun, error) {
	ref, err := env.Inputs.Required("ConnectedServiceName")
	if err != nil {
		return nil, err
	}
	ep, err := lookupEndpoint(env, ref)
	if err != nil {
		return nil, err
	}
	name, err := env.Inputs.Required("KeyVaultName")
	if err != nil {
		return nil, err
	}
	if encodeURIComponent(name) != name {
		return nil, fmt.Errorf("%s is an invalid KeyVault name.", name)
	}
	filter := ParseSecretsFilter(env.Inputs.Get("SecretsFilter"))
	if len(filter) == 0 {
		return nil, errors.New("Input required: SecretsFilter")
	}
	suffix := lookupFold(ep.Data, dataKeyVaultDNSSuffix)
	if suffix == "" {
		suffix = "vault.azure.net"
	}
	resource := lookupFold(ep.Data, dataKeyVaultResourceID)
	if resource == "" {
		resource = "https://vault.azure.net"
	}
	client := t.Client
	if client == nil {
		authority := lookupFold(ep.Data, dataAuthority)
		if authority == "" {
			authority = lookupFold(ep.Data, dataEnvironmentAuthority)
		}
		client = defaultClient(suffix, authority)
	}
	cred, err := endpointCredential(env, ep, client)
	if err != nil {
		return nil, err
	}
	wait := t.RetryDelay
	if wait <= 0 {
		wait = 2 * time.Second
	}
	return &keyVaultRun{
		subscriptionID:     lookupFold(ep.Data, dataSubscriptionID),
		vaultName:          name,
		filter:             filter,
		scheme:             ep.Scheme,
		servicePrincipalID: lookupFold(ep.Parameters, paramServicePrincipalID),
		client: &vaultClient{
			http: client, cred: cred, vaultURL: "https://" + name + "." + suffix, firstWait: wait, resource: resource,
			log: env.logf, debug: env.Host.Debug,
		},
		errs: map[string]string{},
	}, nil
}

// ParseSecretsFilter is task-lib's getDelimitedInput(SecretsFilter, ","): the names
// between commas, trimmed, empty ones dropped.
func ParseSecretsFilter(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// download is KeyVault.downloadSecrets.
func (r *keyVaultRun) download(ctx context.Context, env *Env) error {
	all := len(r.filter) == 1 && r.filter[0] == "*"
	env.logf("SubscriptionId: %s.", r.subscriptionID)
	env.logf("Key vault name: %s.", r.vaultName)
	// The task masks multi-line values line by line itself.
	if err := env.Host.SetVariable("SYSTEM_UNSAFEALLOWMULTILINESECRET", "true", false, false); err != nil {
		return err
	}
	names := r.filter
	if all {
		env.Host.Debug(fmt.Sprintf("Downloading all secrets from subscriptionId: %s, vault: %s", r.subscriptionID, r.vaultName))
		listed, err := r.client.listSecrets(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("Get secrets failed. Error: %s.", r.errorMessage(env, err))
		}
		if len(listed) == 0 {
			env.logf("No secrets found in: %s", r.vaultName)
			return nil
		}
		env.logf("Number of secrets found in %s: %d", r.vaultName, len(listed))
		now := time.Now()
		names = names[:0:0]
		for _, s := range listed {
			if s.enabled && (s.expires.IsZero() || s.expires.After(now)) {
				names = append(names, s.name)
			}
		}
		env.logf("Number of enabled and unexpired secrets found in %s: %d", r.vaultName, len(names))
	} else {
		env.Host.Debug(fmt.Sprintf("Downloading selected secrets from subscriptionId: %s, vault: %s", r.subscriptionID, r.vaultName))
	}
	sem := make(chan struct{}, keyVaultParallelism)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.downloadValue(ctx, env, name)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var msg strings.Builder
	for _, name := range names {
		if e, ok := r.errs[strings.TrimSpace(name)]; ok {
			msg.WriteString("\n" + strings.TrimSpace(name) + ": " + jsonString(e))
			delete(r.errs, strings.TrimSpace(name))
		}
	}
	if msg.Len() > 0 {
		return errors.New(msg.String())
	}
	return nil
}

func (r *keyVaultRun) downloadValue(ctx context.Context, env *Env, name string) {
	env.Host.Debug("Promise for downloading secret value for: " + name)
	name = strings.TrimSpace(name)
	env.logf("Downloading secret value for: %s.", name)
	value, err := r.client.getSecret(ctx, name)
	if err != nil {
		msg := r.errorMessage(env, err)
		r.mu.Lock()
		r.errs[name] = msg
		r.mu.Unlock()
		return
	}
	if err := setVaultVariable(env, name, value); err != nil {
		r.mu.Lock()
		r.errs[name] = err.Error()
		r.mu.Unlock()
	}
}

// accessDeniedHint is AccessDeniedError's text after the service's message.
const accessDeniedHint = ". The specified Azure service connection needs to have Get, List secret management permissions on the selected key vault. To set these permissions, download the ProvisionKeyVaultPermissions.ps1 script from build/release logs and execute it, or set them from the Azure portal."

// errorMessage is KeyVault.getError: a 403 gets the permissions hint and the
// ProvisionKeyVaultPermissions.ps1 attachment.
func (r *keyVaultRun) errorMessage(env *Env, err error) string {
	var ve *vaultError
	if errors.As(err, &ve) && ve.StatusCode == http.StatusForbidden && ve.Message != "" {
		r.provisionScript(env)
		return ve.Message + accessDeniedHint
	}
	return err.Error()
}

// provisionScript writes ProvisionKeyVaultPermissions.ps1 to Agent.BuildDirectory (once
// per run) and attaches it to the step. Keystage's script grants the permissions with
// the az-style CLI, which works against Azure and against Keystage alike.
func (r *keyVaultRun) provisionScript(env *Env) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scriptOut {
		return
	}
	r.scriptOut = true
	dir, _ := env.Host.Variable("Agent.BuildDirectory")
	if dir == "" {
		dir = env.WorkingDirectory
	}
	path := filepath.Join(dir, "ProvisionKeyVaultPermissions.ps1")
	if err := os.WriteFile(path, []byte(provisionScriptText(r.scheme, r.subscriptionID, r.servicePrincipalID, r.vaultName)), 0o644); err != nil {
		env.logf("Could not save content to file. Failed with an error %s", err)
		return
	}
	env.logf("Uploading %s as attachment", path)
	env.logf("##vso[task.uploadfile]%s", logcmd.EscapeData(path))
}

func provisionScriptText(scheme, subscriptionID, principalID, vault string) string {
	return fmt.Sprintf(`$ErrorActionPreference="Stop";
# Grants the service connection's identity (%s, scheme %s) the secret permissions
# AzureKeyVault@2 needs on key vault %s: Get and List.
keystage account set --subscription %s;
$objectId = (keystage ad sp show --id %s --query id --output tsv);
keystage keyvault set-policy --name %s --object-id $objectId --secret-permissions get list;
`, principalID, scheme, vault, subscriptionID, principalID, vault)
}

// setVaultVariable is KeyVault.setVaultVariable: empty values are skipped; a value is set
// under its name without version and under the name as given; a multi-line value is
// flattened when it is JSON, else each line is registered as a secret first.
func setVaultVariable(env *Env, name, value string) error {
	if value == "" {
		return nil
	}
	base, _, _ := strings.Cut(name, "/")
	set := func(v string) error {
		if err := env.Host.SetVariable(base, v, true, false); err != nil {
			return err
		}
		if name != base {
			return env.Host.SetVariable(name, v, true, false)
		}
		return nil
	}
	if v, _ := env.Host.Variable("SYSTEM_DONOTMASKMULTILINESECRETS"); strings.EqualFold(v, "true") || !strings.Contains(value, "\n") {
		return set(value)
	}
	if flat, ok := flattenJSON(value); ok {
		env.logf("Value of secret %s has been converted to single line.", name)
		return set(flat)
	}
	// Keystage registers every line: the real task skips lines that are not valid
	// JavaScript regular expressions, which would leave them unmasked.
	for _, line := range strings.Split(value, "\n") {
		env.logf("##vso[task.setsecret]%s", logcmd.EscapeData(line))
	}
	return set(value)
}

// flattenJSON is tryFlattenJson: a JSON object or array put on one line. Member order,
// numbers and escapes are kept as written (JSON.stringify would also normalize them).
func flattenJSON(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') || !json.Valid([]byte(t)) {
		return "", false
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(t)); err != nil {
		return "", false
	}
	return b.String(), true
}

// jsonString is JSON.stringify of a string.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
