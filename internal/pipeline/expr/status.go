package expr

import (
	"fmt"
	"strings"
)

// StatusFunction names one of the status functions allowed in conditions.
type StatusFunction uint8

// The status functions.
const (
	Always StatusFunction = iota
	Canceled
	Failed
	Succeeded
	SucceededOrFailed
)

func (f StatusFunction) String() string {
	switch f {
	case Always:
		return "always"
	case Canceled:
		return "canceled"
	case Failed:
		return "failed"
	case Succeeded:
		return "succeeded"
	case SucceededOrFailed:
		return "succeededOrFailed"
	}
	return "unknown"
}

// Status answers the status functions of a condition. Their meaning depends on where the
// condition is evaluated; StepStatus and DependencyStatus implement Azure's two meanings.
type Status interface {
	// Status evaluates fn; names are the job or stage names given as arguments, empty for
	// the common argument-less form.
	Status(fn StatusFunction, names []string) (bool, error)
}

func statusFn(f StatusFunction) func(*evalState, []node) (Value, error) {
	return func(st *evalState, args []node) (Value, error) {
		if st.ctx == nil || st.ctx.Status == nil {
			return Value{}, fmt.Errorf("%s() is only available in conditions", f)
		}
		var names []string
		for _, a := range args {
			s, err := evalString(st, a)
			if err != nil {
				return Value{}, err
			}
			names = append(names, s)
		}
		b, err := st.ctx.Status.Status(f, names)
		if err != nil {
			return Value{}, err
		}
		return Bool(b), nil
	}
}

// Results as Azure names them (Agent.JobStatus and dependencies.X.result).
const (
	ResultSucceeded           = "Succeeded"
	ResultSucceededWithIssues = "SucceededWithIssues"
	ResultFailed              = "Failed"
	ResultCanceled            = "Canceled"
	ResultSkipped             = "Skipped"
)

// StepStatus gives the status functions their step meaning, from the job's status so far:
// succeeded() is in(Agent.JobStatus, 'Succeeded', 'SucceededWithIssues'), failed() is
// eq(Agent.JobStatus, 'Failed'), succeededOrFailed() accepts either, and all three are false
// once the job is being canceled; canceled() is true then; always() is always true.
type StepStatus struct {
	// JobStatus is Agent.JobStatus: Succeeded, SucceededWithIssues, Failed or Canceled.
	JobStatus string
	// Canceling is true once the job has been asked to stop.
	Canceling bool
}

// Status implements Status. Status functions take no names in a step condition.
func (s StepStatus) Status(fn StatusFunction, names []string) (bool, error) {
	if len(names) > 0 {
		return false, fmt.Errorf("%s() takes no job names in a step condition", fn)
	}
	canceled := s.Canceling || strings.EqualFold(s.JobStatus, ResultCanceled)
	switch fn {
	case Always:
		return true, nil
	case Canceled:
		return canceled, nil
	}
	if canceled {
		return false, nil
	}
	st := s.JobStatus
	if st == "" {
		st = ResultSucceeded
	}
	ok := strings.EqualFold(st, ResultSucceeded) || strings.EqualFold(st, ResultSucceededWithIssues)
	failed := strings.EqualFold(st, ResultFailed)
	switch fn {
	case Succeeded:
		return ok, nil
	case Failed:
		return failed, nil
	default: // SucceededOrFailed
		return ok || failed, nil
	}
}

// DependencyStatus gives the status functions their job and stage meaning, over the
// results of dependencies: succeeded() is true when every dependency considered Succeeded
// or SucceededWithIssues, failed() when any Failed, succeededOrFailed() when each either
// succeeded or failed (a Skipped or Canceled one makes it false). Without names the direct
// dependencies are considered; with names, those (each must be a dependency). All three
// are false once the run is being canceled; canceled() is then true; always() is true.
type DependencyStatus struct {
	// Results maps each dependency's name to its result (Succeeded, SucceededWithIssues,
	// Failed, Canceled or Skipped). Names match ignoring case.
	Results map[string]string
	// Canceling is true once the run has been asked to stop.
	Canceling bool
	// Kind names what the dependencies are ("job" or "stage") in error messages.
	Kind string
}

// Status implements Status.
func (d DependencyStatus) Status(fn StatusFunction, names []string) (bool, error) {
	switch fn {
	case Always:
		return true, nil
	case Canceled:
		return d.Canceling, nil
	}
	if d.Canceling {
		return false, nil
	}
	var results []string
	if len(names) == 0 {
		for _, k := range sortedKeys(d.Results) {
			results = append(results, d.Results[k])
		}
	} else {
		for _, n := range names {
			r, ok := d.result(n)
			if !ok {
				kind := d.Kind
				if kind == "" {
					kind = "job"
				}
				return false, fmt.Errorf("%s(): %s '%s' is not a dependency", fn, kind, n)
			}
			results = append(results, r)
		}
	}
	switch fn {
	case Failed:
		for _, r := range results {
			if strings.EqualFold(r, ResultFailed) {
				return true, nil
			}
		}
		return false, nil
	case Succeeded:
		for _, r := range results {
			if !strings.EqualFold(r, ResultSucceeded) && !strings.EqualFold(r, ResultSucceededWithIssues) {
				return false, nil
			}
		}
		return true, nil
	default: // SucceededOrFailed
		for _, r := range results {
			if !strings.EqualFold(r, ResultSucceeded) && !strings.EqualFold(r, ResultSucceededWithIssues) &&
				!strings.EqualFold(r, ResultFailed) {
				return false, nil
			}
		}
		return true, nil
	}
}

func (d DependencyStatus) result(name string) (string, bool) {
	if r, ok := d.Results[name]; ok {
		return r, true
	}
	for k, r := range d.Results {
		if strings.EqualFold(k, name) {
			return r, true
		}
	}
	return "", false
}

var (
	_ Status = StepStatus{}
	_ Status = DependencyStatus{}
)
