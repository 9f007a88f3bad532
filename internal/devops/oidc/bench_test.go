package oidc_test

import (
	"context"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/identity/identitytest"
)

// BenchmarkMint measures signing one service-connection token with a cached key.
func BenchmarkMint(b *testing.B) {
	st := identitytest.Open(b, "sqlite")
	is, err := oidc.New(st, oidc.Config{ServerURL: "https://keystage.test"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := is.Mint(ctx, orgID, "sc://a/b/c"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Mint(ctx, orgID, "sc://fabrikam/webapp/kv-connection"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateToken measures the oidctoken endpoint's work: job token check,
// connection lookup, permission check and signing (with in-memory stand-ins).
func BenchmarkCreateToken(b *testing.B) {
	st := identitytest.Open(b, "sqlite")
	is, err := oidc.New(st, oidc.Config{ServerURL: "https://keystage.test", Now: time.Now}, nil)
	if err != nil {
		b.Fatal(err)
	}
	job := oidc.Job{OrgID: orgID, ProjectID: projectID, DefinitionID: 7, PlanID: planID, JobID: jobID}
	conns := fakeConns{conns: map[string]oidc.Connection{connID: {ID: connID, Name: "c", Scheme: "WorkloadIdentityFederation", OrgName: "o", ProjectName: "p"}},
		authorized: map[string]bool{connID: true}}
	svc, err := oidc.NewService(is, fakeJobs{"t": job}, conns, nil)
	if err != nil {
		b.Fatal(err)
	}
	req := oidc.TokenRequest{OrgID: orgID, ProjectID: projectID, PlanID: planID, JobID: jobID, ServiceConnectionID: connID, JobToken: "t"}
	ctx := context.Background()
	if _, err := svc.CreateToken(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.CreateToken(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeClaims(b *testing.B) {
	body := []byte(`{}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := oidc.DecodeClaims(body); err != nil {
			b.Fatal(err)
		}
	}
}
