package orchestrator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/keystage/keystage/internal/storage"
)

// Storage layout. Every value is JSON (log chunks and artifact bytes are raw) sealed by the
// barrier. P is Config.ProjectPrefix(orgID, projectID), O is Config.OrgPrefix(orgID); ids in
// keys are zero-padded so that keys sort numerically.
//
//	P list/{runId}                                   Run (the Build-shaped record)
//	P x/{runId}/state                                run.State
//	P x/{runId}/timeline                             timeline state (run level: change id, pools, checkpoints)
//	P x/{runId}/jobs/{jobId}                         a job's progress: its task records and logs
//	P x/{runId}/log/{logId}/{firstLine}              log chunk (agentproto chunk format)
//	P x/{runId}/artifacts                            artifact index
//	P x/{runId}/art/{artifactId}/{fileId}/{part}     artifact file bytes, ≤ artifactPartSize each
//	P rev/{definitionId}/{hash of revision key}      $(Rev:r) counter
//	P counters/{definitionId}                        counter() values
//	O agenttoken/{poolId}/{agentId}                  MAC of the agent's credential
//	orch/runseq                                      last run id (ids are unique per server)
//	orch/reqseq                                      high-water mark of job request ids
//	orch/active/{runId}                              Project of a run that has not completed
//	orch/jobs/{jobId}                                jobRecord of a job queued or running
const (
	runSeqKey    = "orch/runseq"
	reqSeqKey    = "orch/reqseq"
	activePrefix = "orch/active/"
	jobsPrefix   = "orch/jobs/"
)

func runIDKey(id int64) string { return fmt.Sprintf("%016d", id) }

func (s *Service) projectPrefix(p Project) string { return s.cfg.ProjectPrefix(p.OrgID, p.ID) }

func (s *Service) runKey(p Project, id int64) string {
	return s.projectPrefix(p) + "list/" + runIDKey(id)
}

func (s *Service) runDataPrefix(p Project, id int64) string {
	return s.projectPrefix(p) + "x/" + runIDKey(id) + "/"
}

func (s *Service) stateKey(p Project, id int64) string    { return s.runDataPrefix(p, id) + "state" }
func (s *Service) timelineKey(p Project, id int64) string { return s.runDataPrefix(p, id) + "timeline" }

func (s *Service) jobProgressKey(p Project, id int64, jobID string) string {
	return s.runDataPrefix(p, id) + "jobs/" + jobID
}

func (s *Service) logPrefix(p Project, id int64, logID int) string {
	return s.runDataPrefix(p, id) + fmt.Sprintf("log/%06d/", logID)
}

func (s *Service) chunkKey(p Project, id int64, logID, firstLine int) string {
	return s.logPrefix(p, id, logID) + fmt.Sprintf("%010d", firstLine)
}

func (s *Service) artifactIndexKey(p Project, id int64) string {
	return s.runDataPrefix(p, id) + "artifacts"
}

func (s *Service) artifactFilePrefix(p Project, id int64, artifactID, fileID int) string {
	return s.runDataPrefix(p, id) + fmt.Sprintf("art/%04d/%08d/", artifactID, fileID)
}

func (s *Service) revisionKey(p Project, definitionID int, key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.projectPrefix(p) + fmt.Sprintf("rev/%010d/", definitionID) + hex.EncodeToString(sum[:16])
}

func (s *Service) countersKey(p Project, definitionID int) string {
	return s.projectPrefix(p) + fmt.Sprintf("counters/%010d", definitionID)
}

func (s *Service) agentTokenKey(orgID string, poolID, agentID int) string {
	return s.cfg.OrgPrefix(orgID) + fmt.Sprintf("agenttoken/%010d/%010d", poolID, agentID)
}

func activeKey(id int64) string  { return activePrefix + runIDKey(id) }
func jobKey(jobID string) string { return jobsPrefix + jobID }

// nextSeq increments the integer at key inside tx and returns the new value.
func nextSeq(ctx context.Context, tx storage.Store, key string, step int64) (int64, error) {
	var n int64
	b, err := tx.Get(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return 0, err
	default:
		if n, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return 0, fmt.Errorf("decode %s: %w", key, err)
		}
	}
	n += step
	return n, tx.Put(ctx, key, []byte(strconv.FormatInt(n, 10)))
}
