package listener

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/task"
)

// httpArtifacts is the task.ArtifactStore of a job running on this agent: it publishes to
// and downloads from the server, with the job's lock, the artifacts of the job's own run.
type httpArtifacts struct {
	c   *client
	mu  sync.Mutex
	msg *agentproto.JobMessage
}

var _ task.ArtifactStore = (*httpArtifacts)(nil)

// bind attaches the store to the running job (nil detaches it).
func (a *httpArtifacts) bind(msg *agentproto.JobMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msg = msg
}

func (a *httpArtifacts) job(runID int64) (*agentproto.JobMessage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.msg == nil {
		return nil, fmt.Errorf("artifacts: no job is running")
	}
	if runID != a.msg.RunID {
		return nil, fmt.Errorf("artifacts: this job can reach only the artifacts of its own run (%d), not of run %d", a.msg.RunID, runID)
	}
	return a.msg, nil
}

func kindOf(k task.ArtifactKind) agentproto.ArtifactKind {
	if k == task.Pipeline {
		return agentproto.Pipeline
	}
	return agentproto.Container
}

// Publish implements task.ArtifactStore: it uploads a file, or a directory's files (links
// followed), under subdir of the artifact.
func (a *httpArtifacts) Publish(ctx context.Context, runID int64, name string, kind task.ArtifactKind, subdir, localPath string) (task.Artifact, error) {
	msg, err := a.job(runID)
	if err != nil {
		return task.Artifact{}, err
	}
	if err := task.ValidateArtifactName(name); err != nil {
		return task.Artifact{}, err
	}
	files, err := collect(localPath, subdir)
	if err != nil {
		return task.Artifact{}, fmt.Errorf("artifacts: publish %s: %w", name, err)
	}
	pub := agentproto.ArtifactPublish{LockToken: msg.LockToken, Name: name, Kind: kindOf(kind)}
	var out agentproto.Artifact
	if err := a.call(ctx, http.MethodPost, jobPath(msg, "artifacts"), nil, pub, &out); err != nil {
		return task.Artifact{}, fmt.Errorf("artifacts: publish %s: %w", name, err)
	}
	fp := jobPath(msg, "artifacts", url.PathEscape(name), "files")
	for _, f := range files {
		q := url.Values{"lockToken": {msg.LockToken}, "path": {f.rel}}
		err := retry(ctx, 5*time.Second, func() error {
			fh, err := os.Open(f.abs)
			if err != nil {
				return err // not retryable: a local error
			}
			defer fh.Close()
			_, err = a.c.do(ctx, http.MethodPut, fp, q, fh, nil)
			return err
		})
		if err != nil {
			return task.Artifact{}, fmt.Errorf("artifacts: upload %s to %s: %w", f.rel, name, err)
		}
	}
	pub.Done = true
	if err := a.call(ctx, http.MethodPost, jobPath(msg, "artifacts"), nil, pub, &out); err != nil {
		return task.Artifact{}, fmt.Errorf("artifacts: publish %s: %w", name, err)
	}
	return task.Artifact{Name: out.Name, Kind: kind, ID: out.ID, Files: out.Files, Size: out.Size}, nil
}

// call is one retried protocol call.
func (a *httpArtifacts) call(ctx context.Context, method, p string, q url.Values, body, out any) error {
	return retry(ctx, 5*time.Second, func() error {
		_, err := a.c.do(ctx, method, p, q, body, out)
		return err
	})
}

type localFile struct {
	abs, rel string
}

// collect lists the files to upload: localPath itself, or the files below it, with their
// slash paths inside the artifact.
func collect(localPath, subdir string) ([]localFile, error) {
	fi, err := os.Stat(localPath)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []localFile{{abs: localPath, rel: path.Join(subdir, filepath.Base(localPath))}}, nil
	}
	all, err := task.Find(localPath)
	if err != nil {
		return nil, err
	}
	var out []localFile
	for _, p := range all {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || !fi.Mode().IsRegular() {
			continue // directories, broken links, devices
		}
		rel, err := filepath.Rel(localPath, p)
		if err != nil {
			return nil, err
		}
		out = append(out, localFile{abs: p, rel: path.Join(subdir, filepath.ToSlash(rel))})
	}
	return out, nil
}

// List implements task.ArtifactStore.
func (a *httpArtifacts) List(ctx context.Context, runID int64) ([]task.Artifact, error) {
	msg, err := a.job(runID)
	if err != nil {
		return nil, err
	}
	var list []agentproto.Artifact
	if err := a.call(ctx, http.MethodGet, jobPath(msg, "artifacts"), url.Values{"lockToken": {msg.LockToken}}, nil, &list); err != nil {
		return nil, fmt.Errorf("artifacts: list: %w", err)
	}
	out := make([]task.Artifact, 0, len(list))
	for _, x := range list {
		k := task.Container
		if x.Kind == agentproto.Pipeline {
			k = task.Pipeline
		}
		out = append(out, task.Artifact{Name: x.Name, Kind: k, ID: x.ID, Files: x.Files, Size: x.Size})
	}
	return out, nil
}

// Download implements task.ArtifactStore.
func (a *httpArtifacts) Download(ctx context.Context, runID int64, name, dest string, patterns []string) (int, error) {
	msg, err := a.job(runID)
	if err != nil {
		return 0, err
	}
	q := url.Values{"lockToken": {msg.LockToken}}
	var files []agentproto.ArtifactFile
	err = a.call(ctx, http.MethodGet, jobPath(msg, "artifacts", url.PathEscape(name), "files"), q, nil, &files)
	if gone(err) {
		return 0, fmt.Errorf("artifacts: %s: %w", name, task.ErrArtifactNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("artifacts: download %s: %w", name, err)
	}
	root, err := filepath.Abs(dest)
	if err != nil {
		return 0, err
	}
	cands := make([]string, 0, len(files))
	for _, f := range files {
		cands = append(cands, filepath.Join(root, filepath.FromSlash(f.Path)))
	}
	if len(patterns) == 0 {
		patterns = []string{"**"}
	}
	matched, err := task.Match(cands, patterns, root)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, target := range matched {
		rel, err := filepath.Rel(root, target)
		if err != nil {
			return n, err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return n, err
		}
		fq := url.Values{"lockToken": {msg.LockToken}, "path": {filepath.ToSlash(rel)}}
		err = retry(ctx, 5*time.Second, func() error {
			fh, err := os.Create(target)
			if err != nil {
				return err
			}
			_, err = a.c.do(ctx, http.MethodGet, jobPath(msg, "artifacts", url.PathEscape(name), "file"), fq, nil, fh)
			if cerr := fh.Close(); err == nil {
				err = cerr
			}
			return err
		})
		if err != nil {
			return n, fmt.Errorf("artifacts: download %s from %s: %w", rel, name, err)
		}
		n++
	}
	return n, nil
}
