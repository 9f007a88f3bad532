package task

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// PublishPipelineArtifact is PublishPipelineArtifact@1, the target of the YAML `publish:`
// shortcut: publish a file or directory as a pipeline artifact of the run.
type PublishPipelineArtifact struct{}

var publishPipelineArtifactDef = &Definition{
	Name:         "PublishPipelineArtifact",
	FriendlyName: "Publish Pipeline Artifacts",
	Description:  "Publish (upload) a file or directory as a named artifact for the current run",
	Author:       "Microsoft Corporation",
	HelpURL:      "https://docs.microsoft.com/azure/devops/pipelines/tasks/utility/publish-pipeline-artifact",
	Version:      Version{1, 242, 0},
	Inputs: []Input{
		{Name: "path", Aliases: []string{"targetPath"}, Type: FilePath, Default: "$(Pipeline.Workspace)", Required: true},
		{Name: "artifactName", Aliases: []string{"artifact"}, Type: String},
		{Name: "artifactType", Aliases: []string{"publishLocation"}, Type: PickList, Default: "pipeline", Required: true},
		{Name: "fileSharePath", Type: String},
		{Name: "parallel", Type: Boolean, Default: "false"},
		{Name: "parallelCount", Type: Int, Default: "8"},
		{Name: "properties", Type: String},
	},
}

// Definition implements Task.
func (PublishPipelineArtifact) Definition() *Definition { return publishPipelineArtifactDef }

var jobIdentifierJunk = regexp.MustCompile(`[^a-zA-Z0-9 \-.]`)

// Run implements Task.
func (PublishPipelineArtifact) Run(ctx context.Context, env *Env) error {
	path, err := env.Inputs.Path("path", true, false)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("Path does not exist: %s", path)
	}
	name := env.Inputs.Get("artifactName")
	if name == "" {
		id, _ := env.Host.Variable("System.JobIdentifier")
		name = strings.TrimSuffix(jobIdentifierJunk.ReplaceAllString(id, ""), ".default")
	}
	if err := ValidateArtifactName(name); err != nil {
		return err
	}
	if props := env.Inputs.Get("properties"); props != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(props), &m); err != nil {
			return fmt.Errorf("Artifact custom properties are not valid JSON: %v", err)
		}
		for k := range m {
			if !strings.HasPrefix(k, "user-") {
				return fmt.Errorf("Artifact custom properties must be prefixed with 'user-'. Invalid property: %s", k)
			}
		}
	}
	switch strings.ToLower(env.Inputs.Get("artifactType")) {
	case "pipeline":
		if env.Artifacts == nil {
			return fmt.Errorf("no artifact store is configured for this run")
		}
		env.logf("Uploading pipeline artifact from %s for build #%d", path, env.RunID)
		a, err := env.Artifacts.Publish(ctx, env.RunID, name, Pipeline, "", path)
		if err != nil {
			return err
		}
		env.logf("Uploaded %d files (%d bytes) as artifact '%s'", a.Files, a.Size, name)
		return nil
	case "filepath":
		share, err := env.Inputs.Required("fileSharePath")
		if err != nil {
			return err
		}
		dest := filepath.Join(share, name)
		env.logf("Copying %s to %s", path, dest)
		files, _, err := copyTree(ctx, path, dest)
		if err != nil {
			return err
		}
		env.logf("Copied %d files to %s", files, dest)
		return nil
	default:
		return fmt.Errorf("unknown artifact type %q", env.Inputs.Get("artifactType"))
	}
}
