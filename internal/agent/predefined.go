package agent

import (
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// AgentVersion is the Azure Pipelines agent version Keystage reports as Agent.Version.
const AgentVersion = "4.260.0"

// OS is Agent.OS for this machine: Linux, Darwin or Windows_NT.
func OS() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Darwin"
	case "windows":
		return "Windows_NT"
	}
	return runtime.GOOS
}

// OSArchitecture is Agent.OSArchitecture for this machine: X64, X86, ARM64 or ARM.
func OSArchitecture() string {
	switch runtime.GOARCH {
	case "amd64":
		return "X64"
	case "386":
		return "X86"
	case "arm64":
		return "ARM64"
	case "arm":
		return "ARM"
	}
	return strings.ToUpper(runtime.GOARCH)
}

// phaseName, instanceName and jobIdentifier are System.PhaseName, System.JobName and
// System.JobIdentifier: "{stage}.{phase}.{instance}", or "{phase}.{instance}" in the
// implicit stage "__default".
func phaseName(req *job.Request) string {
	if req.PhaseName != "" {
		return req.PhaseName
	}
	return req.JobName
}

func instanceName(req *job.Request) string {
	if req.InstanceName != "" {
		return req.InstanceName
	}
	return "__default"
}

func jobIdentifier(req *job.Request) string {
	id := phaseName(req) + "." + instanceName(req)
	if req.StageName != "" && req.StageName != "__default" {
		id = req.StageName + "." + id
	}
	return id
}

// predefined returns the variables the agent computes itself; they override any the
// request carries under the same names and are read-only.
func (e *Executor) predefined(req *job.Request, l layout) []job.Variable {
	host, _ := os.Hostname()
	name := e.cfg.AgentName
	if name == "" {
		name = host
	}
	branch := req.Repository.Branch
	branchName := branch
	if i := strings.LastIndexByte(branch, '/'); i >= 0 {
		branchName = branch[i+1:]
	}
	jobDisplay := req.JobDisplayName
	if jobDisplay == "" {
		jobDisplay = req.JobName
	}
	phaseDisplay := req.PhaseDisplayName
	if phaseDisplay == "" {
		phaseDisplay = jobDisplay
	}
	stageDisplay := req.StageDisplayName
	if stageDisplay == "" {
		stageDisplay = req.StageName
	}
	repoName := req.Repository.Name
	pos, total := req.JobPositionInPhase, req.TotalJobsInPhase
	if pos == 0 {
		pos = 1
	}
	if total == 0 {
		total = 1
	}
	attempt := func(n int) string {
		if n < 1 {
			n = 1
		}
		return strconv.Itoa(n)
	}
	kv := [][2]string{
		{"Agent.BuildDirectory", l.build},
		{"Agent.TempDirectory", l.temp},
		{"Agent.ToolsDirectory", l.tools},
		{"Agent.WorkFolder", l.work},
		{"Agent.RootDirectory", l.work},
		{"Agent.HomeDirectory", e.cfg.HomeDirectory},
		{"Agent.OS", OS()},
		{"Agent.OSArchitecture", OSArchitecture()},
		{"Agent.JobName", jobDisplay},
		{"Agent.Name", name},
		{"Agent.Id", strconv.Itoa(e.cfg.AgentID)},
		{"Agent.MachineName", host},
		{"Agent.Version", AgentVersion},
		{"Agent.IsSelfHosted", "1"},
		{"Build.BuildId", strconv.FormatInt(req.RunID, 10)},
		{"Build.BuildNumber", req.RunName},
		{"Build.SourceBranch", branch},
		{"Build.SourceBranchName", branchName},
		{"Build.SourceVersion", req.Repository.Commit},
		{"Build.SourceVersionMessage", req.Repository.Message},
		{"Build.Repository.Name", repoName},
		{"Build.Repository.Uri", req.Repository.URI},
		{"Build.Repository.Provider", req.Repository.Provider},
		{"Build.Repository.LocalPath", l.sources},
		{"Build.DefinitionName", req.PipelineName},
		{"Build.ArtifactStagingDirectory", l.staging},
		{"Build.StagingDirectory", l.staging},
		{"Build.SourcesDirectory", l.sources},
		{"Build.BinariesDirectory", l.binaries},
		{"System.DefaultWorkingDirectory", l.sources},
		{"System.ArtifactsDirectory", l.staging},
		{"System.JobId", req.JobID},
		{"System.JobName", instanceName(req)},
		{"System.JobDisplayName", jobDisplay},
		{"System.JobAttempt", attempt(req.JobAttempt)},
		{"System.JobIdentifier", jobIdentifier(req)},
		{"System.JobPositionInPhase", strconv.Itoa(pos)},
		{"System.TotalJobsInPhase", strconv.Itoa(total)},
		{"System.PhaseName", phaseName(req)},
		{"System.PhaseDisplayName", phaseDisplay},
		{"System.PhaseAttempt", attempt(req.JobAttempt)},
		{"System.StageName", req.StageName},
		{"System.StageDisplayName", stageDisplay},
		{"System.StageAttempt", attempt(req.StageAttempt)},
		{"System.HostType", "build"},
		{"System.DefinitionName", req.PipelineName},
		{"Pipeline.Workspace", l.build},
		{"Common.TestResultsDirectory", l.testResults},
	}
	out := make([]job.Variable, 0, len(kv))
	for _, p := range kv {
		out = append(out, job.Variable{Name: p[0], Value: p[1], ReadOnly: true})
	}
	return out
}

// defaults are variables an orchestrator normally provides; the agent fills them only
// when the request does not.
func defaults() []job.Variable {
	user := os.Getenv("USER")
	return []job.Variable{
		{Name: "Build.Reason", Value: "Manual", ReadOnly: true},
		{Name: "Build.RequestedFor", Value: user, ReadOnly: true},
		{Name: "System.TeamProject", Value: "local", ReadOnly: true},
		{Name: "System.CollectionUri", Value: "", ReadOnly: true},
		{Name: "System.TeamFoundationCollectionUri", Value: "", ReadOnly: true},
		{Name: "System.Debug", Value: "false"},
	}
}
