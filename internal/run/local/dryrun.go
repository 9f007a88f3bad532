package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/agent"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/task"
)

// DryRun is an Executor that runs nothing: it lists every step of the job as the agent
// would number and name it, reports enabled steps Succeeded and disabled ones (and `checkout: none`) Skipped, and
// the job Succeeded. Driving a State with it shows which stages and jobs a run would start,
// in which order, with which matrix legs and variables, without touching the machine.
// Steps' own conditions are not evaluated, and a runtime matrix reading outputs of earlier
// jobs expands to one job because dry-run jobs set no outputs.
type DryRun struct{}

var _ Executor = DryRun{}

// Execute implements Executor.
func (DryRun) Execute(ctx context.Context, req job.Request, sink agent.Sink) job.Report {
	rep := job.Report{Result: job.Succeeded}
	for i, st := range req.Job.Steps {
		ref := fmt.Sprintf("%s@%d", st.Task.Name, st.Task.Version)
		name := st.DisplayName
		if name == "" {
			name = st.Task.Name
		}
		step := agent.Step{Index: i, Name: st.Name, DisplayName: name, Task: ref}
		sink.StepStarted(step)
		r := job.StepReport{Name: st.Name, DisplayName: name, Result: job.Succeeded}
		if !st.Enabled || strings.EqualFold(st.Task.Name, "Checkout") && task.IsNone(st.Inputs) {
			r.Result = job.Skipped
		} else {
			line := fmt.Sprintf("Would run: %s (%s)", name, ref)
			if st.Condition != "" {
				line += " if " + st.Condition
			}
			sink.StepLine(step, line)
		}
		sink.StepFinished(step, r)
		rep.Steps = append(rep.Steps, r)
	}
	return rep
}
