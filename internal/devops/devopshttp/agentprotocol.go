package devopshttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
)

// The agent protocol (internal/orchestrator/agentproto): Keystage's own routes under the
// organization's distributedtask paths. Registration takes a personal access token (or an
// access token) that may manage the organization's pools; every other call takes the
// agent credential registration returned, as a Bearer token, and checks the agent holds
// the session or job it names.

const (
	tmplPool    = "_apis/distributedtask/pools/{poolId}/"
	tmplJob     = "{project}/_apis/distributedtask/hubs/{hubName}/plans/{planId}/jobs/{jobId}/"
	tmplArtName = tmplJob + "artifacts/{artifactName}/"
)

// AgentArea returns the agent protocol's routes, served by runs.
func AgentArea(h *Handler, runs *orchestrator.Service) Area {
	a := &runsAPI{h: h, runs: runs}
	anon := func(method, tmpl string, fn func(*Request) error) Route {
		return Route{Template: tmpl, Method: method, Access: AccessAnonymous, Handle: fn}
	}
	return Area{Name: "agentprotocol", Routes: []Route{
		{Template: tmplPool + "agentregistrations", Method: http.MethodPost, Access: AccessAuthenticated, Handle: a.registerAgent},
		anon(http.MethodPost, tmplPool+"sessions", a.openSession),
		anon(http.MethodDelete, tmplPool+"sessions/{sessionId}", a.closeSession),
		anon(http.MethodGet, tmplPool+"sessions/{sessionId}/job", a.pollJob),
		anon(http.MethodPost, tmplJob+"accept", a.acceptJob),
		anon(http.MethodPost, tmplJob+"heartbeat", a.heartbeat),
		anon(http.MethodPost, tmplJob+"events", a.jobEvents),
		anon(http.MethodPost, tmplJob+"complete", a.completeJob),
		anon(http.MethodGet, tmplJob+"artifacts", a.jobArtifacts),
		anon(http.MethodPost, tmplJob+"artifacts", a.publishArtifact),
		anon(http.MethodPut, tmplArtName+"files", a.uploadArtifactFile),
		anon(http.MethodGet, tmplArtName+"files", a.artifactFiles),
		anon(http.MethodGet, tmplArtName+"file", a.downloadArtifactFile),
	}}
}

// protoError turns a decoder's error into a 400.
func protoError(err error) error {
	if errors.Is(err, agentproto.ErrBadRequest) {
		return devops.BadRequest("%s", strings.TrimPrefix(err.Error(), agentproto.ErrBadRequest.Error()+": "))
	}
	return err
}

func (a *runsAPI) poolID(rq *Request) (int, error) {
	return rq.IntValue("poolId", poolNotFound)
}

func (a *runsAPI) registerAgent(rq *Request) error {
	if !rq.Caller.HasScope("agentpools", devops.Manage) {
		return fault.New(fault.Forbidden, devops.CodeAccessDenied, "Registering an agent needs the vso.agentpools_manage scope.")
	}
	if err := rq.Authorize(devops.Manage); err != nil {
		return err
	}
	pool, err := a.poolID(rq)
	if err != nil {
		return err
	}
	reg, err := agentproto.DecodeRegistration(rq.R.Body)
	if err != nil {
		return protoError(err)
	}
	out, err := a.runs.RegisterAgent(rq.R.Context(), rq.Org.ID, pool, reg)
	if err != nil {
		return err
	}
	return rq.OK(out)
}

// agent authenticates the agent credential of a protocol call and checks that it belongs
// to the organization (and pool) of the path.
func (a *runsAPI) agent(rq *Request) (orchestrator.Agent, error) {
	h := rq.R.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return orchestrator.Agent{}, devops.ErrUnauthorized("Agent protocol calls need the agent's credential as a Bearer token.")
	}
	ag, err := a.runs.AuthenticateAgent(rq.R.Context(), strings.TrimSpace(tok))
	if err != nil {
		return orchestrator.Agent{}, err
	}
	if ag.OrgID != rq.Org.ID {
		return orchestrator.Agent{}, devops.ErrUnauthorized("The agent is registered in another organization.")
	}
	if _, ok := rq.Value("poolId"); ok {
		pool, err := a.poolID(rq)
		if err != nil {
			return orchestrator.Agent{}, err
		}
		if pool != ag.PoolID {
			return orchestrator.Agent{}, fault.New(fault.Forbidden, devops.CodeAccessDenied, "The agent is registered in pool %d, not %d.", ag.PoolID, pool)
		}
	}
	return ag, nil
}

func (a *runsAPI) openSession(rq *Request) error {
	ag, err := a.agent(rq)
	if err != nil {
		return err
	}
	if _, ok := rq.Value("sessionId"); ok {
		return &methodError{method: rq.R.Method, allowed: []string{"DELETE"}}
	}
	req, err := agentproto.DecodeSessionRequest(rq.R.Body)
	if err != nil {
		return protoError(err)
	}
	sess, err := a.runs.OpenSession(rq.R.Context(), ag, req)
	if err != nil {
		return err
	}
	return rq.OK(sess)
}

func (a *runsAPI) closeSession(rq *Request) error {
	ag, err := a.agent(rq)
	if err != nil {
		return err
	}
	id, _ := rq.Value("sessionId")
	if err := a.runs.CloseSession(rq.R.Context(), ag, id); err != nil {
		return err
	}
	return rq.NoContent()
}

// waitParam reads ?wait= as seconds ("50", "10s", "1m" accepted).
func waitParam(rq *Request) (time.Duration, error) {
	s := rq.Query("wait")
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, devops.BadRequest("wait must be a number of seconds.")
	}
	return d, nil
}

func (a *runsAPI) pollJob(rq *Request) error {
	ag, err := a.agent(rq)
	if err != nil {
		return err
	}
	wait, err := waitParam(rq)
	if err != nil {
		return err
	}
	id, _ := rq.Value("sessionId")
	msg, err := a.runs.Poll(rq.R.Context(), ag, id, wait)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil // the agent hung up
		}
		return err
	}
	if msg == nil {
		return rq.NoContent()
	}
	return rq.OK(msg)
}

// jobID is the job of the path; the hub must be "build".
func jobID(rq *Request) (string, error) {
	if hub, _ := rq.Value("hubName"); !strings.EqualFold(hub, agentproto.HubName) {
		return "", fault.New(fault.NotFound, orchestrator.CodeJobNotFound, "Hub %s has no jobs; pipeline runs are in hub %s.", clip(hub), agentproto.HubName)
	}
	id, ok := rq.Value("jobId")
	if !ok {
		return "", devops.BadRequest("The job id is missing.")
	}
	return strings.ToLower(id), nil
}

func (a *runsAPI) jobCall(rq *Request) (orchestrator.Agent, string, error) {
	ag, err := a.agent(rq)
	if err != nil {
		return ag, "", err
	}
	id, err := jobID(rq)
	return ag, id, err
}

func (a *runsAPI) acceptJob(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	acc, err := agentproto.DecodeAccept(rq.R.Body)
	if err != nil {
		return protoError(err)
	}
	lease, err := a.runs.Accept(rq.R.Context(), ag, id, acc)
	if err != nil {
		return err
	}
	return rq.OK(lease)
}

func (a *runsAPI) heartbeat(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	wait, err := waitParam(rq)
	if err != nil {
		return err
	}
	lease, err := a.runs.Heartbeat(rq.R.Context(), ag, id, rq.Query("lockToken"), wait)
	if err != nil {
		return err
	}
	return rq.OK(lease)
}

func (a *runsAPI) jobEvents(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	ev, err := agentproto.DecodeEvents(rq.R.Body)
	if err != nil {
		return protoError(err)
	}
	if err := a.runs.JobEvents(rq.R.Context(), ag, id, ev); err != nil {
		return err
	}
	return rq.NoContent()
}

func (a *runsAPI) completeJob(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	c, err := agentproto.DecodeCompletion(rq.R.Body)
	if err != nil {
		return protoError(err)
	}
	if err := a.runs.CompleteJob(rq.R.Context(), ag, id, c); err != nil {
		return err
	}
	return rq.NoContent()
}

func (a *runsAPI) jobArtifacts(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	list, err := a.runs.JobArtifacts(rq.R.Context(), ag, id, rq.Query("lockToken"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []agentproto.Artifact{}
	}
	return rq.OK(list)
}

func (a *runsAPI) publishArtifact(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	pub, err := agentproto.DecodeArtifactPublish(rq.R.Body)
	if err != nil {
		return protoError(err)
	}
	out, err := a.runs.PublishArtifact(rq.R.Context(), ag, id, pub)
	if err != nil {
		return err
	}
	return rq.OK(out)
}

func (a *runsAPI) uploadArtifactFile(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	name, _ := rq.Value("artifactName")
	body := io.LimitReader(rq.R.Body, orchestrator.MaxArtifactFileSize+1)
	out, err := a.runs.UploadArtifactFile(rq.R.Context(), ag, id, rq.Query("lockToken"), name, rq.Query("path"), body)
	if err != nil {
		return err
	}
	return rq.OK(out)
}

func (a *runsAPI) artifactFiles(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	name, _ := rq.Value("artifactName")
	files, err := a.runs.JobArtifactFiles(rq.R.Context(), ag, id, rq.Query("lockToken"), name)
	if err != nil {
		return err
	}
	if files == nil {
		files = []agentproto.ArtifactFile{}
	}
	return rq.OK(files)
}

func (a *runsAPI) downloadArtifactFile(rq *Request) error {
	ag, id, err := a.jobCall(rq)
	if err != nil {
		return err
	}
	name, _ := rq.Value("artifactName")
	rq.W.Header().Set("Content-Type", "application/octet-stream")
	return a.runs.WriteJobArtifactFile(rq.R.Context(), ag, id, rq.Query("lockToken"), name, rq.Query("path"), rq.W)
}
