package run

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// ErrUnknownJob is returned by JobFinished for an ID that names no job instance of the run.
var ErrUnknownJob = errors.New("run: unknown job instance")

// ErrNotRunning is returned by JobFinished for an instance that is not in progress (never
// started, or already finished).
var ErrNotRunning = errors.New("run: job instance is not running")

// Next advances the run to now and returns what the driver must do (StartJob, CancelJob) and
// what happened (the other kinds), in order. Call it after New, after every JobFinished and
// Cancel, and at Deadline; calling it more often is harmless. It returns nil once the run has
// completed and everything was reported.
func (s *State) Next(now time.Time) []Action {
	now = now.UTC()
	out := s.Outbox
	s.Outbox = nil
	switch s.Status {
	case Completed:
		return out
	case Pending:
		s.startRun(now, &out)
	}
	stages := make(map[string]*StageState, len(s.Stages))
	for _, st := range s.Stages {
		stages[strings.ToLower(st.Name)] = st
	}
	for {
		changed := false
		for _, st := range s.Stages {
			switch st.Status {
			case Pending:
				if s.tryStartStage(st, stages, now, &out) {
					changed = true
				}
			case InProgress:
				if s.advanceStage(st, now, &out) {
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	s.checkTimeouts(now, &out)
	if s.Status == InProgress && s.allStagesCompleted() {
		s.finishRun(now, &out)
	}
	return out
}

// Deadline returns the earliest time at which Next has something to do without any other
// call: a running job reaching its timeout. ok is false when there is none.
func (s *State) Deadline() (t time.Time, ok bool) {
	for _, st := range s.Stages {
		for j, js := range st.Jobs {
			if js.Status != InProgress {
				continue
			}
			limit := s.Plan.Stages[s.stageIdx(st)].Jobs[j].TimeoutInMinutes
			if limit <= 0 {
				continue
			}
			for _, in := range js.Instances {
				if in.Status != InProgress || in.CancelSent {
					continue
				}
				d := in.StartTime.Add(time.Duration(limit) * time.Minute)
				if !ok || d.Before(t) {
					t, ok = d, true
				}
			}
		}
	}
	return t, ok
}

// JobFinished records the report of a job instance started by a StartJob action. An empty or
// unknown Result counts as Failed. The job's continueOnError turns Failed into
// SucceededWithIssues. Call Next afterwards.
func (s *State) JobFinished(id string, rep job.Report, now time.Time) error {
	st, js, in := s.Instance(id)
	if in == nil {
		return fmt.Errorf("%w %s", ErrUnknownJob, id)
	}
	if in.Status != InProgress {
		return fmt.Errorf("%w: %s (%s/%s)", ErrNotRunning, in.DisplayName, st.Name, js.Name)
	}
	now = now.UTC()
	r := rep.Result
	switch r {
	case job.Succeeded, job.SucceededWithIssues, job.Failed, job.Canceled, job.Skipped:
	default:
		in.Reason = fmt.Sprintf("the executor reported an unknown result %q", r)
		r = job.Failed
	}
	if in.TimedOut {
		in.Reason = fmt.Sprintf("the job ran longer than the maximum time of %d minutes", s.planJob(st, js).TimeoutInMinutes)
	}
	rep.Outputs = append([]job.Variable(nil), rep.Outputs...)
	in.Report = &rep
	if rep.BuildNumber != "" {
		s.BuildNumber = rep.BuildNumber
	}
	for _, tag := range rep.Tags {
		if !slices.Contains(s.Tags, tag) {
			s.Tags = append(s.Tags, tag)
		}
	}
	s.completeInstance(st, js, in, r, now, &s.Outbox)
	return nil
}

// Cancel cancels the run with Azure's semantics. In the stages in progress, running job
// instances are asked to cancel (CancelJob), matrix legs waiting for a slot end Canceled, and
// the jobs that have not started yet have their conditions evaluated as usual when their
// dependencies complete, with canceled() true and succeeded(), failed() and
// succeededOrFailed() false. Stages that have not started are treated the same way, so only
// those whose condition allows it (always(), canceled(), or one that ignores job status)
// still run; such a stage then runs its jobs as in a run that was not canceled. The run's
// result is Canceled. Cancel on a completed or already canceled run does
// nothing. Call Next afterwards.
func (s *State) Cancel(now time.Time) {
	if s.Status == Completed || s.Canceled {
		return
	}
	now = now.UTC()
	s.Canceled = true
	s.CancelTime = now
	for _, st := range s.Stages {
		if st.Status != InProgress {
			continue
		}
		st.Canceled = true
		for _, js := range st.Jobs {
			if js.Status != InProgress {
				continue
			}
			for _, in := range js.Instances {
				switch in.Status {
				case Pending:
					in.Reason = "the run was canceled before this job started"
					s.completeInstance(st, js, in, job.Canceled, now, &s.Outbox)
				case InProgress:
					if !in.CancelSent {
						in.CancelSent = true
						s.Outbox = append(s.Outbox, Action{Kind: CancelJob, Time: now, Stage: st.Name, Job: js.Name,
							JobID: in.ID, DisplayName: in.DisplayName, Reason: ReasonCanceled})
					}
				}
			}
		}
	}
}

func (s *State) startRun(now time.Time, out *[]Action) {
	s.Status = InProgress
	s.StartTime = now
	*out = append(*out, Action{Kind: RunStarted, Time: now, DisplayName: s.BuildNumber})
	vars, err := s.rootVariables()
	s.Variables = vars
	if err != nil {
		// A broken root variable fails the run before any stage.
		s.Reason = err.Error()
		for _, st := range s.Stages {
			s.skipStage(st, job.Skipped, "the run failed before this stage: "+err.Error(), now, out, false)
		}
	}
}

// tryStartStage starts, skips or fails a pending stage whose dependencies completed; stages
// indexes the run's stages by lower-case name.
func (s *State) tryStartStage(st *StageState, stages map[string]*StageState, now time.Time, out *[]Action) bool {
	for _, d := range st.DependsOn {
		if stages[strings.ToLower(d)].Status != Completed {
			return false
		}
	}
	if !st.Selected {
		s.skipStage(st, job.Skipped, "not selected", now, out, false)
		return true
	}
	env := s.stageEnv(st, s.staticVariables(s.planStage(st).Variables), true)
	run, reason, err := s.evalCondition(s.planStage(st).Condition, env, "stage")
	switch {
	case err != nil:
		s.skipStage(st, job.Failed, fmt.Sprintf("stage %s condition: %v", st.Name, err), now, out, true)
		return true
	case !run:
		s.skipStage(st, job.Skipped, reason, now, out, true)
		return true
	}
	st.Status = InProgress
	st.StartTime = now
	*out = append(*out, Action{Kind: StageStarted, Time: now, Stage: st.Name, DisplayName: st.DisplayName})
	vars, err := s.stageVariables(st)
	st.Variables = vars
	if err != nil {
		reason := fmt.Sprintf("stage %s variables: %v", st.Name, err)
		for _, js := range st.Jobs {
			s.skipJob(st, js, job.Skipped, reason, now, out, true)
		}
		s.finishStage(st, job.Failed, reason, now, out)
	}
	return true
}

// skipStage completes a stage that never ran, and all its jobs as Skipped.
func (s *State) skipStage(st *StageState, r job.Result, reason string, now time.Time, out *[]Action, report bool) {
	for _, js := range st.Jobs {
		if js.Status != Completed {
			js.Status, js.Result, js.Reason, js.FinishTime = Completed, job.Skipped, reason, now
		}
	}
	st.Status, st.Result, st.Reason, st.FinishTime = Completed, r, reason, now
	if report {
		*out = append(*out, Action{Kind: StageCompleted, Time: now, Stage: st.Name, DisplayName: st.DisplayName,
			Result: r, Reason: reason})
	}
}

// advanceStage moves the jobs of a running stage forward and completes the stage when they
// all completed. It reports whether anything changed.
func (s *State) advanceStage(st *StageState, now time.Time, out *[]Action) bool {
	changed := false
	var jobs map[string]*JobState // built when a pending job needs it
	for _, js := range st.Jobs {
		switch js.Status {
		case Pending:
			if jobs == nil {
				jobs = make(map[string]*JobState, len(st.Jobs))
				for _, x := range st.Jobs {
					jobs[strings.ToLower(x.Name)] = x
				}
			}
			if s.tryStartJob(st, js, jobs, now, out) {
				changed = true
			}
		case InProgress:
			if s.startInstances(st, js, now, out) {
				changed = true
			}
			if s.allInstancesCompleted(js) {
				s.finishJob(js, now)
				changed = true
			}
		}
	}
	if st.Status == InProgress && s.allJobsCompleted(st) {
		s.finishStage(st, s.stageResult(st), "", now, out)
		changed = true
	}
	return changed
}

// tryStartJob evaluates a pending job whose dependencies completed: it is skipped, failed, or
// expanded into instances that startInstances will start. jobs indexes the stage's jobs by
// lower-case name.
func (s *State) tryStartJob(st *StageState, js *JobState, jobs map[string]*JobState, now time.Time, out *[]Action) bool {
	for _, d := range js.DependsOn {
		if jobs[strings.ToLower(d)].Status != Completed {
			return false
		}
	}
	if !js.Selected {
		js.Status, js.Result, js.Reason, js.FinishTime = Completed, job.Skipped, "not selected", now
		return true
	}
	pj := s.planJob(st, js)
	env := s.jobEnv(st, js, s.staticVariables(pj.Variables), true)
	run, reason, err := s.evalCondition(pj.Condition, env, "job")
	switch {
	case err != nil:
		s.skipJob(st, js, job.Failed, fmt.Sprintf("job %s condition: %v", js.Name, err), now, out, true)
		return true
	case !run:
		s.skipJob(st, js, job.Skipped, reason, now, out, true)
		return true
	}
	vars, err := s.jobVariables(st, js)
	js.Variables = vars
	if err != nil {
		s.skipJob(st, js, job.Failed, fmt.Sprintf("job %s variables: %v", js.Name, err), now, out, true)
		return true
	}
	instances, err := s.expand(st, js)
	if err != nil {
		s.skipJob(st, js, job.Failed, fmt.Sprintf("job %s strategy: %v", js.Name, err), now, out, true)
		return true
	}
	js.Instances = instances
	js.Status = InProgress
	js.StartTime = now
	return true
}

// skipJob completes a job that never started, giving it one instance with result r so that
// timelines show it. Failed becomes SucceededWithIssues under continueOnError.
func (s *State) skipJob(st *StageState, js *JobState, r job.Result, reason string, now time.Time, out *[]Action, report bool) {
	in := &Instance{
		ID:          s.jobGUID(st, js, defaultInstance),
		Name:        defaultInstance,
		DisplayName: js.DisplayName,
		Position:    1,
		Total:       1,
		Status:      InProgress,
		Reason:      reason,
	}
	js.Instances = []*Instance{in}
	js.Status = InProgress
	var sink []Action
	s.completeInstance(st, js, in, r, now, &sink)
	if report {
		*out = append(*out, sink...)
	}
	s.finishJob(js, now)
	js.Reason = reason
}

// startInstances starts the pending instances of a running job that its maxParallel and the
// run's MaxParallel allow.
func (s *State) startInstances(st *StageState, js *JobState, now time.Time, out *[]Action) bool {
	changed := false
	running := 0
	for _, in := range js.Instances {
		if in.Status == InProgress {
			running++
		}
	}
	for _, in := range js.Instances {
		if in.Status != Pending {
			continue
		}
		if js.MaxParallel > 0 && running >= js.MaxParallel {
			break
		}
		if s.Options.MaxParallel > 0 && s.runningInstances() >= s.Options.MaxParallel {
			break
		}
		req := s.request(st, js, in)
		in.Status = InProgress
		in.StartTime = now
		running++
		changed = true
		*out = append(*out, Action{Kind: StartJob, Time: now, Stage: st.Name, Job: js.Name, JobID: in.ID,
			DisplayName: in.DisplayName, Request: &req})
	}
	return changed
}

// completeInstance records an instance's final result (applying continueOnError) and reports it.
func (s *State) completeInstance(st *StageState, js *JobState, in *Instance, r job.Result, now time.Time, out *[]Action) {
	if r == job.Failed && s.planJob(st, js).ContinueOnError {
		r = job.SucceededWithIssues
	}
	in.Status, in.Result, in.FinishTime = Completed, r, now
	*out = append(*out, Action{Kind: JobCompleted, Time: now, Stage: st.Name, Job: js.Name, JobID: in.ID,
		DisplayName: in.DisplayName, Result: r, Reason: in.Reason})
}

func (s *State) finishJob(js *JobState, now time.Time) {
	rs := make([]job.Result, 0, len(js.Instances))
	for _, in := range js.Instances {
		rs = append(rs, in.Result)
	}
	js.Status, js.Result, js.FinishTime = Completed, aggregate(rs), now
}

// stageResult combines the results of a stage's jobs. A Canceled job fails a stage that was
// not canceled (a job timeout is a failure); a stage that was running when the run was
// canceled ends Canceled unless a job failed.
func (s *State) stageResult(st *StageState) job.Result {
	rs := make([]job.Result, 0, len(st.Jobs))
	for _, js := range st.Jobs {
		if !js.Selected {
			continue
		}
		r := js.Result
		if r == job.Canceled && !st.Canceled {
			r = job.Failed
		}
		rs = append(rs, r)
	}
	r := aggregate(rs)
	if st.Canceled && r != job.Failed {
		return job.Canceled
	}
	return r
}

func (s *State) finishStage(st *StageState, r job.Result, reason string, now time.Time, out *[]Action) {
	st.Status, st.Result, st.FinishTime = Completed, r, now
	if reason != "" {
		st.Reason = reason
	}
	*out = append(*out, Action{Kind: StageCompleted, Time: now, Stage: st.Name, DisplayName: st.DisplayName,
		Result: r, Reason: st.Reason})
}

// checkTimeouts asks running instances past their job's timeoutInMinutes to cancel.
func (s *State) checkTimeouts(now time.Time, out *[]Action) {
	for _, st := range s.Stages {
		if st.Status != InProgress {
			continue
		}
		for _, js := range st.Jobs {
			if js.Status != InProgress {
				continue
			}
			limit := s.planJob(st, js).TimeoutInMinutes
			if limit <= 0 {
				continue
			}
			for _, in := range js.Instances {
				if in.Status != InProgress || in.CancelSent {
					continue
				}
				if now.Before(in.StartTime.Add(time.Duration(limit) * time.Minute)) {
					continue
				}
				in.CancelSent, in.TimedOut = true, true
				*out = append(*out, Action{Kind: CancelJob, Time: now, Stage: st.Name, Job: js.Name, JobID: in.ID,
					DisplayName: in.DisplayName, Reason: ReasonTimeout})
			}
		}
	}
}

func (s *State) finishRun(now time.Time, out *[]Action) {
	r := job.Succeeded
	if s.Canceled {
		r = job.Canceled
	} else {
		for _, st := range s.Stages {
			switch st.Result {
			case job.Failed, job.Canceled:
				r = job.Failed
			case job.SucceededWithIssues:
				if r == job.Succeeded {
					r = job.SucceededWithIssues
				}
			}
		}
		if s.Reason != "" {
			r = job.Failed
		}
	}
	s.Status, s.Result, s.FinishTime = Completed, r, now
	*out = append(*out, Action{Kind: RunCompleted, Time: now, DisplayName: s.BuildNumber, Result: r, Reason: s.Reason})
}

func (s *State) allStagesCompleted() bool {
	for _, st := range s.Stages {
		if st.Status != Completed {
			return false
		}
	}
	return true
}

func (s *State) allJobsCompleted(st *StageState) bool {
	for _, js := range st.Jobs {
		if js.Status != Completed {
			return false
		}
	}
	return true
}

func (s *State) allInstancesCompleted(js *JobState) bool {
	for _, in := range js.Instances {
		if in.Status != Completed {
			return false
		}
	}
	return true
}

func (s *State) runningInstances() int {
	n := 0
	for _, st := range s.Stages {
		if st.Status != InProgress {
			continue
		}
		for _, js := range st.Jobs {
			if js.Status != InProgress {
				continue
			}
			for _, in := range js.Instances {
				if in.Status == InProgress {
					n++
				}
			}
		}
	}
	return n
}
