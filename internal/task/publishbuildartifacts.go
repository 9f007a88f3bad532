package task

import (
	"context"
	"fmt"
	"strings"
)

// PublishBuildArtifacts is PublishBuildArtifacts@1: publish a file or directory as a build
// (file container) artifact of the run, through the agent's artifact.upload command.
type PublishBuildArtifacts struct{}

var publishBuildArtifactsDef = &Definition{
	Name:         "PublishBuildArtifacts",
	FriendlyName: "Publish build artifacts",
	Description:  "Publish build artifacts to Azure Pipelines or a Windows file share",
	Author:       "Microsoft Corporation",
	HelpURL:      "https://docs.microsoft.com/azure/devops/pipelines/tasks/utility/publish-build-artifacts",
	Version:      Version{1, 274, 0},
	Inputs: []Input{
		{Name: "PathtoPublish", Type: FilePath, Default: "$(Build.ArtifactStagingDirectory)", Required: true},
		{Name: "ArtifactName", Type: String, Default: "drop", Required: true},
		{Name: "ArtifactType", Aliases: []string{"publishLocation"}, Type: PickList, Default: "Container", Required: true},
		{Name: "MaxArtifactSize", Type: Int, Default: "0"},
		{Name: "TargetPath", Type: String},
		{Name: "Parallel", Type: Boolean, Default: "false"},
		{Name: "ParallelCount", Type: Int, Default: "8"},
		{Name: "StoreAsTar", Type: Boolean, Default: "false"},
	},
}

// Definition implements Task.
func (PublishBuildArtifacts) Definition() *Definition { return publishBuildArtifactsDef }

// Run implements Task.
func (PublishBuildArtifacts) Run(ctx context.Context, env *Env) error {
	path, err := env.Inputs.Path("PathtoPublish", true, true)
	if err != nil {
		return err
	}
	name, err := env.Inputs.Required("ArtifactName")
	if err != nil {
		return err
	}
	kind, err := env.Inputs.Required("ArtifactType")
	if err != nil {
		return err
	}
	if env.Inputs.Bool("StoreAsTar") {
		return fmt.Errorf("Publishing build artifacts failed with an error: StoreAsTar is not supported by Keystage")
	}
	switch strings.ToLower(kind) {
	case "container":
		if err := env.Host.UploadArtifact(ctx, name, name, path); err != nil {
			return fmt.Errorf("Publishing build artifacts failed with an error: %s", err.Error())
		}
		return nil
	case "filepath":
		return fmt.Errorf("Publishing artifacts from a Linux or macOS agent to a file share is not supported. Change the artifact type to `Azure Pipelines` or use a Windows agent.")
	default:
		return fmt.Errorf("Publishing build artifacts failed with an error: unknown artifact type %q", kind)
	}
}
