package server

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/keystage/keystage/internal/arm"
	"github.com/keystage/keystage/internal/arm/armhttp"
	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/graph"
	"github.com/keystage/keystage/internal/identity"
	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/keyvault"
	"github.com/keystage/keystage/internal/keyvault/kvhttp"
	"github.com/keystage/keystage/internal/orchestrator"
)

// services are the domain services behind the HTTP surfaces: the identity provider, the
// management plane and the Key Vault data plane, with their background work.
type services struct {
	identity *identity.Service
	arm      *arm.Service
	// directory is the identity service as the management plane sees it (also the source of
	// group memberships).
	directory *arm.IdentityDirectory
	secrets   *keyvault.Service
	audit     *keyvault.Audit
	runs      *orchestrator.Service // set by openRuns
	conns     *connections          // set by openConnections
	// tenantID is the default directory; adminAppID and adminObjectID are the administrator
	// application's client id and its service principal's object id (an Owner at "/").
	tenantID, adminAppID, adminObjectID string
	// vaultResource is the challenge resource and token audience of vault host names.
	vaultResource string
	// mgmtAudiences are the accepted audiences of management-plane tokens.
	mgmtAudiences []string
}

// openServices creates the domain services over the barrier and bootstraps, on first
// start, the default directory (tenant and administrator application, whose credential
// goes to DataDir/admin.json) and the default subscription, where the administrator is an
// Owner.
func (s *Server) openServices(ctx context.Context) (*services, error) {
	sv := &services{vaultResource: kvhttp.ChallengeResource(s.cfg.VaultSuffix, s.Port())}
	sv.mgmtAudiences = []string{armhttp.AudienceManagement, armhttp.AudienceManagementCore, s.url + "/"}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if s.cfg.IssuerRoots != nil {
		roots = s.cfg.IssuerRoots.Clone()
	}
	roots.AppendCertsFromPEM(s.ca.CertPEM())
	resources := append([]string{sv.vaultResource, kvhttp.AzureResource}, sv.mgmtAudiences...)
	resources = append(resources, graph.Audiences...)
	resources = append(resources, devopsResource)
	sv.identity, err = identity.New(s.store, s.store, identity.Config{
		Authority: s.url,
		Resources: resources,
		Federation: federation.Config{
			TrustedIssuerPrefixes: append([]string{s.url + "/"}, s.cfg.TrustedIssuers...),
			RootCAs:               roots,
		},
		Now: s.now,
	}, s.log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	adminFile := filepath.Join(s.cfg.DataDir, datadir.AdminFile)
	_, statErr := os.Stat(adminFile)
	boot, err := sv.identity.Bootstrap(ctx, identity.BootstrapOptions{NewAdminSecret: errors.Is(statErr, os.ErrNotExist)})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	sv.tenantID, sv.adminAppID, sv.adminObjectID = boot.Tenant.ID, boot.Admin.AppID, boot.Admin.ServicePrincipalID
	sv.secrets = keyvault.New(s.store, s.store, keyvault.Config{Logger: s.log, Now: s.now, SweepInterval: s.cfg.KeyVaultSweepInterval})
	sv.audit = keyvault.NewAudit(s.store, keyvault.AuditConfig{Logger: s.log, Now: s.now})
	sv.directory = arm.NewIdentityDirectory(sv.identity, s.url+"/msi/token")
	sv.arm, err = arm.New(ctx, s.store, sv.directory, arm.Config{
		VaultSuffix: s.cfg.VaultSuffix, VaultPort: s.Port(), VaultData: sv.secrets, Logger: s.log, Now: s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	sub, err := sv.arm.Bootstrap(ctx, boot.Tenant.ID, boot.Admin.ServicePrincipalID, arm.PrincipalServicePrincipal)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if boot.AdminSecret != nil {
		cred := datadir.AdminCredential{
			URL: s.url, TenantID: boot.Tenant.ID, ClientID: boot.Admin.AppID, ObjectID: boot.Admin.ServicePrincipalID,
			ClientSecret: boot.AdminSecret.SecretText, CAFile: s.CAFile(), SubscriptionID: sub.ID,
		}
		b, err := json.MarshalIndent(cred, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("server: admin credential: %w", err)
		}
		if err := writeFileAtomic(adminFile, append(b, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("server: write admin credential: %w", err)
		}
		s.log.Info("wrote the administrator credential", "path", adminFile, "credential", cred)
	}
	return sv, nil
}

// runBackground runs the services' background work until ctx ends: the purges of deleted
// secrets and vaults past their retention, the audit flusher, the watch of pipeline
// permission checkpoints, and the orchestrator, which it closes. The returned wait blocks
// until all of it has stopped, which includes the audit trail's last flush.
func (sv *services) runBackground(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() { sv.secrets.Run(ctx) })
	wg.Go(func() { sv.audit.Run(ctx) })
	wg.Go(func() { sv.arm.Run(ctx) })
	wg.Go(func() { stopRuns(ctx, sv.runs) })
	wg.Go(func() { sv.conns.run(ctx) })
	return wg.Wait
}
