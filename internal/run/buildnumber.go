package run

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// DefaultBuildNumberFormat is Azure's run name format when the pipeline has no `name:`.
const DefaultBuildNumberFormat = "$(Date:yyyyMMdd)$(Rev:.r)"

// BuildNumber formats the run name (Build.BuildNumber) from the plan's `name:` at time now
// (UTC), with Azure's tokens: $(Date:format) in .NET date format, $(Rev:r) (more r's pad
// with zeros, characters before them are kept: $(Rev:.r) gives ".3"), $(DayOfMonth),
// $(DayOfYear), $(Hours), $(Minutes), $(Month), $(Seconds), $(Year:yy), $(Year:yyyy),
// $(BuildDefinitionName), $(BuildID), $(SourceBranchName), $(TeamProject), and root-scope,
// queue-time and run-level predefined variables (secret ones are not substituted). Unknown
// macros stay as written.
func BuildNumber(p plan.Plan, opts Options, now time.Time) string {
	rev := opts.Revision
	if rev <= 0 {
		rev = 1
	}
	return formatBuildNumber(p, opts, now, func(spec string) string {
		i := strings.IndexByte(spec, 'r')
		if i < 0 {
			return spec
		}
		j := i
		for j < len(spec) && spec[j] == 'r' {
			j++
		}
		return spec[:i] + fmt.Sprintf("%0*d", j-i, rev) + spec[j:]
	})
}

// RevisionKey is the build number with its $(Rev:…) token left out: Azure numbers runs
// whose names agree apart from the revision 1, 2, 3, … So an orchestrator keeps a count per
// key and sets Options.Revision to one more than the runs already counted under it.
func RevisionKey(p plan.Plan, opts Options, now time.Time) string {
	return formatBuildNumber(p, opts, now, func(string) string { return "$(Rev)" })
}

func formatBuildNumber(p plan.Plan, opts Options, now time.Time, rev func(spec string) string) string {
	now = now.UTC()
	format := p.Name
	if strings.TrimSpace(format) == "" {
		format = DefaultBuildNumberFormat
	}
	vars := map[string]string{}
	set := func(name, value string) { vars[strings.ToLower(name)] = value }
	for _, v := range p.Variables {
		if v.Group == "" {
			if _, rt := expr.RuntimeExpression(v.Value); !rt {
				set(v.Name, v.Value)
			}
		}
	}
	for _, v := range opts.Variables {
		if !v.Secret {
			set(v.Name, v.Value)
		} else {
			delete(vars, strings.ToLower(v.Name))
		}
	}
	branch := opts.Repository.Branch
	set("Build.BuildId", strconv.FormatInt(opts.RunID, 10))
	set("Build.DefinitionName", opts.PipelineName)
	set("System.DefinitionName", opts.PipelineName)
	set("Build.Reason", orDefault(opts.Reason, "Manual"))
	set("Build.RequestedFor", opts.RequestedFor)
	set("System.TeamProject", opts.TeamProject)
	set("Build.SourceBranch", branch)
	set("Build.SourceBranchName", branch[strings.LastIndex(branch, "/")+1:])
	set("Build.SourceVersion", opts.Repository.Commit)
	set("Build.Repository.Name", opts.Repository.Name)

	return expr.ExpandMacros(format, func(tok string) (string, bool) {
		return buildToken(tok, now, vars, rev)
	})
}

// buildToken expands one build number token (the text inside `$( )`); ok is false for
// unknown tokens, which stay as written.
func buildToken(tok string, now time.Time, vars map[string]string, rev func(string) string) (string, bool) {
	name, spec, hasSpec := strings.Cut(tok, ":")
	switch strings.ToLower(name) {
	case "date":
		if hasSpec {
			if s, ok := formatDate(now, spec); ok {
				return s, true
			}
		}
		return "", false
	case "rev":
		if hasSpec {
			return rev(spec), true
		}
		return "", false
	case "year":
		switch spec {
		case "yy":
			return fmt.Sprintf("%02d", now.Year()%100), true
		case "yyyy":
			return strconv.Itoa(now.Year()), true
		}
		return "", false
	case "dayofmonth":
		return strconv.Itoa(now.Day()), true
	case "dayofyear":
		return strconv.Itoa(now.YearDay()), true
	case "hours":
		return strconv.Itoa(now.Hour()), true
	case "minutes":
		return strconv.Itoa(now.Minute()), true
	case "month":
		return strconv.Itoa(int(now.Month())), true
	case "seconds":
		return strconv.Itoa(now.Second()), true
	case "builddefinitionname":
		tok = "Build.DefinitionName"
	case "buildid":
		tok = "Build.BuildId"
	case "sourcebranchname":
		tok = "Build.SourceBranchName"
	case "teamproject":
		tok = "System.TeamProject"
	}
	if v, ok := vars[strings.ToLower(tok)]; ok {
		return v, true
	}
	return "", false
}

// formatDate formats t with a .NET custom date format through expr's format(), so that
// `$(Date:…)` and `format('{0:…}', pipeline.startTime)` agree.
func formatDate(t time.Time, spec string) (string, bool) {
	if strings.ContainsAny(spec, "{}") {
		return "", false
	}
	x, err := expr.Parse("format('{0:" + strings.ReplaceAll(escapeDateLiterals(spec), "'", "''") + "}', pipeline.startTime)")
	if err != nil {
		return "", false
	}
	c := &expr.Context{}
	pipeline := expr.NewObject()
	pipeline.Set("startTime", expr.DateTime(t))
	c.Set("pipeline", expr.ObjectValue(pipeline))
	v, err := x.Eval(c)
	if err != nil {
		return "", false
	}
	return v.ToString()
}

// escapeDateLiterals backslash-escapes what .NET's DateTime.ToString copies literally (any
// character that is not a format letter, and 'quoted' text), because expr's format() only
// accepts format letters, escapes and spaces.
func escapeDateLiterals(spec string) string {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		switch {
		case c == '\\' && i+1 < len(spec):
			b.WriteByte(c)
			b.WriteByte(spec[i+1])
			i++
		case c == '\'' || c == '"':
			quoted = !quoted
		case quoted || !strings.ContainsRune("yMdHhmsfFzKtg ", rune(c)):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
