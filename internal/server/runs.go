package server

import (
	"context"
	"fmt"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/devops/devopshttp"
	"github.com/keystage/keystage/internal/orchestrator"
)

// openRuns builds the run orchestrator over the DevOps domain and resumes the runs that had
// not completed when the server stopped. Runs, logs and artifacts are kept under each
// project's storage prefix, so deleting a project removes them; the deletion hook also
// stops the project's active runs. The orchestrator stops with the background services.
func (s *Server) openRuns(svc *devops.Service, conns *connections) (*orchestrator.Service, error) {
	runs, err := orchestrator.New(orchestrator.Config{
		Store: s.store, MAC: s.store, Pools: orchestrator.DevOpsPools{Svc: svc}, ServerURL: s.url,
		ProjectPrefix: func(orgID, projectID string) string { return devops.ProjectPrefix(orgID, projectID) + "runs/" },
		OrgPrefix:     func(orgID string) string { return devops.OrgPrefix(orgID) + "runs/" },
		Endpoints:     conns.arm,
		Checks:        conns.checks,
		Logger:        s.log.With("api", "runs"),
		Now:           s.now,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	svc.OnProjectDelete(func(ctx context.Context, org devops.Organization, p devops.Project) error {
		return runs.DeleteProject(ctx, org.ID, p.ID)
	})
	if err := runs.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.svc.runs = runs
	return runs, nil
}

// registerRuns serves runs, timelines, logs, artifacts and the agent protocol on the
// DevOps surface.
func registerRuns(h *devopshttp.Handler, runs *orchestrator.Service) error {
	for _, a := range []devopshttp.Area{devopshttp.RunsArea(h, runs), devopshttp.AgentArea(h, runs)} {
		if err := h.Register(a); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// stopRuns stops the orchestrator when ctx ends (after the last request).
func stopRuns(ctx context.Context, runs *orchestrator.Service) {
	<-ctx.Done()
	_ = runs.Close()
}
