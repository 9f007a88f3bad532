package agent

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/keystage/keystage/internal/logcmd"
	"github.com/keystage/keystage/internal/pipeline/job"
	"github.com/keystage/keystage/internal/task"
)

// restrictedAllowed are the commands the agent allows in restricted mode
// (CommandRestriction AllowedInRestrictedMode).
var restrictedAllowed = map[string]bool{
	"task.logdetail": true, "task.logissue": true, "task.issue": true, "task.complete": true,
	"task.setprogress": true, "task.setsecret": true, "task.setvariable": true, "task.debug": true,
	"task.settaskvariable": true, "task.prependpath": true, "telemetry.publish": true,
}

// command executes a logging command found in the step's output. Commands run one at a
// time, in output order, as in the agent.
func (s *stepRun) command(cmd logcmd.Command, line string, opts logcmd.Options) {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	name := cmd.Name()
	defer func() {
		if name != "task.debug" {
			s.debug("Processed: " + logcmd.Unescape(line, opts))
		}
	}()
	if _, err := logcmd.Lookup(cmd); err != nil {
		s.commandError(line, err)
		return
	}
	if !restrictedAllowed[name] && s.commandsRestricted() {
		s.warning(fmt.Sprintf("##vso[%s.%s] is not allowed in this step due to policy restrictions. Please reference documentation (http://go.microsoft.com/fwlink/?LinkId=817296)", cmd.Area, cmd.Event))
		return
	}
	op, err := logcmd.Decode(cmd)
	if err == nil {
		err = s.execute(op, opts)
	}
	if err != nil {
		s.commandError(line, err)
	}
}

// commandError reports a command that could not be processed: a warning-level issue is a
// warning; anything else logs the agent's two error lines and fails the step.
func (s *stepRun) commandError(line string, err error) {
	var issue *logcmd.Issue
	if errors.As(err, &issue) && issue.Severity == logcmd.Warning {
		s.warning(issue.Message)
		return
	}
	s.error(logcmd.ProcessFailedMessage(line))
	s.error(err.Error())
	s.fail()
}

// fail merges Failed into the step's command result.
func (s *stepRun) fail() {
	s.mu.Lock()
	s.cmdResult = mergeResults(s.cmdResult, job.Failed)
	s.mu.Unlock()
}

// restrictions are the step's `target` restrictions and the task's own.
func (s *stepRun) restrictions() []*task.Restrictions {
	var out []*task.Restrictions
	if t := s.plan.Target; t != nil {
		r := &task.Restrictions{CommandsRestricted: strings.EqualFold(t.Commands, "restricted"), SettableVariables: t.SettableVariables}
		out = append(out, r)
	}
	if s.def != nil && s.def.Restrictions != nil {
		out = append(out, s.def.Restrictions)
	}
	return out
}

func (s *stepRun) commandsRestricted() bool {
	for _, r := range s.restrictions() {
		if r.CommandsRestricted {
			return true
		}
	}
	return false
}

// settable reports whether every restriction lets the step set variable name (patterns
// are minimatch globs matched ignoring case).
func (s *stepRun) settable(name string) bool {
	for _, r := range s.restrictions() {
		if r.SettableVariables == nil {
			continue
		}
		ok := false
		for _, p := range r.SettableVariables {
			if m, err := doublestar.Match(strings.ToLower(p), strings.ToLower(name)); err == nil && m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// execute applies one decoded command.
func (s *stepRun) execute(op logcmd.Op, opts logcmd.Options) error {
	j := s.j
	switch c := op.(type) {
	case logcmd.SetVariable:
		return s.setVariable(c, opts, true)
	case logcmd.SetSecret:
		for _, v := range logcmd.SecretValues(c.Value, opts) {
			j.addSecret(v)
		}
	case logcmd.LogIssue:
		if c.SourcePath != "" {
			if sources, ok := j.vars.get("Build.SourcesDirectory"); ok {
				if rel, err := filepath.Rel(sources, c.SourcePath); err == nil && !strings.HasPrefix(rel, "..") {
					c.SourcePath = rel
				}
			}
		}
		s.issue(c.Type == logcmd.IssueError, c.Text())
	case logcmd.Complete:
		s.mu.Lock()
		s.cmdResult = mergeResults(s.cmdResult, c.Result)
		done := s.forceDone
		s.mu.Unlock()
		if c.Done && done != nil {
			done(errForceDone)
		}
	case logcmd.SetProgress:
		// Progress only feeds the server's timeline percentage.
	case logcmd.Telemetry:
		// Usage telemetry for Microsoft's service; Keystage keeps none.
	case logcmd.Debug:
		s.debug(c.Message)
	case logcmd.PrependPath:
		if !s.settable("PATH") {
			s.warning(logcmd.SettableMessage("PATH"))
			return nil
		}
		j.mu.Lock()
		kept := j.prepend[:0]
		for _, p := range j.prepend {
			if p != c.Path {
				kept = append(kept, p)
			}
		}
		j.prepend = append(kept, c.Path)
		j.mu.Unlock()
	case logcmd.UploadFile:
		return s.attach("DistributedTask.Core.FileAttachment", filepath.Base(c.Path), c.Path)
	case logcmd.ArtifactUpload:
		return s.uploadArtifact(c.ArtifactName, c.ContainerFolder, c.Path)
	case logcmd.UpdateBuildNumber:
		j.vars.forceSet("Build.BuildNumber", c.BuildNumber)
		j.mu.Lock()
		j.buildNumber = c.BuildNumber
		j.mu.Unlock()
		s.print(fmt.Sprintf("Update build number to %s for build %d", c.BuildNumber, j.req.RunID))
	case logcmd.AddBuildTag:
		j.mu.Lock()
		found := false
		for _, t := range j.tags {
			found = found || strings.EqualFold(t, c.Tag)
		}
		if !found {
			j.tags = append(j.tags, c.Tag)
		}
		tags := strings.Join(j.tags, ", ")
		j.mu.Unlock()
		s.print(fmt.Sprintf("Build '%d' has following tags now: %s", j.req.RunID, tags))
	default:
		return fmt.Errorf("%T is not supported by Keystage", op)
	}
	return nil
}

// setVariable is task.setvariable (Agent TaskSetVariableCommand): readonly check, the
// multi-line secret rule, masking, settable restrictions, then the variable itself.
// restricted is false for Keystage's own tasks, which are trusted.
func (s *stepRun) setVariable(c logcmd.SetVariable, opts logcmd.Options, restricted bool) error {
	j := s.j
	if j.vars.isReadOnly(c.Name) {
		return errors.New(logcmd.ReadOnlyMessage(c.Name))
	}
	if c.Secret {
		if err := c.CheckSecret(s.allowMultilineSecret()); err != nil {
			return err
		}
		for _, v := range logcmd.SecretValues(c.Value, opts) {
			j.addSecret(v)
		}
	}
	if restricted && !s.settable(c.Name) {
		s.warning(logcmd.SettableMessage(c.Name))
		return nil
	}
	if !c.Output {
		j.vars.set(c.Name, c.Value, c.Secret, c.ReadOnly, c.PreserveCase)
		return nil
	}
	full := s.info.Name + "." + c.Name
	j.vars.set(full, c.Value, c.Secret, true, c.PreserveCase)
	v, _ := j.vars.lookup(full)
	j.mu.Lock()
	j.outputs[fold(full)] = job.Variable{Name: full, Value: v.Value, Secret: v.Secret, ReadOnly: true}
	j.mu.Unlock()
	return nil
}

// allowMultilineSecret is the SYSTEM_UNSAFEALLOWMULTILINESECRET knob (a variable or the
// agent's environment).
func (s *stepRun) allowMultilineSecret() bool {
	if v, ok := s.j.vars.get("SYSTEM_UNSAFEALLOWMULTILINESECRET"); ok {
		return strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return strings.EqualFold(s.j.e.environ["SYSTEM_UNSAFEALLOWMULTILINESECRET"], "true")
}
