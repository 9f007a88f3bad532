package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

const secretValue = "s3cr3t-Value"

// TestTutorialFlow runs the tutorial pipeline's steps after the Key Vault task: the secret
// is written to a file, copied to the staging directory and published as artifact "drop".
func TestTutorialFlow(t *testing.T) {
	f := newFixture(t, nil)
	steps := []plan.Step{
		{Task: plan.Task{Name: "Checkout", Version: 1}, Inputs: map[string]string{"repository": "self"}, Enabled: true},
		{DisplayName: "Create file", Task: plan.Task{Name: "CmdLine", Version: 2}, Inputs: map[string]string{"script": "echo $(SECRET_NAME) > secret.txt"}, Enabled: true},
		{DisplayName: "Copy file", Task: plan.Task{Name: "CopyFiles", Version: 2}, Inputs: map[string]string{"Contents": "secret.txt", "targetFolder": "$(Build.ArtifactStagingDirectory)"}, Enabled: true},
		{DisplayName: "Publish Artifact", Task: plan.Task{Name: "PublishBuildArtifacts", Version: 1}, Inputs: map[string]string{"PathtoPublish": "$(Build.ArtifactStagingDirectory)", "ArtifactName": "drop", "publishLocation": "Container"}, Enabled: true},
	}
	rep, rec := f.run(context.Background(), f.request(steps, job.Variable{Name: "SECRET_NAME", Value: secretValue, Secret: true}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded Succeeded Succeeded]")
	all := rec.all()
	wantNotContains(t, "job log", all, secretValue)
	wantContains(t, "checkout log", rec.log(0), "##[section]Starting: Checkout repo@main to s", "Task         : Get sources")
	wantContains(t, "script log", rec.log(1),
		"##[section]Starting: Create file",
		"Task         : Command line",
		"Version      : 2.279.1",
		"Generating script.",
		"Script contents:\necho *** > secret.txt\n========================== Starting Command Output ===========================\n[command]",
		"--noprofile --norc ",
		"##[section]Finishing: Create file")
	wantContains(t, "copy log", rec.log(2), "found 1 files", "Copying ")
	wantContains(t, "publish log", rec.log(3), "Upload '", "to file container: '#/42/drop'", "Associated artifact 1 with build 42")
	got, err := os.ReadFile(filepath.Join(f.work, "_artifacts", "42", "drop", "secret.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != secretValue+"\n" {
		t.Errorf("artifact content = %q, want the secret", got)
	}
	arts, err := f.artifacts.List(context.Background(), 42)
	if err != nil || len(arts) != 1 || arts[0].Name != "drop" || arts[0].Files != 1 {
		t.Errorf("artifacts = %+v, %v", arts, err)
	}
}

func TestLayoutAndPredefinedVariables(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script(`echo "bd=$(Agent.BuildDirectory)"
echo "ws=$PIPELINE_WORKSPACE"
echo "s=$BUILD_SOURCESDIRECTORY a=$BUILD_ARTIFACTSTAGINGDIRECTORY b=$BUILD_BINARIESDIRECTORY"
echo "tr=$COMMON_TESTRESULTSDIRECTORY tmp=$AGENT_TEMPDIRECTORY"
echo "pwd=$(pwd)"
echo "id=$BUILD_BUILDID num=$BUILD_BUILDNUMBER branch=$BUILD_SOURCEBRANCHNAME tf=$TF_BUILD os=$AGENT_OS"
echo "status=$AGENT_JOBSTATUS raw=$(printenv Agent.JobStatus)"
touch "$AGENT_TEMPDIRECTORY/leftover"`),
	}))
	wantResults(t, rep, "Succeeded [Succeeded]")
	bd := filepath.Join(f.work, "1")
	wantContains(t, "log", rec.log(0),
		"bd="+bd+"\n", "ws="+bd+"\n",
		"s="+bd+"/s a="+bd+"/a b="+bd+"/b",
		"tr="+bd+"/TestResults tmp="+f.work+"/_temp",
		"pwd="+bd+"/s",
		"id=42 num=20260101.1 branch=main tf=True os=Linux",
		"status=Succeeded raw=Succeeded")
	for _, d := range []string{"1/s", "1/a", "1/b", "1/TestResults", "_temp", "_tool", "_tasks"} {
		if fi, err := os.Stat(filepath.Join(f.work, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s is not a directory: %v", d, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(f.work, "_temp")); len(entries) != 0 {
		t.Errorf("_temp not cleaned after the job: %d entries", len(entries))
	}
}

func TestWorkspaceClean(t *testing.T) {
	for _, tt := range []struct {
		clean      string
		keepB      bool
		keepMarker bool
	}{
		{"", true, true},
		{"outputs", false, true},
		{"resources", true, true},
		{"all", false, false},
	} {
		t.Run("clean="+tt.clean, func(t *testing.T) {
			f := newFixture(t, nil)
			req := f.request([]plan.Step{script("touch $(Build.BinariesDirectory)/out $(Agent.BuildDirectory)/marker $(Build.ArtifactStagingDirectory)/staged")})
			f.run(context.Background(), req)
			req.Job.Workspace = &plan.Workspace{Clean: tt.clean}
			req.Job.Steps = []plan.Step{script("test -e $(Build.BinariesDirectory)/out && echo b-kept\ntest -e $(Agent.BuildDirectory)/marker && echo marker-kept\ntest -e $(Build.ArtifactStagingDirectory)/staged || echo staging-purged")}
			rep, rec := f.run(context.Background(), req)
			wantResults(t, rep, "Succeeded [Succeeded]")
			log := rec.log(0)
			wantContains(t, "log", log, "staging-purged")
			if strings.Contains(log, "b-kept") != tt.keepB {
				t.Errorf("binaries kept = %v, want %v", !tt.keepB, tt.keepB)
			}
			if strings.Contains(log, "marker-kept") != tt.keepMarker {
				t.Errorf("build dir kept = %v, want %v", !tt.keepMarker, tt.keepMarker)
			}
		})
	}
}

func TestEnvironmentExport(t *testing.T) {
	f := newFixture(t, nil)
	st := script(`echo "dot=$MY_VAR space=$(printenv SPACE_NAME) dash=$(printenv MY-DASH)"
echo "secret-env=$(env | grep -c s3cr3t)"
echo "mapped=$MAPPED undefined=$UNDEF"
echo "override=$CLASH"`)
	st.Env = map[string]string{"MAPPED": "$(mySecret)", "UNDEF": "$(nope.nothing)", "CLASH": "from-env"}
	rep, rec := f.run(context.Background(), f.request([]plan.Step{st},
		job.Variable{Name: "my.var", Value: "v1"},
		job.Variable{Name: "space name", Value: "v2"},
		job.Variable{Name: "my-dash", Value: "v3"},
		job.Variable{Name: "mySecret", Value: secretValue, Secret: true},
		job.Variable{Name: "clash", Value: "from-variable"},
	))
	wantResults(t, rep, "Succeeded [Succeeded]")
	wantContains(t, "log", rec.log(0),
		"dot=v1 space=v2 dash=v3",
		"secret-env=1", // only the explicitly mapped copy
		"mapped=*** undefined=$(nope.nothing)",
		"override=from-variable")
}

func TestSecretsNeverInEnvironment(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script(`env > "$(Agent.TempDirectory)/env.txt"; grep -c "` + secretValue + `" "$(Agent.TempDirectory)/env.txt" || echo none-found`),
	}, job.Variable{Name: "mySecret", Value: secretValue, Secret: true}))
	wantResults(t, rep, "Succeeded [Succeeded]")
	wantContains(t, "log", rec.log(0), "none-found")
}

func TestRecursiveVariableExpansion(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{script(`echo "cc=$(CC) env=$CC cyc=$(a)"`)},
		job.Variable{Name: "gcc_version", Value: "12"},
		job.Variable{Name: "CC", Value: "gcc-$(gcc_version)"},
		job.Variable{Name: "a", Value: "$(b)"},
		job.Variable{Name: "b", Value: "$(a)"},
	))
	wantResults(t, rep, "Succeeded [Succeeded]")
	// A cyclic variable keeps its text; the script then sees "$(b)", a command substitution.
	wantContains(t, "log", rec.log(0), "cc=gcc-12 env=gcc-12 cyc=\n", "b: command not found")
	wantContains(t, "job log", strings.Join(rec.job, "\n"), "##[warning]Unable to expand variable 'a'. A cyclical reference was detected.")
	if rep.Warnings < 2 {
		t.Errorf("warnings = %d, want at least 2", rep.Warnings)
	}
}

func TestUnknownTask(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		{Task: plan.Task{Name: "Gradle", Version: 3}, Enabled: true},
		script("echo never"),
	}))
	wantResults(t, rep, "Failed [Failed Skipped]")
	wantContains(t, "log", rec.log(0), "##[error]Task Gradle@3 is not available in Keystage")
}

func TestCheckoutNoneAndDisabled(t *testing.T) {
	f := newFixture(t, nil)
	disabled := script("echo never")
	disabled.Enabled = false
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		{Task: plan.Task{Name: "Checkout", Version: 1}, Inputs: map[string]string{"checkout": "none"}, Enabled: true},
		disabled,
		script("ls $(Build.SourcesDirectory) | wc -l"),
	}))
	wantResults(t, rep, "Succeeded [Skipped Skipped Succeeded]")
	if rec.log(0) != "" || rec.log(1) != "" {
		t.Errorf("skipped steps logged: %q %q", rec.log(0), rec.log(1))
	}
	wantContains(t, "log", rec.log(2), "\n0")
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	tasks := append(newFixture(t, nil).exec.cfg.Tasks, newFixture(t, nil).exec.cfg.Tasks[0])
	if _, err := New(Config{WorkFolder: t.TempDir(), Tasks: tasks}); err == nil {
		t.Error("New accepted a task registered twice")
	}
	if _, err := New(Config{Tasks: tasks}); err == nil {
		t.Error("New accepted a config without WorkFolder")
	}
}

func TestMaskingEndToEnd(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo plain=$(tok) url=https://user:pw12345@example.com/x\necho encoded=b-s3cret%2Fxyz\necho partial s3cr"),
	}, job.Variable{Name: "tok", Value: "b-s3cret/xyz", Secret: true}, job.Variable{Name: "short", Value: "ab", Secret: true}))
	wantResults(t, rep, "Succeeded [Succeeded]")
	log := rec.log(0)
	wantContains(t, "log", log, "plain=*** url=https://user:***@example.com/x", "encoded=***", "partial s3cr")
	wantNotContains(t, "log", log, "b-s3cret", "pw12345")
	wantContains(t, "job log", strings.Join(rec.job, "\n"), "##[warning]A secret of 2 characters is registered")

	f = newFixture(t, nil)
	_, rec = f.run(context.Background(), f.request([]plan.Step{script("echo 'value: ab'")},
		job.Variable{Name: "short", Value: "ab", Secret: true},
		job.Variable{Name: "AZP_IGNORE_SECRETS_SHORTER_THAN", Value: "3"}))
	wantContains(t, "log", rec.log(0), "value: ab")
}

func TestJobNames(t *testing.T) {
	f := newFixture(t, nil)
	req := f.request([]plan.Step{
		taskStep("PublishPipelineArtifact", 1, map[string]string{"path": "$(Build.SourcesDirectory)"}),
		script("echo \"job=$SYSTEM_JOBNAME phase=$SYSTEM_PHASENAME id=$SYSTEM_JOBIDENTIFIER agent=$AGENT_JOBNAME\""),
	})
	req.StageName, req.JobName, req.JobDisplayName = "Build", "Test_linux", "Test linux"
	req.PhaseName, req.InstanceName = "Test", "linux"
	rep, rec := f.run(context.Background(), req)
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantContains(t, "log", rec.log(1), "job=linux phase=Test id=Build.Test.linux agent=Test linux")
	arts, _ := f.artifacts.List(context.Background(), 42)
	if len(arts) != 1 || arts[0].Name != "Build.Test.linux" {
		t.Errorf("default pipeline artifact name: %+v", arts)
	}
}
