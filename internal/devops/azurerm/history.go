package azurerm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keystage/keystage/internal/devops"
	"github.com/keystage/keystage/internal/orchestrator"
	"github.com/keystage/keystage/internal/storage"
)

// Execution history: one record per run that used a connection, under the project of the
// run (so deleting the project deletes them):
//
//	devops/o/{orgId}/p/{projectId}/azurerm/history/{endpointId}/{runId, 16 digits}   Execution
func historyPrefix(orgID, projectID, endpointID string) string {
	return devops.ProjectPrefix(orgID, projectID) + "azurerm/history/" + endpointID + "/"
}

func historyKey(orgID, projectID, endpointID string, runID int64) string {
	return historyPrefix(orgID, projectID, endpointID) + fmt.Sprintf("%016d", runID)
}

// Execution is a run's use of a service connection (ServiceEndpointExecutionData).
type Execution struct {
	// ID is the run id; PlanType is "Build".
	ID             int64     `json:"id"`
	PlanType       string    `json:"planType"`
	DefinitionID   int       `json:"definitionId"`
	DefinitionName string    `json:"definitionName"`
	RunName        string    `json:"runName"`
	StartTime      time.Time `json:"startTime"`
	// Result and FinishTime are filled in when the record is read, from the run (empty
	// while it runs).
	Result     string    `json:"-"`
	FinishTime time.Time `json:"-"`
}

// recordExecution notes that run jc.RunID used the connection; the first job of the run
// to use it sets the start time.
func (s *Service) recordExecution(ctx context.Context, org devops.Organization, jc orchestrator.JobContext, endpointID string) error {
	key := historyKey(org.ID, jc.Project.ID, endpointID, jc.RunID)
	runName := ""
	if jc.Request != nil {
		runName = jc.Request.RunName
	}
	return s.st.Update(ctx, func(tx storage.Store) error {
		if _, err := tx.Get(ctx, key); err == nil {
			return nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err := storage.PutJSON(ctx, tx, key, Execution{
			ID: jc.RunID, PlanType: "Build", DefinitionID: jc.Pipeline.ID, DefinitionName: jc.Pipeline.Name,
			RunName: runName, StartTime: s.cfg.Now().UTC(),
		}); err != nil {
			return err
		}
		return s.trimHistory(ctx, tx, org.ID, jc.Project.ID, endpointID)
	})
}

// trimHistory drops the oldest records beyond HistoryLimit.
func (s *Service) trimHistory(ctx context.Context, tx storage.Store, orgID, projectID, endpointID string) error {
	entries, err := tx.List(ctx, historyPrefix(orgID, projectID, endpointID), "", 0)
	if err != nil {
		return err
	}
	for i := 0; i < len(entries)-s.cfg.HistoryLimit; i++ {
		if err := tx.Delete(ctx, entries[i].Key); err != nil {
			return err
		}
	}
	return nil
}

// RunResults reports how runs ended; the orchestrator implements it through an adapter.
type RunResults interface {
	// RunResult returns a run's result ("succeeded", "failed", …; "" while it runs) and
	// finish time. A run that no longer exists is an error wrapping a not-found error.
	RunResult(ctx context.Context, orgID, projectID string, runID int64) (result string, finished time.Time, err error)
}

// Executions lists the connection's execution records in project, newest first, at most
// top (all when top <= 0) after the continuation token (a run id; 0 starts at the
// newest). It returns the token of the next page, or 0. runs, when not nil, fills in
// results.
func (s *Service) Executions(ctx context.Context, org devops.Organization, projectID, endpointID string, top int, continuation uint64, runs RunResults) ([]Execution, uint64, error) {
	ep, err := s.resolve(ctx, org, projectID, endpointID)
	if err != nil {
		return nil, 0, err
	}
	entries, err := storage.ListJSON[Execution](ctx, s.st, historyPrefix(org.ID, projectID, ep.ID), "", 0)
	if err != nil {
		return nil, 0, fmt.Errorf("azurerm: list execution history: %w", err)
	}
	var out []Execution
	var next uint64
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if continuation != 0 && uint64(e.ID) > continuation {
			continue
		}
		if top > 0 && len(out) == top {
			next = uint64(e.ID)
			break
		}
		if runs != nil {
			res, fin, err := runs.RunResult(ctx, org.ID, projectID, e.ID)
			if err == nil {
				e.Result, e.FinishTime = res, fin
			}
		}
		out = append(out, e)
	}
	return out, next, nil
}
