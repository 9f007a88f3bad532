package logcmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// SetVariable is `##vso[task.setvariable variable=name;issecret=;isoutput=;isreadonly=;preservecase=]value`.
// Flags use C# bool.TryParse (see ParseBool): only "true" in any case sets them.
type SetVariable struct {
	Name         string
	Value        string
	Secret       bool
	Output       bool
	ReadOnly     bool
	PreserveCase bool
}

// MultilineSecretMessage is the agent's error for a multi-line secret variable.
const MultilineSecretMessage = "Secrets cannot contain multiple lines"

// CheckSecret returns a Failure with MultilineSecretMessage when s is a secret whose value
// contains a line feed, unless allowMultiline (SYSTEM_UNSAFEALLOWMULTILINESECRET=true). The
// agent checks this before setting the variable; the variable is then not set.
func (s SetVariable) CheckSecret(allowMultiline bool) error {
	if s.Secret && !allowMultiline && strings.Contains(s.Value, "\n") {
		return failure(MultilineSecretMessage)
	}
	return nil
}

// ReadOnlyMessage is the agent's error for overwriting a read-only variable.
func ReadOnlyMessage(name string) string {
	return "Overwriting readonly variable '" + name + "' is not permitted. See " +
		"https://github.com/microsoft/azure-pipelines-yaml/blob/master/design/readonly-variables.md for details."
}

// SettableMessage is the agent's error when a step's settableVariables forbid the variable.
func SettableMessage(name string) string {
	return "Setting variable '" + name + "' has been disabled by the task or build definition."
}

// SecretValues returns the values the executor registers with the masker for secret data
// parsed with opts: the value itself and, when percents were kept (DECODE_PERCENTS=false),
// also its `%AZP25`-decoded form, as the agent's TaskCommandHelper.AddSecret does. The masker
// adds the escaped forms (`%AZP25`, `%3B`, ...) itself.
func SecretValues(value string, opts Options) []string {
	if value == "" {
		return nil
	}
	if opts.KeepPercents {
		if d := strings.ReplaceAll(value, "%AZP25", "%"); d != value {
			return []string{value, d}
		}
	}
	return []string{value}
}

// SetSecret is `##vso[task.setsecret]value`: register value with the masker from now on.
// An empty value registers nothing.
type SetSecret struct {
	Value string
}

// IssueType is the type property of task.logissue.
type IssueType string

// The issue types the agent accepts (case-insensitively).
const (
	IssueError   IssueType = "error"
	IssueWarning IssueType = "warning"
)

// LogIssue is `##vso[task.logissue type=error|warning;sourcepath=;linenumber=;columnnumber=;code=]message`
// (alias task.issue). It adds an error or warning to the step; it does not fail the step.
type LogIssue struct {
	Type    IssueType
	Message string
	// Optional location properties, kept as written (the agent does not parse them).
	SourcePath   string
	LineNumber   string
	ColumnNumber string
	Code         string
}

// Text returns the message the agent records and prints: with a sourcepath it is
// "path(line,column): type code: message", otherwise the message alone.
func (l LogIssue) Text() string {
	if l.SourcePath == "" {
		return l.Message
	}
	return fmt.Sprintf("%s(%s,%s): %s %s: %s", l.SourcePath, l.LineNumber, l.ColumnNumber, l.Type, l.Code, l.Message)
}

// Complete is `##vso[task.complete result=Succeeded|SucceededWithIssues|Failed;done=]message`.
// Result merges into the step result (worst wins); Done ends the task.
type Complete struct {
	Result  job.Result
	Done    bool
	Message string
}

// InvalidResultMessage is the agent's error for a missing or invalid task.complete result.
const InvalidResultMessage = "Command doesn't have valid result value."

// SetProgress is `##vso[task.setprogress value=N]operation`. Percent is -1 when value is
// missing or not an integer (the agent then leaves the percentage alone).
type SetProgress struct {
	Percent   int
	Operation string
}

// Debug is `##vso[task.debug]message`: a line shown only when System.Debug is true.
type Debug struct {
	Message string
}

// Telemetry is `##vso[telemetry.publish area=…;feature=…]json`, which Microsoft's tasks emit
// for Azure's usage telemetry. It changes nothing a pipeline can observe; Keystage keeps no
// telemetry, so executors accept it and do nothing.
type Telemetry struct {
	Area, Feature, Data string
}

// PrependPath is `##vso[task.prependpath]path`: later steps get path first in PATH (the
// agent removes an earlier identical entry and puts the newest first).
type PrependPath struct {
	Path string
}

// UploadFile is `##vso[task.uploadfile]path`: attach the file to the step's log.
type UploadFile struct {
	Path string
}

// ArtifactUpload is `##vso[artifact.upload artifactname=;containerfolder=]path`: the file, or
// the contents of the directory, go into the run's artifact ArtifactName under
// ContainerFolder (ArtifactName when not given).
type ArtifactUpload struct {
	ArtifactName    string
	ContainerFolder string
	Path            string
}

// PathDoesNotExistMessage and EmptyDirectoryMessage are the agent's artifact.upload
// messages for the executor's file checks (the first fails the command, the second is a
// warning).
func PathDoesNotExistMessage(path string) string { return "Path does not exist: " + path }

// EmptyDirectoryMessage: see PathDoesNotExistMessage.
func EmptyDirectoryMessage(dir, artifact string) string {
	return "Directory '" + dir + "' is empty. Nothing will be added to build artifact '" + artifact + "'."
}

// UpdateBuildNumber is `##vso[build.updatebuildnumber]number`: sets Build.BuildNumber.
type UpdateBuildNumber struct {
	BuildNumber string
}

// AddBuildTag is `##vso[build.addbuildtag]tag`; Tag is trimmed, as in the agent.
type AddBuildTag struct {
	Tag string
}

// ProcessFailedMessage is the line the agent prints before the message of a Failure that
// Decode or execution returned for command line.
func ProcessFailedMessage(line string) string {
	return "Unable to process command '" + line + "' successfully. Please reference documentation (" + docLink + ")"
}

func (SetVariable) op()       {}
func (SetSecret) op()         {}
func (LogIssue) op()          {}
func (Complete) op()          {}
func (SetProgress) op()       {}
func (Debug) op()             {}
func (Telemetry) op()         {}
func (PrependPath) op()       {}
func (UploadFile) op()        {}
func (ArtifactUpload) op()    {}
func (UpdateBuildNumber) op() {}
func (AddBuildTag) op()       {}

func decodeSetVariable(c Command) (Op, error) {
	name, _ := c.Get("variable")
	if name == "" {
		return nil, failure("Required field 'variable' is missing in ##vso[task.setvariable] command.")
	}
	return SetVariable{
		Name:         name,
		Value:        c.Data,
		Secret:       flag(c, "issecret"),
		Output:       flag(c, "isoutput"),
		ReadOnly:     flag(c, "isreadonly"),
		PreserveCase: flag(c, "preservecase"),
	}, nil
}

func decodeLogIssue(c Command) (Op, error) {
	t, ok := c.Get("type")
	if !ok {
		return nil, &Issue{Severity: Warning, Message: "Can't create TaskIssue from logging event."}
	}
	var typ IssueType
	switch {
	case strings.EqualFold(t, string(IssueError)):
		typ = IssueError
	case strings.EqualFold(t, string(IssueWarning)):
		typ = IssueWarning
	default:
		return nil, failure("issue type " + t + " is not an expected issue type.")
	}
	l := LogIssue{Type: typ, Message: c.Data}
	l.SourcePath, _ = c.Get("sourcepath")
	l.LineNumber, _ = c.Get("linenumber")
	l.ColumnNumber, _ = c.Get("columnnumber")
	l.Code, _ = c.Get("code")
	return l, nil
}

// parseResult is C#'s Enum.TryParse<TaskResult> as the agent calls it: case-sensitive names,
// surrounding whitespace ignored, integral values accepted. Keystage accepts the names and
// values of the results a step can have (Succeeded=0 … Skipped=4) and rejects Abandoned,
// undefined numbers and comma-separated flag lists, which the agent would accept.
func parseResult(s string) (job.Result, bool) {
	s = strings.TrimSpace(s)
	results := []job.Result{job.Succeeded, job.SucceededWithIssues, job.Failed, job.Canceled, job.Skipped}
	for _, r := range results {
		if s == string(r) {
			return r, true
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(results) {
		return results[n], true
	}
	return "", false
}

func decodeComplete(c Command) (Op, error) {
	text, _ := c.Get("result")
	r, ok := parseResult(text)
	if text == "" || !ok {
		return nil, failure(InvalidResultMessage)
	}
	done, _ := c.Get("done")
	return Complete{Result: r, Done: convertToBoolean(done), Message: c.Data}, nil
}

func decodeSetProgress(c Command) Op {
	p := SetProgress{Percent: -1, Operation: c.Data}
	if v, ok := c.Get("value"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err == nil {
			p.Percent = int(n)
		}
	}
	return p
}

func decodeArtifactUpload(c Command) (Op, error) {
	name, _ := c.Get("artifactname")
	if name == "" {
		return nil, failure("Artifact Name is required.")
	}
	folder, _ := c.Get("containerfolder")
	if folder == "" {
		folder = name
	}
	if c.Data == "" {
		return nil, failure("Artifact location is required.")
	}
	return ArtifactUpload{ArtifactName: name, ContainerFolder: folder, Path: c.Data}, nil
}
