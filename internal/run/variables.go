package run

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// resolve turns the variables of one scope into job variables: groups are inlined where they
// are referenced, and `$[ ]` values are evaluated by env, which receives the variables of the
// scope resolved so far. A value that contains a secret the expression could see is secret.
func (s *State) resolve(scope string, vars []plan.Variable, env func(sofar []job.Variable) *evalEnv) ([]job.Variable, error) {
	out := make([]job.Variable, 0, len(vars))
	for _, v := range vars {
		if v.Group != "" {
			g, _ := s.group(v.Group) // New checked that every group is there
			out = append(out, g...)
			continue
		}
		jv := job.Variable{Name: v.Name, Value: v.Value, ReadOnly: v.ReadOnly}
		if text, ok := expr.RuntimeExpression(v.Value); ok {
			e := env(out)
			val, err := s.evalValue(text, e)
			if err != nil {
				return out, fmt.Errorf("%s variable %s: %w", scope, v.Name, err)
			}
			jv.Value = val
			jv.Secret = e.revealsSecret(val)
		}
		out = append(out, jv)
	}
	return out, nil
}

// rootVariables resolves the root-scope variables at run start.
func (s *State) rootVariables() ([]job.Variable, error) {
	return s.resolve("root", s.Plan.Variables, func(sofar []job.Variable) *evalEnv {
		return s.baseEnv(sofar, nil, nil)
	})
}

// stageVariables resolves a stage's variables when it starts; `$[ ]` values may read
// stageDependencies.
func (s *State) stageVariables(st *StageState) ([]job.Variable, error) {
	return s.resolve("stage "+st.Name, s.planStage(st).Variables, func(sofar []job.Variable) *evalEnv {
		return s.stageEnv(st, sofar, false)
	})
}

// jobVariables resolves a job's variables when it is ready; `$[ ]` values may read
// dependencies and stageDependencies.
func (s *State) jobVariables(st *StageState, js *JobState) ([]job.Variable, error) {
	return s.resolve("job "+js.Name, s.planJob(st, js).Variables, func(sofar []job.Variable) *evalEnv {
		return s.jobEnv(st, js, sofar, false)
	})
}

// request builds what an executor needs to run one instance.
func (s *State) request(st *StageState, js *JobState, in *Instance) job.Request {
	pj := s.planJob(st, js)
	sys := s.systemVariables(st, js, in)
	n := len(s.Variables) + len(st.Variables) + len(js.Variables) + len(in.Variables) + len(s.Options.Variables) + len(sys)
	vars := make([]job.Variable, 0, n)
	vars = append(vars, s.Variables...)
	vars = append(vars, st.Variables...)
	vars = append(vars, js.Variables...)
	vars = append(vars, in.Variables...)
	vars = append(vars, s.Options.Variables...)
	vars = append(vars, sys...)
	name := js.Name
	if in.Name != defaultInstance {
		name = js.Name + "_" + in.Name
	}
	return job.Request{
		RunID:              s.Options.RunID,
		RunName:            s.BuildNumber,
		PipelineName:       s.Options.PipelineName,
		StageName:          st.Name,
		StageDisplayName:   st.DisplayName,
		StageAttempt:       st.Attempt,
		JobName:            name,
		JobDisplayName:     in.DisplayName,
		JobAttempt:         js.Attempt,
		JobID:              in.ID,
		JobPositionInPhase: in.Position,
		TotalJobsInPhase:   in.Total,
		PhaseName:          js.Name,
		PhaseDisplayName:   js.DisplayName,
		InstanceName:       in.Name,
		Job:                *pj,
		Variables:          vars,
		Repository:         s.Options.Repository,
	}
}

// runSystemVariables are the predefined variables that are the same for every job of the run.
func (s *State) runSystemVariables() []job.Variable {
	o := s.Options
	vars := []job.Variable{
		sysVar("Build.BuildId", strconv.FormatInt(o.RunID, 10)),
		sysVar("Build.BuildNumber", s.BuildNumber),
		sysVar("Build.Reason", orDefault(o.Reason, "Manual")),
		sysVar("System.HostType", "build"),
		sysVar("System.PipelineStartTime", s.StartTime.Format("2006-01-02 15:04:05-07:00")),
	}
	add := func(name, value string) {
		if value != "" {
			vars = append(vars, sysVar(name, value))
		}
	}
	add("Build.DefinitionName", o.PipelineName)
	add("System.DefinitionName", o.PipelineName)
	add("Build.RequestedFor", o.RequestedFor)
	add("System.TeamProject", o.TeamProject)
	add("System.CollectionUri", o.CollectionURI)
	add("System.TeamFoundationCollectionUri", o.CollectionURI)
	r := o.Repository
	add("Build.SourceBranch", r.Branch)
	if r.Branch != "" {
		add("Build.SourceBranchName", r.Branch[strings.LastIndex(r.Branch, "/")+1:])
	}
	add("Build.SourceVersion", r.Commit)
	add("Build.SourceVersionMessage", r.Message)
	add("Build.Repository.Name", r.Name)
	add("Build.Repository.Uri", r.URI)
	add("Build.Repository.Provider", r.Provider)
	return vars
}

// stageSystemVariables are the predefined variables of a stage.
func stageSystemVariables(st *StageState) []job.Variable {
	return []job.Variable{
		sysVar("System.StageName", st.Name),
		sysVar("System.StageDisplayName", st.DisplayName),
		sysVar("System.StageAttempt", strconv.Itoa(st.Attempt)),
	}
}

// phaseSystemVariables are the predefined variables of a plan job (Azure's phase).
func phaseSystemVariables(js *JobState) []job.Variable {
	return []job.Variable{
		sysVar("System.PhaseName", js.Name),
		sysVar("System.PhaseDisplayName", js.DisplayName),
		sysVar("System.PhaseAttempt", strconv.Itoa(js.Attempt)),
	}
}

// systemVariables are the orchestrator's predefined variables of one instance, appended last
// to a Request's variables. Agent.* and directory variables are the executor's.
func (s *State) systemVariables(st *StageState, js *JobState, in *Instance) []job.Variable {
	vars := s.runSystemVariables()
	vars = append(vars, stageSystemVariables(st)...)
	vars = append(vars, phaseSystemVariables(js)...)
	ident := js.Name + "." + in.Name
	if st.Name != defaultInstance {
		ident = st.Name + "." + ident
	}
	vars = append(vars,
		sysVar("System.JobName", in.Name),
		sysVar("System.JobDisplayName", in.DisplayName),
		sysVar("System.JobId", in.ID),
		sysVar("System.JobAttempt", strconv.Itoa(js.Attempt)),
		sysVar("System.JobIdentifier", ident),
		sysVar("System.JobPositionInPhase", strconv.Itoa(in.Position)),
		sysVar("System.TotalJobsInPhase", strconv.Itoa(in.Total)),
		sysVar("System.JobTimeout", strconv.Itoa(s.planJob(st, js).TimeoutInMinutes)),
	)
	return vars
}

func sysVar(name, value string) job.Variable {
	return job.Variable{Name: name, Value: value, ReadOnly: true}
}
