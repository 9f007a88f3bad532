package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

func TestSetVariable(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.setvariable variable=plain]hello'\necho '##vso[task.setvariable variable=My.Var]dotted'\necho '##vso[task.setvariable variable=keep;preservecase=true]cased'"),
		script("echo \"macro=$(plain) env=$PLAIN dotted=$MY_VAR cased=$keep upper=${KEEP:-none}\""),
	}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantNotContains(t, "setter log", rec.log(0), "##vso[")
	wantContains(t, "reader log", rec.log(1), "macro=hello env=hello dotted=dotted cased=cased upper=none")
}

func TestOutputVariables(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		named("setvars", script("echo '##vso[task.setvariable variable=sauce;isOutput=true]crushed tomatoes'\necho '##vso[task.setvariable variable=token;isOutput=true;issecret=true]"+secretValue+"'")),
		script("echo \"macro=$(setvars.sauce) env=$SETVARS_SAUCE plain=${SAUCE:-unset} token=$(setvars.token) tokenenv=${SETVARS_TOKEN:-unset}\""),
		script("echo '##vso[task.setvariable variable=setvars.sauce]overwritten'"),
	}))
	wantResults(t, rep, "Failed [Succeeded Succeeded Failed]")
	wantContains(t, "reader log", rec.log(1), "macro=crushed tomatoes env=crushed tomatoes plain=unset token=*** tokenenv=unset")
	wantContains(t, "overwrite log", rec.log(2), "##[error]Overwriting readonly variable 'setvars.sauce' is not permitted.")
	want := []job.Variable{
		{Name: "setvars.sauce", Value: "crushed tomatoes", ReadOnly: true},
		{Name: "setvars.token", Value: secretValue, Secret: true, ReadOnly: true},
	}
	if diff := cmp.Diff(want, rep.Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
}

// TestSecretStaysSecret checks that output cannot unmask a secret: setting an existing
// secret with issecret=false keeps it secret, masked and out of the environment.
func TestSecretStaysSecret(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.setvariable variable=token;issecret=false]" + secretValue + "-new'"),
		script("echo \"macro=$(token) env=${TOKEN:-unset}\""),
		script("echo '##vso[task.setvariable variable=later;issecret=true]late-secret'\necho after: late-secret"),
	}, job.Variable{Name: "token", Value: secretValue, Secret: true}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded Succeeded]")
	wantContains(t, "reader log", rec.log(1), "macro=*** env=unset")
	wantNotContains(t, "job log", rec.all(), secretValue, "late-secret")
	wantContains(t, "setter log", rec.log(2), "after: ***")
}

func TestSetSecretMasksLaterOutputOnly(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo before: hunter2\necho '##vso[task.setsecret]hunter2'\necho after: hunter2"),
	}))
	wantResults(t, rep, "Succeeded [Succeeded]")
	wantContains(t, "log", rec.log(0), "before: hunter2", "after: ***")
}

func TestMultilineSecretRefused(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.setvariable variable=ml;issecret=true]line1%0Aline2'"),
		withCond("always()", script("echo '##vso[task.setvariable variable=ml2;issecret=true]a%0Ab'")),
	}, job.Variable{Name: "SYSTEM_UNSAFEALLOWMULTILINESECRET", Value: "false"}))
	wantResults(t, rep, "Failed [Failed Failed]")
	wantContains(t, "log", rec.log(0), "##[error]Unable to process command '##vso[task.setvariable variable=ml;issecret=true]line1%0Aline2' successfully.", "##[error]Secrets cannot contain multiple lines")

	f = newFixture(t, nil)
	rep, _ = f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.setvariable variable=ml;issecret=true]line1%0Aline2'"),
	}, job.Variable{Name: "SYSTEM_UNSAFEALLOWMULTILINESECRET", Value: "true"}))
	wantResults(t, rep, "Succeeded [Succeeded]")
}

func TestReadOnlyVariables(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.setvariable variable=Build.BuildId]7'"),
		withCond("always()", script("echo '##vso[task.setvariable variable=pinned]new'")),
		withCond("always()", script("echo \"id=$(Build.BuildId) pinned=$(pinned)\"")),
	}, job.Variable{Name: "pinned", Value: "old", ReadOnly: true}))
	wantResults(t, rep, "Failed [Failed Failed Succeeded]")
	wantContains(t, "log", rec.log(0), "##[error]Overwriting readonly variable 'Build.BuildId' is not permitted. See https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details.")
	wantContains(t, "log", rec.log(2), "id=42 pinned=old")
}

func TestLogIssueAndComplete(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.logissue type=warning]careful'\necho '##vso[task.logissue type=error;sourcepath=src/a.go;linenumber=3;columnnumber=4;code=E1]broken'"),
		script("echo '##vso[task.complete result=SucceededWithIssues;]partly'"),
		script("echo '##vso[task.complete result=failed]'"),
		withCond("always()", script("echo '##vso[task.complete result=Failed;done=true]stop'\nsleep 20\necho unreachable")),
	}))
	wantResults(t, rep, "Failed [Succeeded SucceededWithIssues Failed Failed]")
	wantContains(t, "issue log", rec.log(0), "##[warning]careful", "##[error]src/a.go(3,4): error E1: broken")
	wantContains(t, "bad result", rec.log(2), "##[error]Command doesn't have valid result value.")
	wantNotContains(t, "done log", rec.log(3), "unreachable")
	if rep.Errors < 3 || rep.Warnings < 1 {
		t.Errorf("errors=%d warnings=%d", rep.Errors, rep.Warnings)
	}
}

func TestPrependPathAndBuildCommands(t *testing.T) {
	f := newFixture(t, nil)
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "mytool"), []byte("#!/bin/sh\necho tool-ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.prependpath]" + bin + "'\necho '##vso[build.updatebuildnumber]1.2.3'\necho '##vso[build.addbuildtag]nightly'\necho '##vso[build.addbuildtag]nightly'\necho hi > note.txt\necho '##vso[task.uploadfile]note.txt'"),
		script("mytool\necho \"first=${PATH%%:*} num=$BUILD_BUILDNUMBER\""),
	}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantContains(t, "log", rec.log(0), "Update build number to 1.2.3 for build 42", "Build '42' has following tags now: nightly")
	wantContains(t, "log", rec.log(1), "tool-ran", "first="+bin+" num=1.2.3")
	if rep.BuildNumber != "1.2.3" || !cmp.Equal(rep.Tags, []string{"nightly"}) {
		t.Errorf("build number %q tags %q", rep.BuildNumber, rep.Tags)
	}
	if len(rep.Attachments) != 1 || rep.Attachments[0].Name != "note.txt" {
		t.Fatalf("attachments = %+v", rep.Attachments)
	}
	if b, err := os.ReadFile(rep.Attachments[0].Path); err != nil || string(b) != "hi\n" {
		t.Errorf("attachment copy = %q, %v", b, err)
	}
}

func TestArtifactUploadCommand(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("mkdir -p out/sub empty\necho x > out/sub/f.txt\necho '##vso[artifact.upload artifactname=bin;containerfolder=bin/nested]out'\necho '##vso[artifact.upload artifactname=none]empty'\necho '##vso[artifact.upload artifactname=gone]missing'"),
	}))
	wantResults(t, rep, "Failed [Failed]")
	log := rec.log(0)
	wantContains(t, "log", log, "to file container: '#/42/bin/nested'", "##[warning]Directory '", "is empty. Nothing will be added to build artifact 'none'.", "##[error]Path does not exist: missing")
	if _, err := os.Stat(filepath.Join(f.work, "_artifacts", "42", "bin", "nested", "sub", "f.txt")); err != nil {
		t.Error(err)
	}
}

func TestRestrictedCommands(t *testing.T) {
	f := newFixture(t, nil)
	restricted := script("echo '##vso[task.setvariable variable=allowed]yes'\necho '##vso[task.setvariable variable=denied]no'\necho '##vso[build.addbuildtag]t'\necho '##vso[task.prependpath]/x'")
	restricted.Target = &plan.Target{Commands: "restricted", SettableVariables: []string{"allow*"}}
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		restricted,
		script("echo \"allowed=$(allowed) denied=$(denied)\""),
	}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded]")
	wantContains(t, "log", rec.log(0),
		"##[warning]Setting variable 'denied' has been disabled by the task or build definition.",
		"##[warning]##vso[build.addbuildtag] is not allowed in this step due to policy restrictions.",
		"##[warning]Setting variable 'PATH' has been disabled by the task or build definition.")
	wantContains(t, "log", rec.log(1), "allowed=yes denied=$(denied)")
	if len(rep.Tags) != 0 {
		t.Errorf("tags = %v", rep.Tags)
	}
}

func TestMalformedCommands(t *testing.T) {
	f := newFixture(t, nil)
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo 'text ##vso[task.setvariable variable=x'\necho '##vso[nosuch.thing]x'\necho '##vso[task.nosuch]x'"),
	}))
	wantResults(t, rep, "Failed [Failed]")
	log := rec.log(0)
	wantContains(t, "log", log,
		"text ##vso[task.setvariable variable=x\n##[warning]'text ##vso[task.setvariable variable=x' contains logging command keyword '##vso', but it's not a legal command.",
		"##[warning]Cannot find command extension for ##vso[nosuch.command].",
		"##[error]##vso[task.nosuch] is not a recognized command for task command extension.")
	if strings.Count(log, "##vso[nosuch.thing]") != 0 {
		t.Errorf("a parsed command was echoed:\n%s", log)
	}
}

func TestDebugTracesProcessedCommands(t *testing.T) {
	f := newFixture(t, nil)
	_, rec := f.run(context.Background(), f.request([]plan.Step{
		script("echo '##vso[task.setvariable variable=s;issecret=true]" + secretValue + "'\necho '##vso[task.debug]dbg'"),
	}, job.Variable{Name: "System.Debug", Value: "true"}))
	log := rec.log(0)
	wantContains(t, "log", log, "##[debug]Processed: ##vso[task.setvariable variable=s;issecret=true]***", "##[debug]dbg")
	wantNotContains(t, "log", log, secretValue)
}
