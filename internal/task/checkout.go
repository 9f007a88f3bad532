package task

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Checkout is the built-in Checkout@1 step (`checkout: self`). Keystage's local agent gets the
// self repository as a directory on this machine (job.Repository.URI) and copies its working
// tree, .git included, into the sources directory: the job sees the files as they are on disk,
// uncommitted changes included, and cannot change the original. `clean` is implied, since
// every checkout starts from an empty sources directory.
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
		return fmt.Errorf("Checkout@1: the run has no local repository to check out")
	}
	fi, err := os.Stat(src)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("Checkout@1: repository '%s' is not a directory on this machine", src)
	}
	name := env.Repository.Name
	if name == "" {
		name = filepath.Base(src)
	}
	env.logf("Syncing repository: %s (%s)", name, "local")
	if err := os.RemoveAll(sources); err != nil {
		return fmt.Errorf("Checkout@1: clean %s: %w", sources, err)
	}
	env.logf("Copying %s to %s", src, sources)
	n, err := copyWorkingTree(ctx, src, sources)
	if err != nil {
		return fmt.Errorf("Checkout@1: %w", err)
	}
	env.logf("Copied %d files", n)
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
