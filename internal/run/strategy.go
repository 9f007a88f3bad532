package run

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// defaultInstance is System.JobName of a job without strategy.
const defaultInstance = "__default"

// jobIDSpace namespaces the name-based (version 5) UUIDs used as System.JobId, so that a
// State stays a pure function of its inputs: the same run, stage, job, leg and attempt always
// get the same ID, and different runs get different IDs.
var jobIDSpace = uuid.MustParse("e1684990-208d-4b3e-9b2f-88eb7c154b6d")

func (s *State) jobGUID(st *StageState, js *JobState, leg string) string {
	name := fmt.Sprintf("%d/%s/%d/%s/%d/%s", s.Options.RunID, strings.ToLower(st.Name), st.Attempt,
		strings.ToLower(js.Name), js.Attempt, strings.ToLower(leg))
	return uuid.NewSHA1(jobIDSpace, []byte(name)).String()
}

// expand turns a ready job into its instances: one for a plain job, one per matrix leg (the
// legs of a runtime matrix expression are evaluated now), or one per `parallel` slice.
func (s *State) expand(st *StageState, js *JobState) ([]*Instance, error) {
	sg := s.planJob(st, js).Strategy
	var legs []plan.MatrixLeg
	switch {
	case sg == nil:
	case sg.MatrixExpr != "":
		var err error
		legs, err = s.evalMatrix(sg.MatrixExpr, s.jobEnv(st, js, js.Variables, false))
		if err != nil {
			return nil, err
		}
	case len(sg.Matrix) > 0:
		legs = sg.Matrix
	case sg.Parallel > 1:
		out := make([]*Instance, sg.Parallel)
		for i := range out {
			name := "Job" + strconv.Itoa(i+1)
			out[i] = &Instance{
				ID:          s.jobGUID(st, js, name),
				Name:        name,
				DisplayName: js.DisplayName + " " + strconv.Itoa(i+1),
				Position:    i + 1,
				Total:       sg.Parallel,
				Status:      Pending,
			}
		}
		return out, nil
	}
	if len(legs) == 0 {
		// "Multi-configuration always generates at least one job, even if a
		// multi-configuration variable is empty."
		return []*Instance{{
			ID:          s.jobGUID(st, js, defaultInstance),
			Name:        defaultInstance,
			DisplayName: js.DisplayName,
			Position:    1,
			Total:       1,
			Status:      Pending,
		}}, nil
	}
	seen := map[string]bool{}
	out := make([]*Instance, len(legs))
	for i, leg := range legs {
		if err := checkLegName(leg.Name); err != nil {
			return nil, err
		}
		k := strings.ToLower(leg.Name)
		if seen[k] {
			return nil, fmt.Errorf("matrix leg %s appears more than once", leg.Name)
		}
		seen[k] = true
		vars := make([]job.Variable, 0, len(leg.Variables))
		for _, v := range leg.Variables {
			vars = append(vars, job.Variable{Name: v.Name, Value: v.Value, ReadOnly: v.ReadOnly})
		}
		out[i] = &Instance{
			ID:          s.jobGUID(st, js, leg.Name),
			Name:        leg.Name,
			DisplayName: js.DisplayName + " " + leg.Name,
			Position:    i + 1,
			Total:       len(legs),
			Variables:   vars,
			Status:      Pending,
		}
	}
	return out, nil
}

// checkLegName rejects leg names that would break output variable names
// (`dependencies.J.outputs['leg.step.var']`) or that Azure refuses outright.
func checkLegName(name string) error {
	if name == "" {
		return errors.New("a matrix leg has an empty name")
	}
	if len(name) > 100 {
		return fmt.Errorf("matrix leg name %.20s... is longer than 100 characters", name)
	}
	if strings.ContainsAny(name, ".'\"[]") {
		return fmt.Errorf("matrix leg name %q contains one of . ' \" [ ]", name)
	}
	return nil
}
