package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// layout is a job's directories under the agent's work folder (Agent BuildJobExtension):
//
//	<work>/<N>            Agent.BuildDirectory, Pipeline.Workspace
//	<work>/<N>/s          Build.SourcesDirectory, System.DefaultWorkingDirectory
//	<work>/<N>/a          Build.ArtifactStagingDirectory, purged before each job
//	<work>/<N>/b          Build.BinariesDirectory
//	<work>/<N>/TestResults Common.TestResultsDirectory, purged before each job
//	<work>/_temp          Agent.TempDirectory, emptied before and after each job
//	<work>/_tool, _tasks  Agent.ToolsDirectory, task cache
type layout struct {
	work, build, sources, staging, binaries, testResults, temp, tools, tasks string
}

// trackingFile maps a pipeline (name + repository) to its build directory number, so that
// runs of one pipeline reuse their directory, as the agent's source-root mapping does.
const trackingFile = "SourceRootMapping/keystage.json"

// allocateBuildDir returns the build directory number for key, assigning the next free
// number the first time key is seen. The caller serializes calls for one work folder.
func allocateBuildDir(work, key string) (int, error) {
	path := filepath.Join(work, trackingFile)
	m := map[string]int{}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &m); err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	if n, ok := m[key]; ok && n > 0 {
		return n, nil
	}
	used := map[int]bool{}
	for _, n := range m {
		used[n] = true
	}
	// Numbered directories left by other tools count as used too.
	if entries, err := os.ReadDir(work); err == nil {
		for _, e := range entries {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				used[n] = true
			}
		}
	}
	n := 1
	for used[n] {
		n++
	}
	m[key] = n
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	b, _ = json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}

// prepareLayout creates the job's directories and applies workspace.clean ("outputs",
// "resources" or "all"; "" keeps sources and binaries).
func prepareLayout(work string, n int, clean string) (layout, error) {
	build := filepath.Join(work, strconv.Itoa(n))
	l := layout{
		work:        work,
		build:       build,
		sources:     filepath.Join(build, "s"),
		staging:     filepath.Join(build, "a"),
		binaries:    filepath.Join(build, "b"),
		testResults: filepath.Join(build, "TestResults"),
		temp:        filepath.Join(work, "_temp"),
		tools:       filepath.Join(work, "_tool"),
		tasks:       filepath.Join(work, "_tasks"),
	}
	var remove []string
	switch strings.ToLower(clean) {
	case "":
	case "outputs":
		remove = append(remove, l.binaries)
	case "resources":
		remove = append(remove, l.sources)
	case "all":
		remove = append(remove, l.build)
	default:
		return l, fmt.Errorf("workspace clean option %q is not one of outputs, resources, all", clean)
	}
	remove = append(remove, l.staging, l.testResults, l.temp)
	for _, d := range remove {
		if err := os.RemoveAll(d); err != nil {
			return l, fmt.Errorf("clean %s: %w", d, err)
		}
	}
	for _, d := range []string{l.sources, l.staging, l.binaries, l.testResults, l.temp, l.tools, l.tasks} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return l, fmt.Errorf("create %s: %w", d, err)
		}
	}
	return l, nil
}

// cleanTemp empties Agent.TempDirectory after a job.
func cleanTemp(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	var first error
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil && first == nil {
			first = err
		}
	}
	return first
}
