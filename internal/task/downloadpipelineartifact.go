package task

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// DownloadPipelineArtifact is DownloadPipelineArtifact@2, the target of the YAML `download:`
// shortcut. Keystage downloads artifacts of the current run; other runs (`source: specific`)
// are not available to a job.
type DownloadPipelineArtifact struct{}

var downloadPipelineArtifactDef = &Definition{
	Name:         "DownloadPipelineArtifact",
	FriendlyName: "Download Pipeline Artifacts",
	Description:  "Download build and pipeline artifacts",
	Author:       "Microsoft Corporation",
	HelpURL:      "https://docs.microsoft.com/azure/devops/pipelines/tasks/utility/download-pipeline-artifact",
	Version:      Version{2, 198, 0},
	Inputs: []Input{
		{Name: "buildType", Aliases: []string{"source"}, Type: PickList, Default: "current", Required: true},
		{Name: "project", Type: String},
		{Name: "definition", Aliases: []string{"pipeline"}, Type: String},
		{Name: "specificBuildWithTriggering", Aliases: []string{"preferTriggeringPipeline"}, Type: Boolean, Default: "false"},
		{Name: "buildVersionToDownload", Aliases: []string{"runVersion"}, Type: PickList, Default: "latest"},
		{Name: "branchName", Aliases: []string{"runBranch"}, Type: String, Default: "refs/heads/master"},
		{Name: "pipelineId", Aliases: []string{"runId", "buildId"}, Type: String},
		{Name: "tags", Type: String},
		{Name: "allowPartiallySucceededBuilds", Type: Boolean, Default: "false"},
		{Name: "allowFailedBuilds", Type: Boolean, Default: "false"},
		{Name: "artifactName", Aliases: []string{"artifact"}, Type: String},
		{Name: "itemPattern", Aliases: []string{"patterns"}, Type: MultiLine, Default: "**"},
		{Name: "targetPath", Aliases: []string{"path", "downloadPath"}, Type: FilePath, Default: "$(Pipeline.Workspace)", Required: true},
	},
}

// Definition implements Task.
func (DownloadPipelineArtifact) Definition() *Definition { return downloadPipelineArtifactDef }

// Run implements Task.
func (DownloadPipelineArtifact) Run(ctx context.Context, env *Env) error {
	if source := env.Inputs.Get("buildType"); !strings.EqualFold(source, "current") {
		return fmt.Errorf("DownloadPipelineArtifact@2: source '%s' (artifacts of another pipeline run) is not supported locally; only 'current' is", source)
	}
	if env.Artifacts == nil {
		return fmt.Errorf("no artifact store is configured for this run")
	}
	dest, err := env.Inputs.Path("targetPath", true, false)
	if err != nil {
		return err
	}
	patterns := env.Inputs.Lines("itemPattern")
	name := env.Inputs.Get("artifactName")
	var names []string
	if name != "" {
		names = []string{name}
	} else {
		list, err := env.Artifacts.List(ctx, env.RunID)
		if err != nil {
			return err
		}
		for _, a := range list {
			names = append(names, a.Name)
		}
		if len(names) == 0 {
			env.Host.Warning(fmt.Sprintf("No artifacts are available in the build %d.", env.RunID))
		}
	}
	for _, n := range names {
		target := dest
		if name == "" {
			target = filepath.Join(dest, n)
		}
		env.logf("Downloading artifact %s to %s", n, target)
		count, err := env.Artifacts.Download(ctx, env.RunID, n, target, patterns)
		if errors.Is(err, ErrArtifactNotFound) {
			return fmt.Errorf("Artifact %s was not found for build %d.", n, env.RunID)
		}
		if err != nil {
			return err
		}
		env.logf("Downloaded %d files of artifact %s", count, n)
	}
	return env.Host.SetVariable("BuildNumber", strconv.FormatInt(env.RunID, 10), false, true)
}
