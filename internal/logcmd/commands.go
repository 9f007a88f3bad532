package logcmd

import (
	"strconv"
	"strings"
	"unicode"
)

// Severity says how the executor reports an Issue.
type Severity int

const (
	// Warning: print a warning line and go on; the step result is unchanged.
	Warning Severity = iota + 1
	// Failure: print an error line; the step's result becomes Failed (the agent sets the
	// context's CommandResult to Failed), but the step keeps running.
	Failure
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Failure:
		return "error"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Issue is a problem with a parsed command, with the agent's message. It is returned by
// Lookup and Decode as an error.
type Issue struct {
	Severity Severity
	Message  string
}

func (e *Issue) Error() string { return e.Message }

func failure(msg string) *Issue { return &Issue{Severity: Failure, Message: msg} }

const docLink = "http://go.microsoft.com/fwlink/?LinkId=817296"

// Support says whether Keystage executes a command that Azure Pipelines knows.
type Support int

const (
	// Supported commands have a typed form returned by Decode.
	Supported Support = iota + 1
	// Unsupported commands exist in Azure Pipelines but Keystage does not execute them.
	Unsupported
)

// commands lists every command of the Azure Pipelines agent (its command extensions at
// 42bde98), keyed by lower-case "area.event", aliases included.
var commands = map[string]Support{
	"task.logissue":        Supported,
	"task.issue":           Supported,
	"task.setprogress":     Supported,
	"task.logdetail":       Unsupported,
	"task.complete":        Supported,
	"task.setsecret":       Supported,
	"task.setvariable":     Supported,
	"task.addattachment":   Unsupported,
	"task.debug":           Supported,
	"task.uploadsummary":   Unsupported,
	"task.uploadfile":      Supported,
	"task.settaskvariable": Unsupported,
	"task.setendpoint":     Unsupported,
	"task.prependpath":     Supported,

	"artifact.associate": Unsupported,
	"artifact.upload":    Supported,

	"build.uploadlog":         Unsupported,
	"build.uploadsummary":     Unsupported,
	"build.updatebuildnumber": Supported,
	"build.addbuildtag":       Supported,

	"release.updatereleasename":      Unsupported,
	"telemetry.publish":              Supported,
	"codecoverage.publish":           Unsupported,
	"results.publish":                Unsupported,
	"results.publishtoevidencestore": Unsupported,
}

// areas are the agent's command extensions (plugininternal is reserved for agent plugins and
// treated as unknown, as it is for ordinary steps).
var areas = map[string]bool{
	"task": true, "artifact": true, "build": true, "release": true,
	"telemetry": true, "codecoverage": true, "results": true,
}

// Lookup reports whether Keystage executes c. It returns Supported, or an *Issue with the
// agent's wording:
//   - an unknown area is a Warning ("Cannot find command extension for ##vso[area.command]…");
//     the line is still consumed, not printed;
//   - an unknown event of a known area is a Failure ("##vso[area.event] is not a recognized
//     command for area command extension…");
//   - a command Azure knows but Keystage does not execute is a Failure naming it.
func Lookup(c Command) (Support, error) {
	area := strings.ToLower(c.Area)
	if !areas[area] {
		return 0, &Issue{Severity: Warning, Message: "Cannot find command extension for ##vso[" + c.Area +
			".command]. Please reference documentation (" + docLink + ")"}
	}
	switch commands[c.Name()] {
	case Supported:
		return Supported, nil
	case Unsupported:
		return Unsupported, failure("##vso[" + c.Name() + "] is not supported by Keystage.")
	}
	return 0, failure("##vso[" + area + "." + c.Event + "] is not a recognized command for " + area +
		" command extension. Please reference documentation (" + docLink + ").")
}

// Op is the typed, validated form of a supported command: one of SetVariable, SetSecret,
// LogIssue, Complete, SetProgress, Debug, PrependPath, UploadFile, ArtifactUpload,
// UpdateBuildNumber, AddBuildTag, Telemetry.
type Op interface{ op() }

// Decode validates c and returns its typed form. Errors are *Issue values from Lookup, or a
// Failure with the agent's message for missing or invalid properties ("Required field
// 'variable' is missing in ##vso[task.setvariable] command.", "Command doesn't have valid
// result value.", ...). A LogIssue without a type yields a Warning ("Can't create TaskIssue
// from logging event."), as in the agent.
func Decode(c Command) (Op, error) {
	if _, err := Lookup(c); err != nil {
		return nil, err
	}
	switch c.Name() {
	case "task.setvariable":
		return decodeSetVariable(c)
	case "task.setsecret":
		return SetSecret{Value: c.Data}, nil
	case "task.logissue", "task.issue":
		return decodeLogIssue(c)
	case "task.complete":
		return decodeComplete(c)
	case "task.setprogress":
		return decodeSetProgress(c), nil
	case "task.debug":
		return Debug{Message: c.Data}, nil
	case "telemetry.publish":
		area, _ := c.Get("area")
		feature, _ := c.Get("feature")
		return Telemetry{Area: area, Feature: feature, Data: c.Data}, nil
	case "task.prependpath":
		if c.Data == "" {
			return nil, failure("Value cannot be null or empty. (Parameter 'prependpath')")
		}
		return PrependPath{Path: c.Data}, nil
	case "task.uploadfile":
		if c.Data == "" {
			return nil, failure("Cannot upload file because file location is not specified.")
		}
		return UploadFile{Path: c.Data}, nil
	case "artifact.upload":
		return decodeArtifactUpload(c)
	case "build.updatebuildnumber":
		if c.Data == "" {
			return nil, failure("Build number is required.")
		}
		return UpdateBuildNumber{BuildNumber: c.Data}, nil
	case "build.addbuildtag":
		tag := strings.TrimSpace(c.Data)
		if tag == "" {
			return nil, failure("Build tag is required.")
		}
		return AddBuildTag{Tag: tag}, nil
	}
	// Lookup said Supported for a name this switch lacks: a bug in this package.
	return nil, failure("##vso[" + c.Name() + "] is not supported by Keystage.")
}

// ParseBool is C#'s bool.TryParse, which the agent uses for setvariable flags: "true" and
// "false" in any letter case, surrounded by optional whitespace and NUL characters; anything
// else, "yes" and "1" included, is false with ok == false.
func ParseBool(s string) (value, ok bool) {
	t := strings.TrimFunc(s, func(r rune) bool { return r == 0 || unicode.IsSpace(r) })
	switch {
	case strings.EqualFold(t, "true"):
		return true, true
	case strings.EqualFold(t, "false"):
		return false, true
	}
	return false, false
}

// convertToBoolean is the agent's StringUtil.ConvertToBoolean (used by task.complete done=):
// "1", "true", "$true" are true, case-insensitively; anything else is false.
func convertToBoolean(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "$true":
		return true
	}
	return false
}

func flag(c Command, name string) bool {
	v, ok := c.Get(name)
	if !ok {
		return false
	}
	b, _ := ParseBool(v)
	return b
}
