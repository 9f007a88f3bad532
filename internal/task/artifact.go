package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ArtifactKind distinguishes build (file container) artifacts from pipeline artifacts.
type ArtifactKind string

// Artifact kinds.
const (
	// Container artifacts come from PublishBuildArtifacts@1 and ##vso[artifact.upload];
	// several uploads to one name merge.
	Container ArtifactKind = "Container"
	// Pipeline artifacts come from PublishPipelineArtifact@1; a name is published once.
	Pipeline ArtifactKind = "Pipeline"
)

// Artifact describes one published artifact of a run.
type Artifact struct {
	Name  string       `json:"name"`
	Kind  ArtifactKind `json:"kind"`
	ID    int          `json:"id"`
	Files int          `json:"files"`
	Size  int64        `json:"size"`
}

// ErrArtifactNotFound is returned by Download for a name the run has not published.
var ErrArtifactNotFound = errors.New("artifact not found")

// ArtifactStore keeps a run's artifacts. Implementations are safe for concurrent use by the
// jobs of one or more runs.
type ArtifactStore interface {
	// Publish copies localPath into the artifact: a directory's contents, or a file, under
	// subdir (a relative slash path inside the artifact, "" for its root). Publishing to an
	// existing Container artifact merges; to an existing Pipeline artifact it fails.
	Publish(ctx context.Context, runID int64, name string, kind ArtifactKind, subdir, localPath string) (Artifact, error)
	// List returns the run's artifacts sorted by name; an unknown run has none.
	List(ctx context.Context, runID int64) ([]Artifact, error)
	// Download copies the artifact's files whose relative paths match patterns (task-lib
	// match semantics; none means all) into dest, keeping relative paths, and returns how
	// many files it copied. An unknown name gives ErrArtifactNotFound.
	Download(ctx context.Context, runID int64, name, dest string, patterns []string) (int, error)
}

// LocalArtifacts stores artifacts on this machine as <Root>/<runID>/<name>/<files>, the
// local runner's stand-in for the server's artifact service.
type LocalArtifacts struct {
	root string
	mu   sync.Mutex
}

var _ ArtifactStore = (*LocalArtifacts)(nil)

// NewLocalArtifacts returns a store under root (typically <workdir>/_artifacts).
func NewLocalArtifacts(root string) *LocalArtifacts { return &LocalArtifacts{root: root} }

// indexName is the per-run file recording artifact kinds and ids.
const indexName = ".keystage-artifacts.json"

// ValidateArtifactName rejects names the artifact services reject.
func ValidateArtifactName(name string) error {
	if name == "" || strings.ContainsAny(name, `\/":<>|*?`) || name == indexName || name == "." || name == ".." {
		return fmt.Errorf("Artifact name is not valid: %s. It cannot contain '\\', /', \"', ':', '<', '>', '|', '*', and '?'", name)
	}
	return nil
}

func (s *LocalArtifacts) runDir(runID int64) string {
	return filepath.Join(s.root, strconv.FormatInt(runID, 10))
}

func (s *LocalArtifacts) readIndex(runID int64) (map[string]Artifact, error) {
	idx := map[string]Artifact{}
	b, err := os.ReadFile(filepath.Join(s.runDir(runID), indexName))
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifacts: read index: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("artifacts: read index: %w", err)
	}
	return idx, nil
}

func (s *LocalArtifacts) writeIndex(runID int64, idx map[string]Artifact) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.runDir(runID), indexName+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("artifacts: write index: %w", err)
	}
	return os.Rename(tmp, filepath.Join(s.runDir(runID), indexName))
}

// Publish implements ArtifactStore.
func (s *LocalArtifacts) Publish(ctx context.Context, runID int64, name string, kind ArtifactKind, subdir, localPath string) (Artifact, error) {
	if err := ValidateArtifactName(name); err != nil {
		return Artifact{}, err
	}
	clean := filepath.Clean(filepath.FromSlash("/" + subdir))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(s.runDir(runID), 0o755); err != nil {
		return Artifact{}, fmt.Errorf("artifacts: %w", err)
	}
	idx, err := s.readIndex(runID)
	if err != nil {
		return Artifact{}, err
	}
	a, exists := idx[name]
	if exists && (a.Kind == Pipeline || kind == Pipeline) {
		return Artifact{}, fmt.Errorf("Artifact %s already exists for build %d.", name, runID)
	}
	if !exists {
		a = Artifact{Name: name, Kind: kind, ID: len(idx) + 1}
	}
	dest := filepath.Join(s.runDir(runID), name, clean)
	files, size, err := copyTree(ctx, localPath, dest)
	if err != nil {
		return Artifact{}, fmt.Errorf("artifacts: publish %s: %w", name, err)
	}
	a.Files += files
	a.Size += size
	idx[name] = a
	if err := s.writeIndex(runID, idx); err != nil {
		return Artifact{}, err
	}
	return a, nil
}

// List implements ArtifactStore.
func (s *LocalArtifacts) List(ctx context.Context, runID int64) ([]Artifact, error) {
	s.mu.Lock()
	idx, err := s.readIndex(runID)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]Artifact, 0, len(idx))
	for _, a := range idx {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Download implements ArtifactStore.
func (s *LocalArtifacts) Download(ctx context.Context, runID int64, name, dest string, patterns []string) (int, error) {
	s.mu.Lock()
	idx, err := s.readIndex(runID)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if _, ok := idx[name]; !ok {
		return 0, fmt.Errorf("artifacts: %s: %w", name, ErrArtifactNotFound)
	}
	src := filepath.Join(s.runDir(runID), name)
	all, err := Find(src)
	if err != nil {
		return 0, err
	}
	if len(patterns) == 0 {
		patterns = []string{"**"}
	}
	matched, err := Match(all, patterns, src)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range matched {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dest, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return n, err
		}
		if err := copyFile(p, target); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// copyTree copies a file into dir, or a directory's contents below dir, following links.
func copyTree(ctx context.Context, src, dir string) (files int, size int64, err error) {
	fi, err := os.Stat(src)
	if err != nil {
		return 0, 0, err
	}
	if !fi.IsDir() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, 0, err
		}
		return 1, fi.Size(), copyFile(src, filepath.Join(dir, filepath.Base(src)))
	}
	all, err := Find(src)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range all {
		if err := ctx.Err(); err != nil {
			return files, size, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue // broken link
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dir, rel)
		if fi.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return files, size, err
			}
			continue
		}
		if err := copyFile(p, target); err != nil {
			return files, size, err
		}
		files++
		size += fi.Size()
	}
	return files, size, nil
}
