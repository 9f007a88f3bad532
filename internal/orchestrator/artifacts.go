package orchestrator

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/orchestrator/agentproto"
	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/task"
)

// artifactPartSize is the size of one stored piece of an artifact file.
const artifactPartSize = 1 << 20

// MaxArtifactFileSize bounds one uploaded artifact file.
const MaxArtifactFileSize = 4 << 30

// artifactIndex lists a run's artifacts and their files (x/{runId}/artifacts).
type artifactIndex struct {
	NextID    int              `json:"nextId"`
	Artifacts []*artifactEntry `json:"artifacts"`
}

type artifactEntry struct {
	ID         int                     `json:"id"`
	Name       string                  `json:"name"`
	Kind       agentproto.ArtifactKind `json:"kind"`
	JobID      string                  `json:"jobId"`
	Created    time.Time               `json:"created"`
	Committed  bool                    `json:"committed"`
	NextFileID int                     `json:"nextFileId"`
	Files      []artifactFile          `json:"files"`
}

type artifactFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	FileID int    `json:"fileId"`
	Parts  int    `json:"parts"`
}

// ArtifactInfo describes a published artifact of a run.
type ArtifactInfo struct {
	ID      int                     `json:"id"`
	Name    string                  `json:"name"`
	Kind    agentproto.ArtifactKind `json:"kind"`
	JobID   string                  `json:"jobId"`
	Files   int                     `json:"files"`
	Size    int64                   `json:"size"`
	Created time.Time               `json:"created"`
}

func (a *artifactEntry) info() ArtifactInfo {
	ai := ArtifactInfo{ID: a.ID, Name: a.Name, Kind: a.Kind, JobID: a.JobID, Files: len(a.Files), Created: a.Created}
	for _, f := range a.Files {
		ai.Size += f.Size
	}
	return ai
}

// visible reports whether readers see the artifact: container artifacts from their first
// file on, pipeline artifacts once published completely.
func (a *artifactEntry) visible() bool {
	return a.Committed || a.Kind == agentproto.Container && len(a.Files) > 0
}

func artifactNotFound(name string, run int64) error {
	return notFound(CodeArtifactNotFound, "Artifact %s was not found for build %d.", clip(name), run)
}

func (s *Service) loadArtifacts(ctx context.Context, st storage.Store, p Project, id int64) (*artifactIndex, error) {
	idx := &artifactIndex{}
	err := storage.GetJSON(ctx, st, s.artifactIndexKey(p, id), idx)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, storageError("load artifacts", err)
	}
	return idx, nil
}

func (idx *artifactIndex) find(name string) *artifactEntry {
	for _, a := range idx.Artifacts {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// jobRun returns the active run of a job the agent holds.
func (s *Service) jobRun(a Agent, jobID, lockToken string) (*activeRun, error) {
	l, err := s.leases.check(jobID, a.id(), lockToken)
	if err != nil {
		return nil, err
	}
	return l.run, nil
}

// PublishArtifact starts publishing an artifact of the agent's job, or with Done records
// that its files are all uploaded. Publishing to an existing Container artifact merges;
// publishing a Pipeline artifact that exists fails, as in Azure.
func (s *Service) PublishArtifact(ctx context.Context, a Agent, jobID string, pub agentproto.ArtifactPublish) (agentproto.Artifact, error) {
	r, err := s.jobRun(a, jobID, pub.LockToken)
	if err != nil {
		return agentproto.Artifact{}, err
	}
	if err := task.ValidateArtifactName(pub.Name); err != nil {
		return agentproto.Artifact{}, badRequest("%s", err.Error())
	}
	r.artMu.Lock()
	defer r.artMu.Unlock()
	var out *artifactEntry
	err = s.st.Update(ctx, func(tx storage.Store) error {
		idx, err := s.loadArtifacts(ctx, tx, r.project, r.id)
		if err != nil {
			return err
		}
		e := idx.find(pub.Name)
		switch {
		case e == nil:
			if pub.Done {
				return artifactNotFound(pub.Name, r.id)
			}
			idx.NextID++
			e = &artifactEntry{ID: idx.NextID, Name: pub.Name, Kind: pub.Kind, JobID: jobID, Created: s.now().UTC()}
			idx.Artifacts = append(idx.Artifacts, e)
		case e.Kind != pub.Kind || pub.Kind == agentproto.Pipeline && !pub.Done && (e.Committed || e.JobID != jobID):
			return fault.New(fault.Conflict, CodeArtifactExists, "Artifact %s already exists for build %d.", e.Name, r.id)
		}
		if pub.Done {
			e.Committed = true
		}
		out = e
		return storage.PutJSON(ctx, tx, s.artifactIndexKey(r.project, r.id), idx)
	})
	if err != nil {
		return agentproto.Artifact{}, storageError("publish artifact", err)
	}
	info := out.info()
	return agentproto.Artifact{ID: info.ID, Name: info.Name, Kind: info.Kind, Files: info.Files, Size: info.Size}, nil
}

// CleanArtifactPath validates a file path inside an artifact and returns it cleaned
// (slash-separated, relative, without "." or ".." elements).
func CleanArtifactPath(p string) (string, error) {
	p = strings.ReplaceAll(p, "\\", "/")
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return "", badRequest("The artifact file path %q must be a non-empty relative path.", clip(p))
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", badRequest("The artifact file path %q must not contain '..'.", clip(p))
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", badRequest("The artifact file path %q names no file.", clip(p))
	}
	return c, nil
}

// UploadArtifactFile stores one file of an artifact being published by the agent's job,
// replacing a file of the same path.
func (s *Service) UploadArtifactFile(ctx context.Context, a Agent, jobID, lockToken, name, filePath string, body io.Reader) (agentproto.ArtifactFile, error) {
	r, err := s.jobRun(a, jobID, lockToken)
	if err != nil {
		return agentproto.ArtifactFile{}, err
	}
	fp, err := CleanArtifactPath(filePath)
	if err != nil {
		return agentproto.ArtifactFile{}, err
	}
	// Reserve a file id.
	r.artMu.Lock()
	idx, err := s.loadArtifacts(ctx, s.st, r.project, r.id)
	if err != nil {
		r.artMu.Unlock()
		return agentproto.ArtifactFile{}, err
	}
	e := idx.find(name)
	if e == nil || e.Committed && e.Kind == agentproto.Pipeline {
		r.artMu.Unlock()
		return agentproto.ArtifactFile{}, badRequest("Artifact %s is not being published by this job; start publishing it first.", clip(name))
	}
	e.NextFileID++
	fileID, artifactID := e.NextFileID, e.ID
	err = storage.PutJSON(ctx, s.st, s.artifactIndexKey(r.project, r.id), idx)
	r.artMu.Unlock()
	if err != nil {
		return agentproto.ArtifactFile{}, storageError("upload artifact", err)
	}
	// Store the bytes, part by part, outside any transaction.
	prefix := s.artifactFilePrefix(r.project, r.id, artifactID, fileID)
	buf := make([]byte, artifactPartSize)
	var size int64
	parts := 0
	for {
		n, rerr := io.ReadFull(body, buf)
		if n > 0 {
			if size += int64(n); size > MaxArtifactFileSize {
				_ = storage.DeletePrefixBatched(ctx, s.st, prefix)
				return agentproto.ArtifactFile{}, fault.New(fault.TooLarge, CodeBadRequest, "The artifact file %s is larger than %d bytes.", clip(fp), int64(MaxArtifactFileSize))
			}
			if err := s.st.Put(ctx, prefix+fmt.Sprintf("%06d", parts), buf[:n]); err != nil {
				return agentproto.ArtifactFile{}, storageError("upload artifact", err)
			}
			parts++
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			_ = storage.DeletePrefixBatched(ctx, s.st, prefix)
			return agentproto.ArtifactFile{}, fmt.Errorf("orchestrator: read artifact file: %w", rerr)
		}
	}
	// Record it, replacing an earlier file of the same path.
	r.artMu.Lock()
	defer r.artMu.Unlock()
	var replaced *artifactFile
	err = s.st.Update(ctx, func(tx storage.Store) error {
		idx, err := s.loadArtifacts(ctx, tx, r.project, r.id)
		if err != nil {
			return err
		}
		e := idx.find(name)
		if e == nil {
			return artifactNotFound(name, r.id)
		}
		f := artifactFile{Path: fp, Size: size, FileID: fileID, Parts: parts}
		i := slices.IndexFunc(e.Files, func(x artifactFile) bool { return x.Path == fp })
		if i >= 0 {
			old := e.Files[i]
			replaced = &old
			e.Files[i] = f
		} else {
			e.Files = append(e.Files, f)
			slices.SortFunc(e.Files, func(a, b artifactFile) int { return strings.Compare(a.Path, b.Path) })
		}
		return storage.PutJSON(ctx, tx, s.artifactIndexKey(r.project, r.id), idx)
	})
	if err != nil {
		return agentproto.ArtifactFile{}, storageError("upload artifact", err)
	}
	if replaced != nil {
		_ = storage.DeletePrefixBatched(ctx, s.st, s.artifactFilePrefix(r.project, r.id, artifactID, replaced.FileID))
	}
	return agentproto.ArtifactFile{Path: fp, Size: size}, nil
}

// Artifacts lists run id's artifacts by name.
func (s *Service) Artifacts(ctx context.Context, p Project, id int64) ([]ArtifactInfo, error) {
	if _, err := s.Run(ctx, p, id); err != nil {
		return nil, err
	}
	idx, err := s.loadArtifacts(ctx, s.st, p, id)
	if err != nil {
		return nil, err
	}
	var out []ArtifactInfo
	for _, a := range idx.Artifacts {
		if a.visible() {
			out = append(out, a.info())
		}
	}
	slices.SortFunc(out, func(a, b ArtifactInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Service) artifact(ctx context.Context, p Project, id int64, name string) (*artifactEntry, error) {
	if _, err := s.Run(ctx, p, id); err != nil {
		return nil, err
	}
	idx, err := s.loadArtifacts(ctx, s.st, p, id)
	if err != nil {
		return nil, err
	}
	a := idx.find(name)
	if a == nil || !a.visible() {
		return nil, artifactNotFound(name, id)
	}
	return a, nil
}

// Artifact describes one artifact of run id.
func (s *Service) Artifact(ctx context.Context, p Project, id int64, name string) (ArtifactInfo, error) {
	a, err := s.artifact(ctx, p, id, name)
	if err != nil {
		return ArtifactInfo{}, err
	}
	return a.info(), nil
}

// ArtifactFiles lists an artifact's files by path.
func (s *Service) ArtifactFiles(ctx context.Context, p Project, id int64, name string) ([]agentproto.ArtifactFile, error) {
	a, err := s.artifact(ctx, p, id, name)
	if err != nil {
		return nil, err
	}
	out := make([]agentproto.ArtifactFile, 0, len(a.Files))
	for _, f := range a.Files {
		out = append(out, agentproto.ArtifactFile{Path: f.Path, Size: f.Size})
	}
	return out, nil
}

// copyFile writes one stored artifact file to w.
func (s *Service) copyFile(ctx context.Context, p Project, id int64, a *artifactEntry, f artifactFile, w io.Writer) error {
	prefix := s.artifactFilePrefix(p, id, a.ID, f.FileID)
	after := ""
	for {
		page, err := s.st.List(ctx, prefix, after, 8)
		if err != nil {
			return storageError("read artifact", err)
		}
		for _, e := range page {
			if _, err := w.Write(e.Value); err != nil {
				return err
			}
		}
		if len(page) < 8 {
			return nil
		}
		after = page[len(page)-1].Key
	}
}

// WriteArtifactFile writes one file of an artifact (path relative to the artifact, or
// starting with the artifact's name) to w.
func (s *Service) WriteArtifactFile(ctx context.Context, p Project, id int64, name, filePath string, w io.Writer) error {
	a, err := s.artifact(ctx, p, id, name)
	if err != nil {
		return err
	}
	fp, err := CleanArtifactPath(filePath)
	if err != nil {
		return err
	}
	for _, cand := range []string{fp, strings.TrimPrefix(fp, a.Name+"/")} {
		for _, f := range a.Files {
			if f.Path == cand {
				return s.copyFile(ctx, p, id, a, f, w)
			}
		}
	}
	return notFound(CodeArtifactNotFound, "The file %s was not found in artifact %s of build %d.", clip(fp), a.Name, id)
}

// WriteArtifactZip writes an artifact as a zip archive to w: its files under a folder named
// after the artifact, as Azure's downloads are.
func (s *Service) WriteArtifactZip(ctx context.Context, p Project, id int64, name string, w io.Writer) error {
	a, err := s.artifact(ctx, p, id, name)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, f := range a.Files {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + "/" + f.Path, Method: zip.Deflate, Modified: a.Created})
		if err != nil {
			return err
		}
		if err := s.copyFile(ctx, p, id, a, f, fw); err != nil {
			return err
		}
	}
	return zw.Close()
}

// JobArtifactFiles lists the files of an artifact of the agent's run, for
// DownloadPipelineArtifact on the agent.
func (s *Service) JobArtifactFiles(ctx context.Context, a Agent, jobID, lockToken, name string) ([]agentproto.ArtifactFile, error) {
	r, err := s.jobRun(a, jobID, lockToken)
	if err != nil {
		return nil, err
	}
	return s.ArtifactFiles(ctx, r.project, r.id, name)
}

// JobArtifacts lists the artifacts of the agent's run.
func (s *Service) JobArtifacts(ctx context.Context, a Agent, jobID, lockToken string) ([]agentproto.Artifact, error) {
	r, err := s.jobRun(a, jobID, lockToken)
	if err != nil {
		return nil, err
	}
	list, err := s.Artifacts(ctx, r.project, r.id)
	if err != nil {
		return nil, err
	}
	out := make([]agentproto.Artifact, 0, len(list))
	for _, x := range list {
		out = append(out, agentproto.Artifact{ID: x.ID, Name: x.Name, Kind: x.Kind, Files: x.Files, Size: x.Size})
	}
	return out, nil
}

// WriteJobArtifactFile writes a file of an artifact of the agent's run to w.
func (s *Service) WriteJobArtifactFile(ctx context.Context, a Agent, jobID, lockToken, name, filePath string, w io.Writer) error {
	r, err := s.jobRun(a, jobID, lockToken)
	if err != nil {
		return err
	}
	return s.WriteArtifactFile(ctx, r.project, r.id, name, filePath, w)
}
