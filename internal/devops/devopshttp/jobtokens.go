package devopshttp

import (
	"context"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator"
)

// OrchestratorJobTokens verifies job access tokens with the run orchestrator, for
// Config.JobTokens. A job caller may read in its own project only, while its job runs.
func OrchestratorJobTokens(runs *orchestrator.Service) JobTokens { return jobTokens{runs} }

type jobTokens struct{ runs *orchestrator.Service }

func (j jobTokens) VerifyJobToken(ctx context.Context, raw string) (devops.Caller, bool, error) {
	if !orchestrator.LooksLikeJobToken(raw) {
		return devops.Caller{}, false, nil
	}
	c, err := j.runs.ValidateJobToken(ctx, raw)
	if err != nil {
		return devops.Caller{}, true, err
	}
	return devops.Caller{
		Kind:        devops.CallerJob,
		DisplayName: c.ProjectName + " Build Service (" + c.OrgName + ")",
		OrgID:       c.OrgID,
		ProjectID:   c.ProjectID,
	}, true, nil
}
