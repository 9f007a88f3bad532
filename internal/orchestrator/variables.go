package orchestrator

import (
	"strconv"
	"time"

	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// OIDCRequestURI returns System.OidcRequestUri of a job: the OIDC token endpoint tasks call
// with the job's access token,
// {collectionUri}{projectId}/_apis/distributedtask/hubs/build/plans/{planId}/jobs/{jobId}/oidctoken.
func (s *Service) OIDCRequestURI(orgName, projectID, planID, jobID string) string {
	return s.CollectionURI(orgName) + projectID + "/_apis/distributedtask/hubs/" + agentproto.HubName +
		"/plans/" + planID + "/jobs/" + jobID + "/oidctoken"
}

// serverVariables are the predefined variables only the server knows, appended after the
// run state's own (so they win): project and definition ids, plan and timeline ids, the
// OIDC request URI, who queued the run. System.AccessToken is added when the job is handed
// out, with a token minted for it.
func (r *activeRun) serverVariables(jobID string) []job.Variable {
	rec := r.rec
	v := func(name, value string) job.Variable { return job.Variable{Name: name, Value: value, ReadOnly: true} }
	vars := []job.Variable{
		v("System.CollectionId", r.project.OrgID),
		v("System.TeamProjectId", r.project.ID),
		v("System.DefinitionId", strconv.Itoa(rec.Pipeline.ID)),
		v("Build.DefinitionVersion", strconv.Itoa(rec.Pipeline.Revision)),
		v("System.PlanId", rec.PlanID),
		v("System.TimelineId", rec.PlanID),
		v("System.JobId", jobID),
		v("System.OidcRequestUri", r.s.OIDCRequestURI(r.project.OrgName, r.project.ID, rec.PlanID, jobID)),
		v("Build.ContainerId", strconv.FormatInt(rec.ID, 10)),
		v("Build.QueuedBy", rec.RequestedBy.DisplayName),
		v("Build.QueuedById", rec.RequestedBy.ID),
		v("Build.RequestedForId", rec.RequestedFor.ID),
		v("Build.RequestedForEmail", rec.RequestedFor.UniqueName),
		v("Build.Repository.ID", rec.Repository.ID),
		v("Build.QueueTime", rec.QueueTime.Format(time.RFC3339)),
	}
	out := vars[:0]
	for _, x := range vars {
		if x.Value != "" {
			out = append(out, x)
		}
	}
	return out
}

func timeMinutes(n int) time.Duration { return time.Duration(n) * time.Minute }
