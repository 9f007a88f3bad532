package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/run"
	"github.com/keystage/keystage/internal/storage"
)

// maxFinalYAML bounds the expanded YAML kept with a run.
const maxFinalYAML = 1 << 20

// Queue queues a run of pipeline pl in project p: it fetches and compiles the pipeline at
// the branch (a 400 fault lists every compile error), checks its pools and demands, stores
// the run and starts it. The run is durable when Queue returns.
func (s *Service) Queue(ctx context.Context, p Project, pl Pipeline, o QueueOptions) (Run, error) {
	if o.YAMLOverride != "" {
		return Run{}, badRequest("A YAML override is allowed only for a preview run.")
	}
	branch := queueBranch(pl, o)
	pn, err := s.planRun(ctx, p, pl, o, branch)
	if err != nil {
		return Run{}, err
	}
	rootVars, secrets, err := definitionVariables(pl, o.Variables)
	if err != nil {
		return Run{}, err
	}
	pln := *pn.plan
	pln.Variables = append(rootVars, pln.Variables...)
	stages, err := selectStages(&pln, o.StagesToSkip)
	if err != nil {
		return Run{}, err
	}
	now := s.now().UTC()
	requestedFor := o.RequestedFor
	if requestedFor.ID == "" && requestedFor.DisplayName == "" {
		requestedFor = o.RequestedBy
	}
	reason := o.Reason
	if reason == "" {
		reason = "manual"
	}
	opts := run.Options{
		PipelineName:  pl.Name,
		Reason:        reasonVariable(reason),
		RequestedFor:  requestedFor.DisplayName,
		TeamProject:   p.Name,
		CollectionURI: s.CollectionURI(p.OrgName),
		Variables:     append(secrets, o.Variables...),
		Repository: job.Repository{
			Name: pl.Repository.Name, URI: pl.Repository.Location, Provider: "Git",
			Branch: branch, Commit: pn.commit, Message: pn.message,
		},
		Stages: stages,
	}
	// Allocate the run id and the $(Rev:r) number, and read the counters.
	err = s.st.Update(ctx, func(tx storage.Store) error {
		id, err := nextSeq(ctx, tx, runSeqKey, 1)
		if err != nil {
			return err
		}
		opts.RunID = id
		rev, err := nextSeq(ctx, tx, s.revisionKey(p, pl.ID, run.RevisionKey(pln, opts, now)), 1)
		if err != nil {
			return err
		}
		opts.Revision = int(rev)
		opts.Counters = map[string]float64{}
		if err := storage.GetJSON(ctx, tx, s.countersKey(p, pl.ID), &opts.Counters); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return Run{}, storageError("queue run", err)
	}
	st, err := run.New(pln, opts, now)
	if err != nil {
		return Run{}, invalidPipeline(err)
	}
	rec := &Run{
		ID: opts.RunID, BuildNumber: st.BuildNumber, Project: p,
		Pipeline: PipelineRef{ID: pl.ID, Name: pl.Name, Folder: pl.Folder, Revision: pl.Revision},
		Status:   StatusNotStarted, Result: ResultNone, PlanID: uuid.NewString(), QueueTime: now,
		SourceBranch: branch, SourceVersion: pn.commit, Repository: pl.Repository, Reason: reason,
		RequestedBy: o.RequestedBy, RequestedFor: requestedFor, LastChanged: now,
	}
	if len(pn.finalYAML) <= maxFinalYAML {
		rec.FinalYAML = pn.finalYAML
	}
	for _, v := range o.Variables {
		if v.Secret {
			rec.SecretParameters = append(rec.SecretParameters, v.Name)
			continue
		}
		if rec.Parameters == nil {
			rec.Parameters = map[string]string{}
		}
		rec.Parameters[v.Name] = v.Value
	}
	if len(o.Parameters) > 0 {
		rec.TemplateParameters = o.Parameters
	}
	if q, ok := pn.pools[poolKey(pln.Stages[0].Name, pln.Stages[0].Jobs[0].Name)]; ok {
		rec.Queue = q.Queue
	}
	tl := &tlState{Jobs: map[string]*jobProgress{}, Pools: pn.pools, Changed: now}
	if s.cfg.Checks != nil {
		var queues []QueueRef
		for _, jp := range pn.pools {
			if !slices.Contains(queues, jp.Queue) {
				queues = append(queues, jp.Queue)
			}
		}
		reqs, err := s.cfg.Checks.Checkpoints(ctx, RunContext{Project: p, Pipeline: rec.Pipeline, RunID: rec.ID, Plan: &pln, Queues: queues})
		if err != nil {
			return Run{}, err
		}
		for _, cr := range reqs {
			tl.Checkpoints = append(tl.Checkpoints, newCheckpoint(cr, pln, now))
		}
	}
	if err := s.persistNew(ctx, rec, st, tl); err != nil {
		return Run{}, err
	}
	out := *rec
	r := newActiveRun(s, rec, st, tl)
	r.held = tl.pending()
	if !s.launch(r) {
		return Run{}, errClosed
	}
	s.log.Info("run queued", "org", p.OrgName, "project", p.Name, "pipeline", pl.Name, "run", out.ID)
	return out, nil
}

// queueBranch is the full ref a run uses.
func queueBranch(pl Pipeline, o QueueOptions) string {
	if b := NormalizeBranch(o.Branch); b != "" {
		return b
	}
	if pl.Repository.DefaultBranch != "" {
		return NormalizeBranch(pl.Repository.DefaultBranch)
	}
	return "refs/heads/main"
}

// reasonVariable spells a Build reason as Build.Reason does ("manual" -> "Manual").
func reasonVariable(r string) string {
	if r == "" {
		return "Manual"
	}
	return strings.ToUpper(r[:1]) + r[1:]
}

// selectStages turns stagesToSkip into the stages to run (nil: all).
func selectStages(p *plan.Plan, skip []string) ([]string, error) {
	if len(skip) == 0 {
		return nil, nil
	}
	var keep []string
	for _, name := range skip {
		found := false
		for _, st := range p.Stages {
			found = found || strings.EqualFold(st.Name, name)
		}
		if !found {
			return nil, badRequest("stagesToSkip names the stage %s, which the pipeline does not have.", clip(name))
		}
	}
	for _, st := range p.Stages {
		if !slices.ContainsFunc(skip, func(n string) bool { return strings.EqualFold(n, st.Name) }) {
			keep = append(keep, st.Name)
		}
	}
	if len(keep) == 0 {
		return nil, badRequest("stagesToSkip skips every stage of the pipeline.")
	}
	return keep, nil
}

// persistNew stores a new run: record, state, timeline and the active index, together.
func (s *Service) persistNew(ctx context.Context, rec *Run, st *run.State, tl *tlState) error {
	err := s.st.Update(ctx, func(tx storage.Store) error {
		for key, v := range map[string]any{
			s.runKey(rec.Project, rec.ID):      rec,
			s.stateKey(rec.Project, rec.ID):    st,
			s.timelineKey(rec.Project, rec.ID): tl,
			activeKey(rec.ID):                  rec.Project,
		} {
			if err := storage.PutJSON(ctx, tx, key, v); err != nil {
				return err
			}
		}
		return nil
	})
	return storageError("store run", err)
}

// launch starts a run's loop; it reports false once the service is closed.
func (s *Service) launch(r *activeRun) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.runs[r.id] = r
	s.wg.Add(1)
	s.mu.Unlock()
	go r.loop()
	r.send(&runEvent{kind: evStart})
	return true
}

// forget drops a run whose loop ended.
func (s *Service) forget(r *activeRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs[r.id] == r {
		delete(s.runs, r.id)
	}
}

func (s *Service) active(p Project, id int64) *activeRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[id]
	if r == nil || r.project.ID != p.ID || r.project.OrgID != p.OrgID {
		return nil
	}
	return r
}

// resume restarts the loop of a run that had not completed, with its queued and running
// jobs.
func (s *Service) resume(ctx context.Context, key string, value []byte, jobs []jobRecord) error {
	var p Project
	if err := json.Unmarshal(value, &p); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(key, activePrefix), 10, 64)
	if err != nil {
		return fmt.Errorf("bad key %s", key)
	}
	rec := &Run{}
	st := &run.State{}
	for k, v := range map[string]any{s.runKey(p, id): rec, s.stateKey(p, id): st} {
		if err := storage.GetJSON(ctx, s.st, k, v); err != nil {
			return fmt.Errorf("load run %d: %w", id, err)
		}
	}
	tl, err := s.loadTimelineState(ctx, p, id)
	if err != nil {
		return fmt.Errorf("load run %d: %w", id, err)
	}
	r := newActiveRun(s, rec, st, tl)
	r.held = tl.pending()
	r.canceling = st.Canceled
	now := s.now()
	for _, jr := range jobs {
		jr := jr
		r.jobs[jr.JobID] = &jr
	}
	// Instances the state has running must have a job record; one without is lost.
	for _, stg := range st.Stages {
		for _, js := range stg.Jobs {
			for _, in := range js.Instances {
				if in.Status != run.InProgress {
					continue
				}
				jr := r.jobs[in.ID]
				if jr == nil {
					r.jobs[in.ID] = &jobRecord{JobID: in.ID}
					r.finishJob(in.ID, job.Report{Result: job.Failed, Errors: 1}, "The server lost track of this job while restarting.", now)
					continue
				}
				if in.CancelSent {
					grace := max(jr.Request.Job.CancelTimeoutInMinutes, 1)
					r.cancelAt[in.ID] = now.Add(timeMinutes(grace) + s.cfg.LeaseDuration)
				}
			}
		}
	}
	for id, jr := range r.jobs {
		if jr.RunID == 0 {
			continue // lost above
		}
		s.leases.track(r, *jr)
		if _, _, in := st.Instance(id); in != nil && in.CancelSent {
			s.leases.requestCancel(id, run.ReasonCanceled)
		}
	}
	if !s.launch(r) {
		return errClosed
	}
	return nil
}

// Run returns run id of project p.
func (s *Service) Run(ctx context.Context, p Project, id int64) (Run, error) {
	if r := s.active(p, id); r != nil {
		return r.snap.Load().rec, nil
	}
	var rec Run
	err := storage.GetJSON(ctx, s.st, s.runKey(p, id), &rec)
	if errors.Is(err, storage.ErrNotFound) {
		return Run{}, buildNotFound(id)
	}
	if err != nil {
		return Run{}, storageError("get run", err)
	}
	return rec, nil
}

// RunFilter selects runs in List. Zero fields select everything.
type RunFilter struct {
	DefinitionIDs []int
	RunIDs        []int64
	// Status is a Build status, "all" or empty; Result a Build result or empty.
	Status string
	Result string
	// Branch is a branch name or full ref.
	Branch string
	// Top bounds the page (default and maximum 1000).
	Top int
	// Continuation continues a previous List: only runs with smaller ids.
	Continuation int64
}

// List returns project p's runs, newest first, one page at a time: next is the
// continuation for the following page, 0 after the last.
func (s *Service) List(ctx context.Context, p Project, f RunFilter) (runs []Run, next int64, err error) {
	all, err := storage.ListJSON[Run](ctx, s.st, s.projectPrefix(p)+"list/", "", 0)
	if err != nil {
		return nil, 0, storageError("list runs", err)
	}
	top := f.Top
	if top <= 0 || top > 1000 {
		top = 1000
	}
	branch := NormalizeBranch(f.Branch)
	slices.Reverse(all)
	for _, rec := range all {
		if r := s.active(p, rec.ID); r != nil {
			rec = r.snap.Load().rec
		}
		switch {
		case f.Continuation > 0 && rec.ID >= f.Continuation:
		case len(f.DefinitionIDs) > 0 && !slices.Contains(f.DefinitionIDs, rec.Pipeline.ID):
		case len(f.RunIDs) > 0 && !slices.Contains(f.RunIDs, rec.ID):
		case f.Status != "" && !strings.EqualFold(f.Status, "all") && !strings.EqualFold(f.Status, rec.Status):
		case f.Result != "" && !strings.EqualFold(f.Result, rec.Result):
		case branch != "" && !strings.EqualFold(branch, rec.SourceBranch):
		default:
			if len(runs) == top {
				return runs, runs[len(runs)-1].ID, nil
			}
			runs = append(runs, rec)
		}
	}
	return runs, 0, nil
}

// Cancel cancels run id with Azure's semantics and returns it (status cancelling until its
// jobs stop). Canceling a completed run changes nothing.
func (s *Service) Cancel(ctx context.Context, p Project, id int64) (Run, error) {
	if r := s.active(p, id); r != nil {
		if err := r.call(ctx, &runEvent{kind: evCancel}); err != nil && !isNotFound(err) {
			return Run{}, err
		}
	}
	return s.Run(ctx, p, id)
}

// Delete deletes a completed run with its logs and artifacts.
func (s *Service) Delete(ctx context.Context, p Project, id int64) error {
	rec, err := s.Run(ctx, p, id)
	if err != nil {
		return err
	}
	if !rec.Done() {
		return badRequest("Run %d has not completed; cancel it and wait for it to complete before deleting it.", id)
	}
	if err := storage.DeletePrefixBatched(ctx, s.st, s.runDataPrefix(p, id)); err != nil {
		return storageError("delete run", err)
	}
	return storageError("delete run", s.st.Delete(ctx, s.runKey(p, id)))
}

// DeleteProject stops every run of a project and deletes its runs, logs and artifacts. It is
// the DevOps domain's project-deletion hook, so it is idempotent.
func (s *Service) DeleteProject(ctx context.Context, orgID, projectID string) error {
	p := Project{OrgID: orgID, ID: projectID}
	s.mu.Lock()
	var victims []*activeRun
	for _, r := range s.runs {
		if r.project.OrgID == orgID && r.project.ID == projectID {
			victims = append(victims, r)
		}
	}
	s.mu.Unlock()
	for _, r := range victims {
		_ = r.call(ctx, &runEvent{kind: evDelete})
	}
	// Global indexes of the project's runs and jobs.
	for _, prefix := range []string{activePrefix, jobsPrefix} {
		entries, err := s.st.List(ctx, prefix, "", 0)
		if err != nil {
			return storageError("delete project runs", err)
		}
		for _, e := range entries {
			var ref struct {
				Project   Project `json:"project"`
				OrgID     string  `json:"orgId"`
				ProjectID string  `json:"id"`
			}
			_ = json.Unmarshal(e.Value, &ref)
			if ref.Project.ID == projectID && ref.Project.OrgID == orgID || ref.ProjectID == projectID && ref.OrgID == orgID {
				if err := s.st.Delete(ctx, e.Key); err != nil {
					return storageError("delete project runs", err)
				}
			}
		}
	}
	return storageError("delete project runs", storage.DeletePrefixBatched(ctx, s.st, s.projectPrefix(p)))
}

// Preview compiles the pipeline as a run would and returns the final YAML, creating no run.
func (s *Service) Preview(ctx context.Context, p Project, pl Pipeline, o QueueOptions) (string, error) {
	if pl.Classic != nil {
		return "", badRequest("Preview is available for YAML pipelines only.")
	}
	pn, err := s.planRun(ctx, p, pl, o, queueBranch(pl, o))
	if err != nil {
		return "", err
	}
	if _, _, err := definitionVariables(pl, o.Variables); err != nil {
		return "", err
	}
	return pn.finalYAML, nil
}
