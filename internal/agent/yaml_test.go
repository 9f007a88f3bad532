package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/keystage/keystage/internal/pipeline/compile"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// TestCompiledTutorialPipeline compiles the tutorial pipeline (its Key Vault step replaced
// by a queue-time secret) with the real compiler and executes its only job.
func TestCompiledTutorialPipeline(t *testing.T) {
	const file = `trigger:
- main
pool:
  vmImage: ubuntu-latest
steps:
- task: CmdLine@2
  displayName: Create file
  inputs:
    script: 'echo $(SECRET_NAME) > secret.txt'
- task: CopyFiles@2
  displayName: Copy file
  inputs:
    Contents: secret.txt
    targetFolder: '$(Build.ArtifactStagingDirectory)'
- task: PublishBuildArtifacts@1
  displayName: Publish Artifact
  inputs:
    PathtoPublish: '$(Build.ArtifactStagingDirectory)'
    ArtifactName: 'drop'
    publishLocation: 'Container'
- bash: echo "##vso[task.setvariable variable=where;isOutput=true]$(pwd)"
  name: probe
- publish: secret.txt
  artifact: pipe
- download: current
  artifact: pipe
- script: |
    echo "where=$(probe.where)"
    cat $(Pipeline.Workspace)/pipe/secret.txt
  displayName: Read back
`
	p, diags, err := compile.Compile(fstest.MapFS{"azure-pipelines.yml": {Data: []byte(file)}}, "azure-pipelines.yml", compile.Options{})
	if err != nil {
		t.Fatalf("compile: %v %v", err, diags)
	}
	f := newFixture(t, nil)
	req := f.request(p.Stages[0].Jobs[0].Steps, job.Variable{Name: "SECRET_NAME", Value: secretValue, Secret: true})
	req.Job = p.Stages[0].Jobs[0]
	rep, rec := f.run(context.Background(), req)
	wantResults(t, rep, "Succeeded [Succeeded Succeeded Succeeded Succeeded Succeeded Succeeded Succeeded Succeeded]")
	wantNotContains(t, "job log", rec.all(), secretValue)
	wantContains(t, "read back", rec.log(7), "##[section]Starting: Read back", "where="+filepath.Join(f.work, "1", "s"), "\n***\n")
	b, err := os.ReadFile(filepath.Join(f.work, "_artifacts", "42", "drop", "secret.txt"))
	if err != nil || string(b) != secretValue+"\n" {
		t.Errorf("drop/secret.txt = %q, %v", b, err)
	}
}
