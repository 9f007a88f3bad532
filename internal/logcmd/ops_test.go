package logcmd

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/pipeline/job"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		want     Op
		wantSev  Severity // 0 = no error
		wantMsg  string
		wantSupp Support
	}{
		{name: "setvariable flags", line: "##vso[task.setvariable variable=v;issecret=True;isoutput=true;isreadonly= TRUE ;preservecase=true]x",
			want: SetVariable{Name: "v", Value: "x", Secret: true, Output: true, ReadOnly: true, PreserveCase: true}},
		{name: "setvariable bool.TryParse rejects yes and 1", line: "##vso[task.setvariable variable=v;issecret=yes;isoutput=1;isreadonly=on]x",
			want: SetVariable{Name: "v", Value: "x"}},
		{name: "setvariable without variable", line: "##vso[task.setvariable issecret=true]x",
			wantSev: Failure, wantMsg: "Required field 'variable' is missing in ##vso[task.setvariable] command."},
		{name: "setvariable case-insensitive area and event", line: "##vso[TASK.SetVariable variable=v]x",
			want: SetVariable{Name: "v", Value: "x"}},
		{name: "setsecret", line: "##vso[task.setsecret]hunter22", want: SetSecret{Value: "hunter22"}},
		{name: "telemetry is accepted and does nothing", line: "##vso[telemetry.publish area=TaskHub;feature=AzureKeyVault]{\"a\":1}",
			want: Telemetry{Area: "TaskHub", Feature: "AzureKeyVault", Data: `{"a":1}`}},
		{name: "logissue", line: "##vso[task.logissue type=Warning;sourcepath=a.go;linenumber=3;columnnumber=4;code=E1]boom",
			want: LogIssue{Type: IssueWarning, Message: "boom", SourcePath: "a.go", LineNumber: "3", ColumnNumber: "4", Code: "E1"}},
		{name: "issue alias", line: "##vso[task.issue type=error]bad", want: LogIssue{Type: IssueError, Message: "bad"}},
		{name: "logissue without type", line: "##vso[task.logissue]bad",
			wantSev: Warning, wantMsg: "Can't create TaskIssue from logging event."},
		{name: "logissue bad type", line: "##vso[task.logissue type=info]bad",
			wantSev: Failure, wantMsg: "issue type info is not an expected issue type."},
		{name: "complete", line: "##vso[task.complete result=SucceededWithIssues;done=TRUE]msg",
			want: Complete{Result: job.SucceededWithIssues, Done: true, Message: "msg"}},
		{name: "complete numeric result", line: "##vso[task.complete result=2]", want: Complete{Result: job.Failed}},
		{name: "complete done=1 and $true", line: "##vso[task.complete result=Failed;done=$true]", want: Complete{Result: job.Failed, Done: true}},
		{name: "complete is case-sensitive", line: "##vso[task.complete result=succeeded]",
			wantSev: Failure, wantMsg: InvalidResultMessage},
		{name: "complete without result", line: "##vso[task.complete]",
			wantSev: Failure, wantMsg: InvalidResultMessage},
		{name: "complete undefined number", line: "##vso[task.complete result=42]",
			wantSev: Failure, wantMsg: InvalidResultMessage},
		{name: "setprogress", line: "##vso[task.setprogress value=75;]Upload Log", want: SetProgress{Percent: 75, Operation: "Upload Log"}},
		{name: "setprogress bad value", line: "##vso[task.setprogress value=x]op", want: SetProgress{Percent: -1, Operation: "op"}},
		{name: "debug", line: "##vso[task.debug]details", want: Debug{Message: "details"}},
		{name: "prependpath", line: "##vso[task.prependpath]/opt/tool/bin", want: PrependPath{Path: "/opt/tool/bin"}},
		{name: "prependpath empty", line: "##vso[task.prependpath]",
			wantSev: Failure, wantMsg: "Value cannot be null or empty. (Parameter 'prependpath')"},
		{name: "uploadfile", line: "##vso[task.uploadfile]/tmp/a.log", want: UploadFile{Path: "/tmp/a.log"}},
		{name: "uploadfile empty", line: "##vso[task.uploadfile]",
			wantSev: Failure, wantMsg: "Cannot upload file because file location is not specified."},
		{name: "artifact upload", line: "##vso[artifact.upload containerfolder=testresult;artifactname=uploadedresult]/tmp/r.trx",
			want: ArtifactUpload{ArtifactName: "uploadedresult", ContainerFolder: "testresult", Path: "/tmp/r.trx"}},
		{name: "artifact upload default folder", line: "##vso[artifact.upload artifactname=drop]/tmp/out",
			want: ArtifactUpload{ArtifactName: "drop", ContainerFolder: "drop", Path: "/tmp/out"}},
		{name: "artifact upload without name", line: "##vso[artifact.upload]/tmp/out",
			wantSev: Failure, wantMsg: "Artifact Name is required."},
		{name: "artifact upload without path", line: "##vso[artifact.upload artifactname=drop]",
			wantSev: Failure, wantMsg: "Artifact location is required."},
		{name: "updatebuildnumber", line: "##vso[build.updatebuildnumber]1.2.3", want: UpdateBuildNumber{BuildNumber: "1.2.3"}},
		{name: "updatebuildnumber empty", line: "##vso[build.updatebuildnumber]", wantSev: Failure, wantMsg: "Build number is required."},
		{name: "addbuildtag trims", line: "##vso[build.addbuildtag] nightly ", want: AddBuildTag{Tag: "nightly"}},
		{name: "addbuildtag empty", line: "##vso[build.addbuildtag]   ", wantSev: Failure, wantMsg: "Build tag is required."},
		{name: "unknown area", line: "##vso[foo.bar]x", wantSev: Warning,
			wantMsg: "Cannot find command extension for ##vso[foo.command]. Please reference documentation (http://go.microsoft.com/fwlink/?LinkId=817296)"},
		{name: "unknown event", line: "##vso[task.frobnicate]x", wantSev: Failure,
			wantMsg: "##vso[task.frobnicate] is not a recognized command for task command extension. Please reference documentation (http://go.microsoft.com/fwlink/?LinkId=817296)."},
		{name: "known but unsupported", line: "##vso[task.uploadsummary]/tmp/s.md", wantSev: Failure, wantSupp: Unsupported,
			wantMsg: "##vso[task.uploadsummary] is not supported by Keystage."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.line, Options{})
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.line, err)
			}
			got, err := Decode(c)
			if tt.wantSev == 0 {
				if err != nil {
					t.Fatalf("Decode(%q) error = %v", tt.line, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Decode(%q) mismatch (-want +got):\n%s", tt.line, diff)
				}
				return
			}
			var is *Issue
			if !errors.As(err, &is) {
				t.Fatalf("Decode(%q) error = %v (%T), want *Issue", tt.line, err, err)
			}
			if is.Severity != tt.wantSev || is.Message != tt.wantMsg {
				t.Errorf("Decode(%q) = %v %q, want %v %q", tt.line, is.Severity, is.Message, tt.wantSev, tt.wantMsg)
			}
			if tt.wantSupp != 0 {
				if s, _ := Lookup(c); s != tt.wantSupp {
					t.Errorf("Lookup support = %v, want %v", s, tt.wantSupp)
				}
			}
		})
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in       string
		want, ok bool
	}{
		{"true", true, true}, {"True", true, true}, {"TRUE", true, true}, {" true\t", true, true},
		{"true\x00", true, true}, {"false", false, true}, {"False", false, true},
		{"yes", false, false}, {"1", false, false}, {"", false, false}, {"t", false, false}, {"truee", false, false},
	}
	for _, tt := range tests {
		got, ok := ParseBool(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseBool(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	tests := []struct {
		name  string
		sv    SetVariable
		allow bool
		fail  bool
	}{
		{"single line secret", SetVariable{Name: "a", Value: "x", Secret: true}, false, false},
		{"multi-line secret", SetVariable{Name: "a", Value: "x\ny", Secret: true}, false, true},
		{"multi-line secret allowed", SetVariable{Name: "a", Value: "x\ny", Secret: true}, true, false},
		{"multi-line public", SetVariable{Name: "a", Value: "x\ny"}, false, false},
		{"lone CR is one line", SetVariable{Name: "a", Value: "x\ry", Secret: true}, false, false},
	}
	for _, tt := range tests {
		err := tt.sv.CheckSecret(tt.allow)
		if (err != nil) != tt.fail {
			t.Errorf("%s: CheckSecret = %v, want failure %v", tt.name, err, tt.fail)
		}
		if err != nil && err.Error() != MultilineSecretMessage {
			t.Errorf("%s: message %q", tt.name, err.Error())
		}
	}
}

func TestSecretValues(t *testing.T) {
	if diff := cmp.Diff([]string{"a%AZP25b", "a%b"}, SecretValues("a%AZP25b", Options{KeepPercents: true})); diff != "" {
		t.Errorf("keep percents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a%b"}, SecretValues("a%b", Options{})); diff != "" {
		t.Errorf("default (-want +got):\n%s", diff)
	}
	if got := SecretValues("", Options{}); got != nil {
		t.Errorf("empty: %q", got)
	}
}

func TestLogIssueText(t *testing.T) {
	l := LogIssue{Type: IssueError, Message: "; expected", SourcePath: "Program.cs", LineNumber: "13", ColumnNumber: "18", Code: "CS1002"}
	if got, want := l.Text(), "Program.cs(13,18): error CS1002: ; expected"; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
	if got := (LogIssue{Type: IssueWarning, Message: "m"}).Text(); got != "m" {
		t.Errorf("Text() without source = %q", got)
	}
}

func TestLookupMessagesUseCanonicalArea(t *testing.T) {
	c, _ := Parse("##vso[TASK.Frobnicate]x", Options{})
	_, err := Lookup(c)
	want := "##vso[task.Frobnicate] is not a recognized command for task command extension. Please reference documentation (http://go.microsoft.com/fwlink/?LinkId=817296)."
	if err == nil || err.Error() != want {
		t.Errorf("Lookup error = %v, want %q", err, want)
	}
}
