package task

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CopyFiles is CopyFiles@2: copy the files (not folders) under SourceFolder that match the
// Contents patterns into TargetFolder, keeping their relative paths unless flattenFolders.
type CopyFiles struct{}

var copyFilesDef = &Definition{
	Name:         "CopyFiles",
	FriendlyName: "Copy files",
	Description:  "Copy files from a source folder to a target folder using patterns matching file paths (not folder paths)",
	Author:       "Microsoft Corporation",
	HelpURL:      "https://docs.microsoft.com/azure/devops/pipelines/tasks/utility/copy-files",
	Version:      Version{2, 276, 0},
	Inputs: []Input{
		{Name: "SourceFolder", Type: FilePath},
		{Name: "Contents", Type: MultiLine, Default: "**", Required: true},
		{Name: "TargetFolder", Type: String, Required: true},
		{Name: "CleanTargetFolder", Type: Boolean, Default: "false"},
		{Name: "OverWrite", Type: Boolean, Default: "false"},
		{Name: "flattenFolders", Type: Boolean, Default: "false"},
		{Name: "preserveTimestamp", Type: Boolean, Default: "false"},
		{Name: "retryCount", Type: String, Default: "0"},
		{Name: "delayBetweenRetries", Type: String, Default: "1000"},
		{Name: "ignoreMakeDirErrors", Type: Boolean, Default: "false"},
	},
	Restrictions: &Restrictions{CommandsRestricted: true, SettableVariables: []string{}},
}

// Definition implements Task.
func (CopyFiles) Definition() *Definition { return copyFilesDef }

// Run implements Task.
func (CopyFiles) Run(ctx context.Context, env *Env) error {
	contents := env.Inputs.Lines("Contents")
	if len(contents) == 0 {
		return fmt.Errorf("Input required: Contents")
	}
	source, err := env.Inputs.Path("SourceFolder", true, true)
	if err != nil {
		return err
	}
	target, err := env.Inputs.Path("TargetFolder", true, false)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(target) {
		// TargetFolder is a plain string input: relative to the task's working directory.
		target = filepath.Join(env.WorkingDirectory, target)
	}
	clean := env.Inputs.Bool("CleanTargetFolder")
	overwrite := env.Inputs.Bool("OverWrite")
	flatten := env.Inputs.Bool("flattenFolders")
	preserve := env.Inputs.Bool("preserveTimestamp")
	ignoreMkdir := env.Inputs.Bool("ignoreMakeDirErrors")

	source = filepath.Clean(source)
	all, err := Find(source)
	if err != nil {
		return err
	}
	matched, err := Match(all, contents, source)
	if err != nil {
		return err
	}
	var files []string
	for _, p := range matched {
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			files = append(files, p)
		}
	}
	env.logf("found %d files", len(files))
	if len(files) == 0 {
		return nil
	}
	if clean {
		env.logf("Cleaning target folder: %s", target)
		if err := cleanFolder(target); err != nil {
			return err
		}
	}
	if err := mkdirP(env, target, ignoreMkdir); err != nil {
		return err
	}
	created := map[string]bool{}
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := filepath.Base(file)
		if !flatten {
			rel = strings.TrimPrefix(file[len(source):], string(filepath.Separator))
		}
		dest := filepath.Join(target, rel)
		if dir := filepath.Dir(dest); !created[dir] {
			if err := mkdirP(env, dir, ignoreMkdir); err != nil {
				return err
			}
			created[dir] = true
		}
		var exists os.FileInfo
		if !clean {
			if fi, err := os.Stat(dest); err == nil {
				exists = fi
			} else if !os.IsNotExist(err) {
				return err
			}
		}
		if exists != nil && exists.IsDir() {
			return fmt.Errorf("Unable to copy file %s to %s. The target path already exists as a directory.", file, dest)
		}
		if exists != nil && !overwrite {
			env.logf("File %s already exist at %s", file, dest)
			continue
		}
		env.logf("Copying %s to %s", file, dest)
		if err := copyFile(file, dest); err != nil {
			return err
		}
		if preserve {
			if fi, err := os.Stat(file); err == nil {
				if err := os.Chtimes(dest, fi.ModTime(), fi.ModTime()); err != nil {
					fmt.Fprintf(env.Stderr, "Problem applying the timestamp: %v\n", err)
				}
			}
		}
	}
	return nil
}

// cleanFolder deletes the children of a directory target, or target itself if it is a file.
func cleanFolder(target string) error {
	fi, err := os.Stat(target)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return os.RemoveAll(target)
	}
	entries, err := os.ReadDir(target)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(target, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func mkdirP(env *Env, dir string, ignore bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if ignore {
			env.logf("Unable to create target folder (%s): %v. Ignoring this as error since 'ignoreErrors' is true.", dir, err)
			return nil
		}
		return err
	}
	return nil
}

// copyFile copies the content and permission bits of src (following links) to dest,
// replacing dest.
func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dest, fi.Mode().Perm())
}
