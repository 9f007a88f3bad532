package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/pipeline/compile"
	"github.com/keystage/keystage/internal/pipeline/expand"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// planned is a pipeline compiled for one run, with each job's queue resolved.
type planned struct {
	plan      *plan.Plan
	finalYAML string
	commit    string
	message   string
	// pools maps "stage/job" (lower case) to where the job runs.
	pools map[string]jobPool
}

// jobPool is where one plan job runs and what its agent must offer.
type jobPool struct {
	Queue   QueueRef `json:"queue"`
	Demands []Demand `json:"demands,omitempty"`
}

func poolKey(stage, job string) string { return strings.ToLower(stage) + "/" + strings.ToLower(job) }

// compileVariables are the predefined variables `${{ variables.X }}` may read at compile
// time, with the definition's and the queue's non-secret variables.
func compileVariables(p Project, pl Pipeline, o QueueOptions, branch string) map[string]string {
	vars := map[string]string{}
	for _, v := range pl.Variables {
		if !v.Secret {
			vars[v.Name] = v.Value
		}
	}
	for _, v := range o.Variables {
		if !v.Secret {
			vars[v.Name] = v.Value
		}
	}
	reason := o.Reason
	if reason == "" {
		reason = "Manual"
	}
	maps.Copy(vars, map[string]string{
		"Build.Reason":           reason,
		"Build.SourceBranch":     branch,
		"Build.SourceBranchName": branch[strings.LastIndex(branch, "/")+1:],
		"Build.DefinitionName":   pl.Name,
		"Build.Repository.Name":  pl.Repository.Name,
		"System.TeamProject":     p.Name,
		"System.TeamProjectId":   p.ID,
		"System.DefinitionId":    fmt.Sprint(pl.ID),
		"System.CollectionId":    p.OrgID,
	})
	return vars
}

// plan compiles the pipeline for a run (or a preview) and resolves its pools.
func (s *Service) planRun(ctx context.Context, p Project, pl Pipeline, o QueueOptions, branch string) (*planned, error) {
	out := &planned{pools: map[string]jobPool{}}
	if pl.Classic != nil {
		if o.YAMLOverride != "" {
			return nil, badRequest("A YAML override cannot be used with a classic pipeline.")
		}
		if len(o.Parameters) > 0 {
			return nil, badRequest("Classic pipelines have no runtime parameters; templateParameters must be empty.")
		}
		pn, err := classicPlan(pl.Classic)
		if err != nil {
			return nil, err
		}
		out.plan = pn
	} else {
		if pl.YAMLPath == "" {
			return nil, badRequest("The pipeline has neither a YAML file nor classic tasks.")
		}
		src, err := s.openSource(ctx, pl.Repository, branch, o.Commit)
		if err != nil {
			return nil, err
		}
		defer src.close()
		out.commit, out.message = src.commit, src.message
		fsys := src.fsys
		if o.YAMLOverride != "" {
			fsys = overlayFS{base: fsys, name: strings.TrimPrefix(pl.YAMLPath, "/"), content: []byte(o.YAMLOverride)}
		}
		name := strings.TrimPrefix(pl.YAMLPath, "/")
		res, diags := expand.Expand(fsys, name, expand.Options{Parameters: o.Parameters, Variables: compileVariables(p, pl, o, branch)})
		if diags.HasErrors() {
			return nil, invalidPipeline(diags.Err())
		}
		pn, more := compile.Plan(res)
		if err := more.Sorted().Err(); err != nil {
			return nil, invalidPipeline(err)
		}
		final, err := syntax.Encode(res.Pipeline)
		if err != nil {
			return nil, fmt.Errorf("orchestrator: %w", err)
		}
		out.plan, out.finalYAML = pn, string(final)
	}
	if err := s.resolvePools(ctx, p, pl, out); err != nil {
		return nil, err
	}
	return out, nil
}

// invalidPipeline reports compile diagnostics as a 400 with every error, one per line.
func invalidPipeline(err error) error {
	var inv *syntax.InvalidError
	if errors.As(err, &inv) {
		var lines []string
		for _, d := range inv.Diagnostics {
			if d.Severity == syntax.Error {
				lines = append(lines, d.String())
			}
		}
		return fault.New(fault.BadRequest, CodePipelineInvalid, "The pipeline is not valid. %s", strings.Join(lines, "\n")).Wrap(err)
	}
	return fault.New(fault.BadRequest, CodePipelineInvalid, "The pipeline is not valid. %v", err).Wrap(err)
}

// resolvePools finds the queue and demands of every plan job. The pool comes from the job's
// `pool:` (already inherited from its stage and the root by the compiler), else from the
// definition's default queue, else the hosted pool. Classic phases name queues by id.
func (s *Service) resolvePools(ctx context.Context, p Project, pl Pipeline, out *planned) error {
	cache := map[PoolRef]QueueRef{}
	for si, st := range out.plan.Stages {
		for ji, j := range st.Jobs {
			var ref PoolRef
			var demands []string
			switch {
			case pl.Classic != nil:
				ph := pl.Classic.Phases[ji]
				ref.QueueID = ph.QueueID
				if ref.QueueID == 0 {
					ref.QueueID = pl.QueueID
				}
				demands = ph.Demands
			case j.Pool != nil && (j.Pool.Name != "" || j.Pool.VMImage != ""):
				ref.Name, ref.VMImage = j.Pool.Name, j.Pool.VMImage
				demands = j.Pool.Demands
			default:
				ref.QueueID = pl.QueueID
				if j.Pool != nil {
					demands = j.Pool.Demands
				}
			}
			if ref.Name != "" {
				ref.VMImage = "" // a named pool ignores vmImage
			}
			ds, err := ParseDemands(demands)
			if err != nil {
				return badRequest("Job %s: %v", jobLabel(st.Name, j.Name), err)
			}
			q, ok := cache[ref]
			if !ok {
				if q, err = s.cfg.Pools.ResolvePool(ctx, p, ref); err != nil {
					var fe *fault.Error
					if errors.As(err, &fe) && fe.Kind != fault.Internal {
						return fault.New(fault.BadRequest, CodePipelineInvalid,
							"Job %s: %s", jobLabel(st.Name, j.Name), fe.Message).Wrap(err)
					}
					return err
				}
				cache[ref] = q
			}
			out.pools[poolKey(out.plan.Stages[si].Name, j.Name)] = jobPool{Queue: q, Demands: ds}
		}
	}
	return nil
}

func jobLabel(stage, job string) string {
	if stage == compile.DefaultStageName {
		return job
	}
	return stage + "." + job
}

// classicPlan compiles a classic process: one implicit stage, one job per phase, the
// phase's tasks as steps after the implicit checkout.
func classicPlan(cp *devops.ClassicProcess) (*plan.Plan, error) {
	if len(cp.Phases) == 0 {
		return nil, badRequest("The classic pipeline has no agent jobs.")
	}
	st := plan.Stage{Name: compile.DefaultStageName, DependsOn: []string{}}
	for i, ph := range cp.Phases {
		name := ph.Name
		if name == "" {
			name = fmt.Sprintf("Job_%d", i+1)
		}
		j := plan.Job{
			Name:                   name,
			DisplayName:            ph.DisplayName,
			DependsOn:              append([]string{}, ph.DependsOn...),
			Condition:              ph.Condition,
			TimeoutInMinutes:       ph.TimeoutInMinutes,
			CancelTimeoutInMinutes: ph.CancelTimeoutInMinutes,
			Pool:                   &plan.Pool{Demands: ph.Demands},
		}
		if j.TimeoutInMinutes == 0 {
			j.TimeoutInMinutes = compile.DefaultTimeoutInMinutes
		}
		if j.CancelTimeoutInMinutes == 0 {
			j.CancelTimeoutInMinutes = compile.DefaultCancelTimeoutInMinutes
		}
		j.Steps = []plan.Step{{Task: plan.Task{Name: "Checkout", Version: 1}, Inputs: map[string]string{"repository": "self"}, Enabled: true}}
		for _, cs := range ph.Steps {
			cond := cs.Condition
			if cond == "" && cs.AlwaysRun {
				cond = "always()"
			}
			j.Steps = append(j.Steps, plan.Step{
				Name:                    cs.RefName,
				DisplayName:             cs.DisplayName,
				Task:                    plan.Task{Name: cs.Task.Name, Version: cs.Task.Version},
				Inputs:                  maps.Clone(cs.Inputs),
				Condition:               cond,
				ContinueOnError:         cs.ContinueOnError,
				Enabled:                 cs.Enabled,
				Env:                     maps.Clone(cs.Env),
				TimeoutInMinutes:        cs.TimeoutInMinutes,
				RetryCountOnTaskFailure: cs.RetryCountOnTaskFailure,
			})
		}
		st.Jobs = append(st.Jobs, j)
	}
	return &plan.Plan{Stages: []plan.Stage{st}}, nil
}

// definitionVariables splits the definition's variables into root variables (non-secret,
// overridden by the YAML's own) and queue-level secrets, and applies queue-time overrides:
// a queue-time variable may set a definition variable only when it allows override.
func definitionVariables(pl Pipeline, queued []job.Variable) (root []plan.Variable, secrets []job.Variable, err error) {
	var denied []string
	for _, q := range queued {
		for _, d := range pl.Variables {
			if strings.EqualFold(d.Name, q.Name) && !d.AllowOverride {
				denied = append(denied, d.Name)
			}
		}
	}
	if len(denied) > 0 {
		return nil, nil, badRequest("The following variables cannot be set at queue time: %s. Let users override them in the pipeline's variables to set them when queuing.", strings.Join(denied, ", "))
	}
	for _, d := range pl.Variables {
		if d.Secret {
			secrets = append(secrets, job.Variable{Name: d.Name, Value: d.Value, Secret: true})
			continue
		}
		root = append(root, plan.Variable{Name: d.Name, Value: d.Value})
	}
	return root, secrets, nil
}
