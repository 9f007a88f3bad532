package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/oidc"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/identity/identitytest"
)

const (
	projectID = "5a8bd2ad-34d2-4e6d-bbc0-b1bfe0b8d2ac"
	planID    = "b7bbd0ba-8c7f-4c5a-9e84-d56fb52cf1b1"
	jobID     = "0d8ec07e-1f5a-44e5-a3b8-4f1e5e6e9a17"
	connID    = "1c8d4b3e-34a2-4f5f-b3c1-0c6b7b2e2a11"
)

// fakeJobs knows one valid job token per job.
type fakeJobs map[string]oidc.Job

func (f fakeJobs) ValidateJobToken(_ context.Context, raw string) (oidc.Job, error) {
	j, ok := f[raw]
	if !ok {
		return oidc.Job{}, errors.New("unknown or expired job token")
	}
	return j, nil
}

type fakeConns struct {
	conns      map[string]oidc.Connection
	authorized map[string]bool // connection id -> authorized for definition 7
}

func (f fakeConns) Connection(_ context.Context, orgID, projectID, id string) (oidc.Connection, error) {
	c, ok := f.conns[id]
	if !ok {
		return oidc.Connection{}, errors.Join(errors.New("no such connection"), devops.ErrNotFound)
	}
	return c, nil
}

func (f fakeConns) PipelineAuthorized(_ context.Context, orgID, projectID, id string, def int) (bool, error) {
	return def == 7 && f.authorized[id], nil
}

func TestCreateToken(t *testing.T) {
	st := identitytest.Open(t, "sqlite")
	clock := identitytest.NewClock(time.Unix(1_800_000_000, 0))
	is, err := oidc.New(st, oidc.Config{ServerURL: "https://keystage.test:8443", Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	job := oidc.Job{OrgID: orgID, ProjectID: projectID, DefinitionID: 7, RunID: 3, PlanID: planID, JobID: jobID}
	other := job
	other.JobID, other.PlanID = "9e4b0a8f-77ad-4f6a-9d1f-3f3c1d3a5b00", "11111111-2222-4333-8444-555555555555"
	jobs := fakeJobs{"job-token": job, "other-token": other}
	const unauth, mi = "2d9e5c4f-45b3-4a6a-c4d2-1d7c8c3f3b22", "3e0f6d5a-56c4-4b7b-d5e3-2e8d9d4a4c33"
	conns := fakeConns{
		conns: map[string]oidc.Connection{
			connID: {ID: connID, Name: "my connection", Scheme: "WorkloadIdentityFederation", OrgName: "fabrikam", ProjectName: "Web"},
			unauth: {ID: unauth, Name: "locked", Scheme: "WorkloadIdentityFederation", OrgName: "fabrikam", ProjectName: "Web"},
			mi:     {ID: mi, Name: "msi", Scheme: "ManagedServiceIdentity", OrgName: "fabrikam", ProjectName: "Web"},
		},
		authorized: map[string]bool{connID: true, mi: true},
	}
	svc, err := oidc.NewService(is, jobs, conns, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := oidc.TokenRequest{OrgID: orgID, ProjectID: projectID, Hub: "build", PlanID: planID, JobID: jobID, ServiceConnectionID: connID, JobToken: "job-token"}

	tok, err := svc.CreateToken(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Claims.Subject != "sc://fabrikam/Web/my connection" || tok.Claims.Issuer != "https://keystage.test:8443/_oidc/"+orgID {
		t.Errorf("claims = %+v", tok.Claims)
	}

	tests := []struct {
		name   string
		change func(r *oidc.TokenRequest)
		kind   fault.Kind
		code   string
	}{
		{"no job token", func(r *oidc.TokenRequest) { r.JobToken = "" }, fault.Unauthorized, oidc.CodeUnauthorized},
		{"expired or ended job token", func(r *oidc.TokenRequest) { r.JobToken = "stale" }, fault.Unauthorized, oidc.CodeUnauthorized},
		{"token of another job", func(r *oidc.TokenRequest) { r.JobToken = "other-token" }, fault.Forbidden, oidc.CodeAccessDenied},
		{"other job in the URL", func(r *oidc.TokenRequest) { r.JobID = other.JobID }, fault.Forbidden, oidc.CodeAccessDenied},
		{"other project in the URL", func(r *oidc.TokenRequest) { r.ProjectID = connID }, fault.Forbidden, oidc.CodeAccessDenied},
		{"no connection id", func(r *oidc.TokenRequest) { r.ServiceConnectionID = "" }, fault.BadRequest, oidc.CodeArgument},
		{"unknown connection", func(r *oidc.TokenRequest) { r.ServiceConnectionID = "4f1a7e6b-67d5-4c8c-e6f4-3f9eae5b5d44" }, fault.NotFound, oidc.CodeEndpointNotFound},
		{"pipeline not authorized", func(r *oidc.TokenRequest) { r.ServiceConnectionID = unauth }, fault.Forbidden, oidc.CodeNotAuthorizedPerm},
		{"connection without federation", func(r *oidc.TokenRequest) { r.ServiceConnectionID = mi }, fault.BadRequest, oidc.CodeSchemeUnsupported},
		{"claims requested", func(r *oidc.TokenRequest) { r.Claims = map[string]string{"repo": "x"} }, fault.BadRequest, oidc.CodeArgument},
		{"reserved claim", func(r *oidc.TokenRequest) { r.Claims = map[string]string{"sub": "sc://a/b/c"} }, fault.BadRequest, oidc.CodeArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.change(&r)
			_, err := svc.CreateToken(context.Background(), r)
			fe, ok := fault.As(err)
			if !ok || fe.Kind != tc.kind || fe.Code != tc.code {
				t.Fatalf("CreateToken error = %v, want kind %d code %s", err, tc.kind, tc.code)
			}
			if fe.Message == "" {
				t.Error("error has no message")
			}
		})
	}
}

func TestDecodeClaims(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[string]string
		ok   bool
	}{
		{"empty", "", nil, true},
		{"whitespace", " \r\n", nil, true},
		{"null", "null", nil, true},
		{"empty object", "{}", map[string]string{}, true},
		{"bom", "\xef\xbb\xbf{}", map[string]string{}, true},
		{"claims", `{"a":"1","b":""}`, map[string]string{"a": "1", "b": ""}, true},
		{"number value", `{"a":1}`, nil, false},
		{"nested", `{"a":{"b":"c"}}`, nil, false},
		{"array", `[]`, nil, false},
		{"string", `"x"`, nil, false},
		{"duplicate", `{"a":"1","a":"2"}`, nil, false},
		{"trailing", `{} {}`, nil, false},
		{"truncated", `{"a":`, nil, false},
		{"invalid utf8", "{\"a\":\"\xff\"}", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := oidc.DecodeClaims([]byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeClaims(%q) error = %v, want ok=%v", tc.body, err, tc.ok)
			}
			if err != nil {
				if !fault.Is(err, fault.BadRequest) {
					t.Errorf("error %v is not a 400", err)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("got[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
	big := make([]byte, oidc.MaxBodyBytes+1)
	if _, err := oidc.DecodeClaims(big); !fault.Is(err, fault.TooLarge) {
		t.Errorf("oversized body: error %v, want 413", err)
	}
}

func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{"", "null", "{}", `{"a":"b"}`, `{"a":1}`, `[`, "\xef\xbb\xbf{}", `{"a":"1","a":"2"}`, `{} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		claims, err := oidc.DecodeClaims(body)
		if err != nil {
			if fe, ok := fault.As(err); !ok || (fe.Kind != fault.BadRequest && fe.Kind != fault.TooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// What was accepted round-trips: encoding it and decoding again gives the same map.
		b, err := json.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		again, err := oidc.DecodeClaims(b)
		if err != nil || len(again) != len(claims) {
			t.Fatalf("re-decoding %s: %v, %d claims, want %d", b, err, len(again), len(claims))
		}
		for k, v := range claims {
			if again[k] != v {
				t.Fatalf("claim %q changed from %q to %q", k, v, again[k])
			}
		}
	})
}
