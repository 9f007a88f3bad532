package task

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Checkout is the built-in Checkout@1 step (`checkout: self`). The self repository
// (job.Repository.URI) is either a directory on this machine — its working tree, .git
// included, is copied into the sources directory, so the job sees the files as they are on
// disk, uncommitted changes included, and cannot change the original — or a Git URL, which
// is cloned with the git command at the run's branch (and commit, when the run names one),
// shallow when fetchDepth says so. `clean` is implied, since every checkout starts from an
// empty sources directory.
type Checkout struct{}

var checkoutDef = &Definition{
	Name:         "Checkout",
	FriendlyName: "Get sources",
	Description:  "Get sources from a repository. Supports Git, TfsVC, and SVN repositories.",
	Author:       "Microsoft",
	HelpURL:      "[More Information](https://go.microsoft.com/fwlink/?LinkId=798199)",
	Version:      Version{1, 0, 0},
	Inputs: []Input{
		{Name: "repository", Aliases: []string{"checkout"}, Type: String, Default: "self", Required: true},
		{Name: "clean", Type: String},
		{Name: "fetchDepth", Type: String},
		{Name: "fetchFilter", Type: String},
		{Name: "fetchTags", Type: String},
		{Name: "lfs", Type: String},
		{Name: "submodules", Type: String},
		{Name: "path", Type: String},
		{Name: "persistCredentials", Type: String},
		{Name: "workspaceRepo", Type: String},
		{Name: "sparseCheckoutDirectories", Type: String},
		{Name: "sparseCheckoutPatterns", Type: String},
	},
}

// Definition implements Task.
func (Checkout) Definition() *Definition { return checkoutDef }

// IsNone reports whether a Checkout step's inputs say `checkout: none`, a step the agent
// does not run.
func IsNone(inputs map[string]string) bool {
	for k, v := range inputs {
		if c, ok := checkoutDef.Canonical(k); ok && c == "repository" {
			return strings.EqualFold(strings.TrimSpace(v), "none")
		}
	}
	return false
}

// Run implements Task.
func (Checkout) Run(ctx context.Context, env *Env) error {
	repo := env.Inputs.Get("repository")
	if !strings.EqualFold(repo, "self") {
		return fmt.Errorf("Checkout@1: repository '%s' cannot be checked out; Keystage checks out only 'self'", repo)
	}
	for _, unsupported := range []string{"sparseCheckoutDirectories", "sparseCheckoutPatterns"} {
		if env.Inputs.Get(unsupported) != "" {
			return fmt.Errorf("Checkout@1: %s is not supported", unsupported)
		}
	}
	sources, _ := env.Host.Variable("Build.SourcesDirectory")
	buildDir, _ := env.Host.Variable("Agent.BuildDirectory")
	if p := env.Inputs.Get("path"); p != "" {
		target := p
		if !filepath.IsAbs(target) {
			target = filepath.Join(buildDir, p)
		}
		if filepath.Clean(target) != filepath.Clean(sources) {
			return fmt.Errorf("Checkout@1: a checkout path other than the sources directory (%s) is not supported", sources)
		}
	}
	src := env.Repository.URI
	if src == "" {
		return fmt.Errorf("Checkout@1: the run has no repository to check out")
	}
	if err := os.RemoveAll(sources); err != nil {
		return fmt.Errorf("Checkout@1: clean %s: %w", sources, err)
	}
	if isGitURL(src) {
		return cloneRepository(ctx, env, src, sources)
	}
	fi, err := os.Stat(src)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("Checkout@1: repository '%s' is neither a directory on this machine nor a Git URL", src)
	}
	name := env.Repository.Name
	if name == "" {
		name = filepath.Base(src)
	}
	env.logf("Syncing repository: %s (%s)", name, "local")
	env.logf("Copying %s to %s", src, sources)
	n, err := copyWorkingTree(ctx, src, sources)
	if err != nil {
		return fmt.Errorf("Checkout@1: %w", err)
	}
	env.logf("Copied %d files", n)
	return nil
}

// isGitURL reports whether uri names a remote repository rather than a local directory:
// a URL with a scheme, or scp-like "user@host:path".
func isGitURL(uri string) bool {
	if i := strings.Index(uri, "://"); i > 0 {
		return true
	}
	at, colon := strings.Index(uri, "@"), strings.Index(uri, ":")
	return at > 0 && colon > at && !strings.ContainsAny(uri[:at], "/\\")
}

// cloneRepository clones url into dest at the run's branch and commit with the git command.
func cloneRepository(ctx context.Context, env *Env, url, dest string) error {
	git, err := exec.LookPath("git")
	if err != nil {
		return fmt.Errorf("Checkout@1: checking out a Git repository needs the git command on the agent: %w", err)
	}
	name := env.Repository.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(url), ".git")
	}
	branch := strings.TrimPrefix(env.Repository.Branch, "refs/heads/")
	env.logf("Syncing repository: %s (Git)", name)
	depth := ""
	if d := env.Inputs.Get("fetchDepth"); d != "" && d != "0" {
		if _, err := strconv.Atoi(d); err != nil {
			return fmt.Errorf("Checkout@1: fetchDepth %q is not a number", d)
		}
		depth = d
	}
	// run runs one git command; what names it in errors (never the URL, which may carry a
	// credential).
	run := func(what string, args ...string) error {
		p := Process{Path: git, Args: args, Dir: filepath.Dir(dest), Env: append(env.Environ, "GIT_TERMINAL_PROMPT=0"), Stdout: env.Stdout, Stderr: env.Stdout}
		fmt.Fprintln(env.Stdout, p.CommandLine())
		code, err := env.Exec(ctx, p)
		if err != nil {
			return fmt.Errorf("Checkout@1: git %s: %w", what, err)
		}
		if code != 0 {
			return fmt.Errorf("Checkout@1: git %s exited with code %d", what, code)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("Checkout@1: %w", err)
	}
	args := []string{"clone", "--no-tags", "--quiet"}
	if depth != "" {
		args = append(args, "--depth", depth)
	}
	if branch != "" && !strings.HasPrefix(branch, "refs/") {
		args = append(args, "--branch", branch)
	}
	if err := run("clone", append(args, "--", url, dest)...); err != nil {
		return err
	}
	if c := env.Repository.Commit; c != "" {
		if depth != "" {
			// A shallow clone may not reach the run's commit: fetch it by name.
			if err := run("fetch", "-C", dest, "fetch", "--quiet", "--no-tags", "--depth", depth, "origin", c); err != nil {
				return err
			}
		}
		if err := run("checkout", "-C", dest, "checkout", "--quiet", "--detach", c); err != nil {
			return err
		}
	}
	return nil
}

// copyWorkingTree copies a directory tree, keeping symbolic links as links and file modes.
//
// A directory of src that is dest or contains it (the agent's work folder when it lives inside
// the repository, as `keystage run`'s default does) is left out: copying it would copy the
// destination into itself.
func copyWorkingTree(ctx context.Context, src, dest string) (int, error) {
	n := 0
	absDest, err := filepath.Abs(dest)
	if err != nil {
		return 0, err
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() && p != src {
			if abs, err := filepath.Abs(p); err == nil && (abs == absDest || strings.HasPrefix(absDest, abs+string(filepath.Separator))) {
				return filepath.SkipDir
			}
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dest, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type().IsRegular():
			n++
			return copyFile(p, target)
		default:
			return nil // sockets, devices, pipes are not part of a working tree
		}
	})
	return n, err
}
