package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/fault"
)

// source is a pipeline's repository opened at the run's branch.
type source struct {
	fsys    fs.FS
	commit  string
	message string
	// dir is a temporary clone to remove, or "".
	dir string
}

func (src *source) close() {
	if src.dir != "" {
		_ = os.RemoveAll(src.dir)
	}
}

// openSource opens the repository a pipeline's YAML comes from. A local repository is read
// as it is on disk (its working tree, whatever branch is checked out; the commit is HEAD's
// when it is a Git work tree). A Git repository is cloned (shallow, one branch) into a
// temporary directory with the git executable; commit, when set, is fetched and checked out.
func (s *Service) openSource(ctx context.Context, repo PipelineRepository, branch, commit string) (*source, error) {
	switch repo.Kind {
	case RepositoryLocal:
		fi, err := os.Stat(repo.Location)
		if err != nil || !fi.IsDir() {
			return nil, badRequest("The repository directory %s of this pipeline does not exist on the server.", clip(repo.Location))
		}
		src := &source{fsys: os.DirFS(repo.Location)}
		if _, err := os.Stat(filepath.Join(repo.Location, ".git")); err == nil {
			if out, err := s.git(ctx, repo.Location, "rev-parse", "HEAD"); err == nil {
				src.commit = strings.TrimSpace(out)
			}
			if out, err := s.git(ctx, repo.Location, "log", "-1", "--format=%s"); err == nil {
				src.message = strings.TrimSpace(out)
			}
		}
		return src, nil
	case RepositoryGit:
		return s.clone(ctx, repo.Location, branch, commit)
	}
	return nil, badRequest("The repository kind %q is not supported; use %q or %q.", clip(repo.Kind), RepositoryGit, RepositoryLocal)
}

// clone makes a shallow clone of url at branch.
func (s *Service) clone(ctx context.Context, url, branch, commit string) (*source, error) {
	dir, err := os.MkdirTemp("", "keystage-source-")
	if err != nil {
		return nil, fmt.Errorf("orchestrator: clone: %w", err)
	}
	src := &source{fsys: os.DirFS(dir), dir: dir}
	name := strings.TrimPrefix(branch, "refs/heads/")
	args := []string{"clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags"}
	if name != "" {
		args = append(args, "--branch", name)
	}
	args = append(args, "--", url, dir)
	if _, err := s.git(ctx, "", args...); err != nil {
		src.close()
		return nil, fault.New(fault.BadRequest, CodePipelineInvalid,
			"Could not fetch branch %s of repository %s: %s", name, clip(url), clip(gitMessage(err))).Wrap(err)
	}
	if commit != "" {
		if _, err := s.git(ctx, dir, "fetch", "--quiet", "--depth", "1", "origin", commit); err == nil {
			_, err = s.git(ctx, dir, "checkout", "--quiet", "--detach", commit)
		}
		if err != nil {
			src.close()
			return nil, fault.New(fault.BadRequest, CodePipelineInvalid,
				"Could not fetch commit %s of repository %s: %s", clip(commit), clip(url), clip(gitMessage(err))).Wrap(err)
		}
	}
	if out, err := s.git(ctx, dir, "rev-parse", "HEAD"); err == nil {
		src.commit = strings.TrimSpace(out)
	}
	if out, err := s.git(ctx, dir, "log", "-1", "--format=%s"); err == nil {
		src.message = strings.TrimSpace(out)
	}
	return src, nil
}

// git runs the git executable without prompts and returns its standard output.
func (s *Service) git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.GitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cfg.Git, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", &gitError{args: args[0], stderr: strings.TrimSpace(stderr.String()), err: err}
	}
	return stdout.String(), nil
}

type gitError struct {
	args   string
	stderr string
	err    error
}

func (e *gitError) Error() string { return "git " + e.args + ": " + e.err.Error() + ": " + e.stderr }
func (e *gitError) Unwrap() error { return e.err }

// gitMessage is the last line git printed, for users.
func gitMessage(err error) string {
	var ge *gitError
	if errors.As(err, &ge) && ge.stderr != "" {
		lines := strings.Split(ge.stderr, "\n")
		return lines[len(lines)-1]
	}
	return err.Error()
}

// overlayFS serves one file from memory over a base file system: a queued YAML override.
type overlayFS struct {
	base    fs.FS
	name    string
	content []byte
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if path.Clean(name) == path.Clean(o.name) {
		return &memFile{name: path.Base(name), r: bytes.NewReader(o.content), size: int64(len(o.content))}, nil
	}
	if o.base == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return o.base.Open(name)
}

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f.name, f.size}, nil }
func (f *memFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *memFile) Close() error               { return nil }

var _ io.Reader = (*memFile)(nil)

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
