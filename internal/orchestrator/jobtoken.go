package orchestrator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keystage/keystage/internal/fault"
)

// jobTokenAudience is the audience of job access tokens; nothing else accepts them.
const jobTokenAudience = "keystage:job"

// jobTokenKeyID is the "kid" header of job access tokens, which tells them apart from the
// identity provider's RS256 access tokens without verifying anything.
const jobTokenKeyID = "keystage-job-v1"

// JobClaims is what a valid job access token (System.AccessToken) proves: the job it was
// issued to and until when. Tokens are HS256 JWTs signed with a key derived from the
// barrier's MAC key, never 52 characters long (Node tasks would take them for PATs).
type JobClaims struct {
	OrgID        string    `json:"orgId"`
	OrgName      string    `json:"org"`
	ProjectID    string    `json:"projectId"`
	ProjectName  string    `json:"project"`
	DefinitionID int       `json:"definitionId"`
	RunID        int64     `json:"runId"`
	PlanID       string    `json:"planId"`
	JobID        string    `json:"jobId"`
	Expiry       time.Time `json:"-"`
}

// LogValue identifies the job without the token.
func (c JobClaims) LogValue() slog.Value {
	return slog.GroupValue(slog.String("org", c.OrgName), slog.String("project", c.ProjectID),
		slog.Int64("run", c.RunID), slog.String("job", c.JobID))
}

// tokenLifetime bounds a job token: the job's timeout plus its cancel timeout plus a lease,
// or a day for a job without timeout. A token also dies with its job (ValidateJobToken).
func (s *Service) tokenLifetime(timeout, cancelTimeout int) time.Duration {
	if timeout <= 0 {
		return 24 * time.Hour
	}
	if cancelTimeout <= 0 {
		cancelTimeout = 5
	}
	return time.Duration(timeout+cancelTimeout)*time.Minute + s.cfg.LeaseDuration + 5*time.Minute
}

// issueJobToken mints the System.AccessToken of a job being handed to an agent.
func (s *Service) issueJobToken(rec jobRecord) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: s.tokenKey}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", jobTokenKeyID))
	if err != nil {
		return "", fmt.Errorf("orchestrator: job token signer: %w", err)
	}
	now := s.now()
	life := s.tokenLifetime(rec.Request.Job.TimeoutInMinutes, rec.Request.Job.CancelTimeoutInMinutes)
	std := jwt.Claims{
		Issuer:    s.serverURL,
		Subject:   "job:" + rec.JobID,
		Audience:  jwt.Audience{jobTokenAudience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry:    jwt.NewNumericDate(now.Add(life)),
		ID:        randomToken(12),
	}
	c := JobClaims{
		OrgID: rec.Project.OrgID, OrgName: rec.Project.OrgName, ProjectID: rec.Project.ID, ProjectName: rec.Project.Name,
		DefinitionID: rec.Pipeline.ID, RunID: rec.RunID, PlanID: rec.PlanID, JobID: rec.JobID,
	}
	tok, err := jwt.Signed(sig).Claims(std).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("orchestrator: sign job token: %w", err)
	}
	return tok, nil
}

// LooksLikeJobToken reports whether s has the shape of a job access token (a JWT whose
// header names the job token key), so that a transport can send it to ValidateJobToken
// rather than to other verifiers. It does not verify anything.
func LooksLikeJobToken(s string) bool {
	head, _, ok := strings.Cut(s, ".")
	if !ok || len(head) > 512 || strings.Count(s, ".") != 2 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	return json.Unmarshal(b, &h) == nil && h.Alg == "HS256" && h.Kid == jobTokenKeyID
}

// ValidateJobToken verifies a job access token and returns its claims. It fails with a 401
// fault when the signature, audience or expiry is wrong, and also once the job has ended
// (finished, canceled and stopped, lost, or its run deleted): a job token is useless after
// its job.
func (s *Service) ValidateJobToken(ctx context.Context, raw string) (JobClaims, error) {
	denied := func(why string) error {
		return fault.New(fault.Unauthorized, CodeAgentUnauthorized, "The job access token is not valid: %s.", why)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return JobClaims{}, denied("it is not a signed token")
	}
	var std jwt.Claims
	var c JobClaims
	if err := tok.Claims(s.tokenKey, &std, &c); err != nil {
		return JobClaims{}, denied("its signature does not verify")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: s.serverURL, AnyAudience: jwt.Audience{jobTokenAudience}, Time: s.now()}, 0); err != nil {
		return JobClaims{}, denied("it has expired or was issued for something else")
	}
	if c.JobID == "" || std.Subject != "job:"+c.JobID {
		return JobClaims{}, denied("it names no job")
	}
	if !s.leases.live(c.JobID) {
		return JobClaims{}, denied("its job is no longer running")
	}
	c.Expiry = std.Expiry.Time()
	return c, nil
}
