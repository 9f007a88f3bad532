package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/logcmd"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/task"
)

var (
	_ task.Host         = (*stepRun)(nil)
	_ task.EndpointHost = (*stepRun)(nil)
)

// Endpoint implements task.EndpointHost over the job's service connections
// (job.Request.Endpoints), by id or by name, case-insensitively.
func (s *stepRun) Endpoint(idOrName string) (job.Endpoint, bool) {
	for _, e := range s.j.req.Endpoints {
		if strings.EqualFold(e.ID, idOrName) || strings.EqualFold(e.Name, idOrName) {
			return e, true
		}
	}
	return job.Endpoint{}, false
}

// Variable implements task.Host.
func (s *stepRun) Variable(name string) (string, bool) { return s.j.vars.get(name) }

// Error implements task.Host.
func (s *stepRun) Error(msg string) { s.error(msg) }

// Warning implements task.Host.
func (s *stepRun) Warning(msg string) { s.warning(msg) }

// Debug implements task.Host.
func (s *stepRun) Debug(msg string) { s.debug(msg) }

// SetVariable implements task.Host for Keystage's own (trusted) tasks.
func (s *stepRun) SetVariable(name, value string, secret, output bool) error {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	return s.setVariable(logcmd.SetVariable{Name: name, Value: value, Secret: secret, Output: output}, logcmd.Options{KeepPercents: s.keepPercents()}, false)
}

// UploadArtifact implements task.Host with artifact.upload semantics.
func (s *stepRun) UploadArtifact(ctx context.Context, name, containerFolder, localPath string) error {
	return s.uploadArtifactCtx(ctx, name, containerFolder, localPath)
}

// ProcessStarted implements task.Host.
func (s *stepRun) ProcessStarted(pgid int) {
	s.j.mu.Lock()
	s.j.pgids = append(s.j.pgids, pgid)
	s.j.mu.Unlock()
}

func (s *stepRun) uploadArtifact(name, containerFolder, localPath string) error {
	return s.uploadArtifactCtx(context.Background(), name, containerFolder, localPath)
}

// uploadArtifactCtx is the agent's ArtifactUploadCommand against the artifact store: the
// path must exist, an empty directory only warns, and the content lands under the
// container folder's path inside the artifact.
func (s *stepRun) uploadArtifactCtx(ctx context.Context, name, containerFolder, localPath string) error {
	j := s.j
	store := j.e.cfg.Artifacts
	if store == nil {
		return errors.New("artifacts cannot be uploaded: this agent has no artifact store")
	}
	if containerFolder == "" {
		containerFolder = name
	}
	full := localPath
	if !filepath.IsAbs(full) {
		wd, _ := j.vars.get("System.DefaultWorkingDirectory")
		full = filepath.Join(wd, full)
	}
	full = filepath.Clean(full)
	fi, err := os.Stat(full)
	if err != nil {
		return errors.New(logcmd.PathDoesNotExistMessage(localPath))
	}
	if fi.IsDir() {
		files, err := task.Find(full)
		if err != nil {
			return err
		}
		empty := true
		for _, p := range files {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				empty = false
				break
			}
		}
		if empty {
			s.warning(logcmd.EmptyDirectoryMessage(full, name))
			return nil
		}
	}
	// The artifact's root is the container folder; a deeper folder ("drop/sub") keeps
	// its extra path inside the artifact.
	folder := strings.Trim(filepath.ToSlash(containerFolder), "/")
	sub := ""
	if rest, ok := strings.CutPrefix(folder, name+"/"); ok {
		sub = rest
	}
	a, err := store.Publish(ctx, j.req.RunID, name, task.Container, sub, full)
	if err != nil {
		return err
	}
	s.print(fmt.Sprintf("Upload '%s' to file container: '#/%d/%s'", full, j.req.RunID, folder))
	s.print(fmt.Sprintf("Associated artifact %d with build %d", a.ID, j.req.RunID))
	return nil
}

// attach copies a file a step attached into the work folder and records it.
func (s *stepRun) attach(typ, name, path string) error {
	j := s.j
	if !filepath.IsAbs(path) {
		wd, _ := j.vars.get("System.DefaultWorkingDirectory")
		path = filepath.Join(wd, path)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return errors.New("Cannot upload task attachment file, attachment file location is not specified or attachment file does not exist on disk.")
	}
	j.mu.Lock()
	n := len(j.attachments) + 1
	j.mu.Unlock()
	dir := filepath.Join(j.e.cfg.WorkFolder, "_attachments", strconv.FormatInt(j.req.RunID, 10), j.req.JobID)
	if j.req.JobID == "" {
		dir = filepath.Join(dir, j.req.JobName)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dest := filepath.Join(dir, fmt.Sprintf("%d-%s", n, name))
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dest, b, 0o644); err != nil {
		return err
	}
	j.mu.Lock()
	j.attachments = append(j.attachments, job.Attachment{Type: typ, Name: name, Path: dest, Step: s.info.DisplayName})
	j.mu.Unlock()
	return nil
}
