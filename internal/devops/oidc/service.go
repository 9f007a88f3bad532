package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
)

// Job is what a valid job access token (System.AccessToken) says about its job.
type Job struct {
	OrgID        string
	ProjectID    string
	DefinitionID int
	RunID        int64
	PlanID       string
	JobID        string
	Expires      time.Time
}

// JobTokens validates job access tokens; the run orchestrator implements it.
type JobTokens interface {
	// ValidateJobToken returns the job a token was issued to. A token that is malformed,
	// unknown, expired, or whose job has ended is an error (any error is answered 401).
	ValidateJobToken(ctx context.Context, raw string) (Job, error)
}

// Connection is a service connection as the token endpoint needs it.
type Connection struct {
	ID     string
	Name   string
	Scheme string
	// Subject is the subject of the connection's tokens, as the connection shows it to
	// users. When empty it is Subject(OrgName, ProjectName, Name).
	Subject     string
	OrgName     string
	ProjectName string
}

// Connections looks service connections up; the DevOps domain implements it.
type Connections interface {
	// Connection returns connection id as shared with projectID; a connection that does
	// not exist or is not shared with the project is an error wrapping devops.ErrNotFound.
	Connection(ctx context.Context, orgID, projectID, id string) (Connection, error)
	// PipelineAuthorized reports whether pipeline definitionID of projectID may use the
	// connection (it is authorized for all pipelines, or for this one).
	PipelineAuthorized(ctx context.Context, orgID, projectID, connectionID string, definitionID int) (bool, error)
}

// Service answers the oidctoken endpoint: it checks the job access token against the job
// named in the URL and the pipeline's permission on the connection, then mints a token.
type Service struct {
	issuer *Issuer
	jobs   JobTokens
	conns  Connections
	log    *slog.Logger
}

// NewService returns a Service; every argument but logger is required.
func NewService(issuer *Issuer, jobs JobTokens, conns Connections, logger *slog.Logger) (*Service, error) {
	if issuer == nil || jobs == nil || conns == nil {
		return nil, errors.New("oidc: NewService needs an issuer, job tokens and connections")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{issuer: issuer, jobs: jobs, conns: conns, log: logger}, nil
}

// Issuer returns the issuer the service mints with.
func (s *Service) Issuer() *Issuer { return s.issuer }

// TokenRequest is one call of the oidctoken endpoint, as the transport decoded it.
type TokenRequest struct {
	// OrgID is the organization the URL names (resolved by the transport).
	OrgID string
	// ProjectID, Hub, PlanID and JobID are the URL's route values
	// ({scopeIdentifier}/_apis/distributedtask/hubs/{hub}/plans/{planId}/jobs/{jobId}).
	ProjectID string
	Hub       string
	PlanID    string
	JobID     string
	// ServiceConnectionID is the serviceConnectionId query value.
	ServiceConnectionID string
	// JobToken is the bearer token the caller presented.
	JobToken string
	// Claims are the decoded request body (see DecodeClaims).
	Claims map[string]string
}

// LogValue keeps the job token out of logs.
func (r TokenRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("org", r.OrgID), slog.String("project", r.ProjectID),
		slog.String("plan", r.PlanID), slog.String("job", r.JobID), slog.String("connection", r.ServiceConnectionID))
}

// Error codes (fault.Error.Code: the typeKey of the Azure DevOps error body).
const (
	CodeUnauthorized      = devops.CodeUnauthorized
	CodeAccessDenied      = devops.CodeAccessDenied
	CodeEndpointNotFound  = devops.CodeEndpointNotFound
	CodeArgument          = devops.CodeArgument
	CodeNotAuthorizedPerm = "ResourceNotAuthorizedException"
	CodeSchemeUnsupported = "InvalidServiceEndpointSchemeException"
)

// CreateToken validates r and returns a signed token for its service connection. Errors
// are *fault.Error: 401 for a missing, invalid or expired job token (one whose job has
// ended included), 403 for a token of another job or a pipeline the connection is not
// authorized for, 404 for an unknown connection, 400 for a bad request.
func (s *Service) CreateToken(ctx context.Context, r TokenRequest) (Token, error) {
	if r.JobToken == "" {
		return Token{}, fault.New(fault.Unauthorized, CodeUnauthorized, "The request needs the job access token (System.AccessToken) as a Bearer token.")
	}
	job, err := s.jobs.ValidateJobToken(ctx, r.JobToken)
	if err != nil {
		s.log.InfoContext(ctx, "oidc token refused: job token invalid", "request", r, "err", err)
		return Token{}, fault.New(fault.Unauthorized, CodeUnauthorized,
			"The job access token is invalid or expired: job access tokens are valid only while their job runs.").Wrap(err)
	}
	if !strings.EqualFold(job.OrgID, r.OrgID) || !strings.EqualFold(job.ProjectID, r.ProjectID) ||
		!strings.EqualFold(job.PlanID, r.PlanID) || !strings.EqualFold(job.JobID, r.JobID) {
		s.log.WarnContext(ctx, "oidc token refused: job token of another job", "request", r, "token_job", job.JobID, "token_plan", job.PlanID)
		return Token{}, fault.New(fault.Forbidden, CodeAccessDenied,
			"The job access token was issued to another job: a job may request tokens only through its own System.OidcRequestUri.")
	}
	if r.ServiceConnectionID == "" {
		return Token{}, fault.New(fault.BadRequest, CodeArgument,
			"The serviceConnectionId query parameter is required: Keystage issues OIDC tokens for service connections only.")
	}
	if err := checkClaims(r.Claims); err != nil {
		return Token{}, err
	}
	conn, err := s.conns.Connection(ctx, job.OrgID, job.ProjectID, r.ServiceConnectionID)
	if errors.Is(err, devops.ErrNotFound) {
		return Token{}, fault.New(fault.NotFound, CodeEndpointNotFound,
			"Service connection %s was not found in this project, or it is not shared with it.", clip(r.ServiceConnectionID))
	}
	if err != nil {
		return Token{}, fmt.Errorf("oidc: look up service connection: %w", err)
	}
	ok, err := s.conns.PipelineAuthorized(ctx, job.OrgID, job.ProjectID, conn.ID, job.DefinitionID)
	if err != nil {
		return Token{}, fmt.Errorf("oidc: check pipeline permission: %w", err)
	}
	if !ok {
		s.log.WarnContext(ctx, "oidc token refused: pipeline not authorized", "request", r, "definition", job.DefinitionID)
		return Token{}, fault.New(fault.Forbidden, CodeNotAuthorizedPerm,
			"Pipeline %d is not authorized to use service connection %s. Permit access to the connection for this pipeline (or for all pipelines) in its pipeline permissions.",
			job.DefinitionID, conn.Name)
	}
	if !strings.EqualFold(conn.Scheme, devops.SchemeWorkloadIdentityFederation) {
		return Token{}, fault.New(fault.BadRequest, CodeSchemeUnsupported,
			"Service connection %s uses the %s scheme; OIDC tokens are issued only for connections that use workload identity federation.", conn.Name, conn.Scheme)
	}
	sub := conn.Subject
	if sub == "" {
		sub = Subject(conn.OrgName, conn.ProjectName, conn.Name)
	}
	return s.issuer.Mint(ctx, job.OrgID, sub)
}

// reservedClaims are the claims the issuer sets; a request may not ask for them.
var reservedClaims = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true}

// checkClaims accepts an empty claims request. Keystage does not add caller-chosen claims
// to tokens other services trust, so a request naming claims is refused, naming them.
func checkClaims(claims map[string]string) error {
	if len(claims) == 0 {
		return nil
	}
	names := make([]string, 0, len(claims))
	reserved := false
	for k := range claims {
		names = append(names, clip(k))
		reserved = reserved || reservedClaims[strings.ToLower(k)]
	}
	slices.Sort(names)
	if reserved {
		return fault.New(fault.BadRequest, CodeArgument, "The claims %s are set by the issuer and cannot be requested.", strings.Join(names, ", "))
	}
	return fault.New(fault.BadRequest, CodeArgument,
		"Keystage does not add requested claims to OIDC tokens (requested: %s); send an empty body or {}.", strings.Join(names, ", "))
}

// clip bounds caller-supplied text quoted in a message.
func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
