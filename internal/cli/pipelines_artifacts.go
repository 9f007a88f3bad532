package cli

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newRunArtifactCommand is `pipelines runs artifact`: a run's build artifacts.
func (a *app) newRunArtifactCommand() *cobra.Command {
	return group("artifact", "List and download a pipeline run's artifacts", a.artifactList(), a.artifactDownload())
}

func artifactTable(v any) any {
	return tableColumns(v, []string{"Name", "name"}, []string{"Type", "resource.type"}, []string{"Size", "resource.properties.artifactsize"})
}

func (a *app) artifactList() *cobra.Command {
	var r runRef
	return a.command(leaf{
		use:   "list",
		short: "List a run's artifacts",
		table: artifactTable,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			d, org, project, err := a.resolveRun(r, "run-id")
			if err != nil {
				return nil, err
			}
			items, err := d.BuildArtifacts(ctx, org, project, r.id)
			if err != nil {
				return nil, err
			}
			return decodeList(items)
		},
	}, r.flags("run-id"))
}

func (a *app) artifactDownload() *cobra.Command {
	var r runRef
	var name, dest string
	var asZip bool
	return a.command(leaf{
		use:   "download",
		short: "Download a run's artifact into a directory, or as a zip file",
		long: `Download the artifact --artifact-name of run --run-id: its files are written under the
directory --path (created if needed; existing files are replaced), or, with --zip, the
artifact is saved as one zip file at --path.`,
		example: `  keystage pipelines runs artifact download --run-id 12 --artifact-name drop --path ./drop`,
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if name == "" {
				return nil, requiredError("--artifact-name")
			}
			if dest == "" {
				return nil, requiredError("--path")
			}
			d, org, project, err := a.resolveRun(r, "run-id")
			if err != nil {
				return nil, err
			}
			body, err := d.BuildArtifactZip(ctx, org, project, r.id, name)
			if err != nil {
				return nil, err
			}
			defer body.Close()
			dir := filepath.Dir(dest)
			if !asZip {
				dir = ""
			}
			tmp, err := os.CreateTemp(dir, ".keystage-artifact-*.zip")
			if err != nil {
				return nil, err
			}
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			if _, err := io.Copy(tmp, body); err != nil {
				return nil, fmt.Errorf("download artifact %s: %w", name, err)
			}
			if err := tmp.Close(); err != nil {
				return nil, err
			}
			if asZip {
				return nil, os.Rename(tmp.Name(), dest)
			}
			return nil, extractArtifact(tmp.Name(), name, dest)
		},
	}, func(f *pflag.FlagSet) {
		r.flags("run-id")(f)
		f.StringVar(&name, "artifact-name", "", "Name of the artifact, e.g. drop")
		f.StringVar(&dest, "path", "", "Directory to write the artifact's files to (or the zip file, with --zip)")
		f.BoolVar(&asZip, "zip", false, "Save the artifact as a zip file at --path instead of extracting it")
	})
}

// extractArtifact writes the files of an artifact zip under dir. Entries are
// ARTIFACT/relative/path; the artifact's own folder is left out. Every write goes through
// an os.Root of dir, so no entry can escape it (absolute names, "..", links).
func extractArtifact(zipFile, artifact, dir string) error {
	zr, err := zip.OpenReader(zipFile)
	if err != nil {
		return fmt.Errorf("artifact %s: the server sent a bad zip: %w", artifact, err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, zf := range zr.File {
		rel, ok := artifactEntryPath(zf.Name, artifact)
		if !ok {
			return fmt.Errorf("artifact %s: refusing the entry %q: it is not a relative path", artifact, zf.Name)
		}
		if rel == "" {
			continue
		}
		if strings.HasSuffix(zf.Name, "/") || zf.FileInfo().IsDir() {
			if err := root.MkdirAll(rel, 0o755); err != nil {
				return err
			}
			continue
		}
		if !zf.Mode().IsRegular() {
			return fmt.Errorf("artifact %s: refusing the entry %q: only regular files are extracted", artifact, zf.Name)
		}
		if parent := path.Dir(rel); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return err
			}
		}
		if err := extractFile(root, zf, rel); err != nil {
			return fmt.Errorf("artifact %s: %s: %w", artifact, rel, err)
		}
	}
	return nil
}

func extractFile(root *os.Root, zf *zip.File, rel string) error {
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	mode := os.FileMode(0o644)
	if zf.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := root.OpenFile(rel, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// artifactEntryPath returns the path of a zip entry relative to the artifact's folder
// ("" for the folder itself), and false for names that are not clean relative paths.
func artifactEntryPath(name, artifact string) (string, bool) {
	if name == "" || strings.Contains(name, `\`) || path.IsAbs(name) {
		return "", false
	}
	clean := path.Clean(strings.TrimSuffix(name, "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	if clean == artifact {
		return "", true
	}
	if rest, ok := strings.CutPrefix(clean, artifact+"/"); ok {
		return rest, true
	}
	return clean, true
}
