package compile

import (
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/pipeline/syntax"
)

// shortcut describes how a step shortcut becomes a task: the task, the input that takes
// the shortcut's value, fixed inputs, and the step keys that become inputs.
type shortcut struct {
	task   plan.Task
	input  string
	fixed  map[string]string
	inputs []string
}

var shortcuts = map[string]shortcut{
	"script": {task: plan.Task{Name: "CmdLine", Version: 2}, input: "script",
		inputs: []string{"workingDirectory", "failOnStderr"}},
	"bash": {task: plan.Task{Name: "Bash", Version: 3}, input: "script",
		fixed: map[string]string{"targetType": "inline"}, inputs: []string{"workingDirectory", "failOnStderr"}},
	"pwsh": {task: plan.Task{Name: "PowerShell", Version: 2}, input: "script",
		fixed:  map[string]string{"targetType": "inline", "pwsh": "true"},
		inputs: []string{"workingDirectory", "failOnStderr", "errorActionPreference", "ignoreLASTEXITCODE"}},
	"powershell": {task: plan.Task{Name: "PowerShell", Version: 2}, input: "script",
		fixed:  map[string]string{"targetType": "inline"},
		inputs: []string{"workingDirectory", "failOnStderr", "errorActionPreference", "ignoreLASTEXITCODE"}},
	"publish": {task: plan.Task{Name: "PublishPipelineArtifact", Version: 1}, input: "path",
		inputs: []string{"artifact"}},
	"checkout": {task: plan.Task{Name: "Checkout", Version: 1}, input: "repository",
		inputs: []string{"clean", "fetchDepth", "fetchFilter", "fetchTags", "lfs", "persistCredentials",
			"submodules", "path", "sparseCheckoutDirectories", "sparseCheckoutPatterns", "workspaceRepo"}},
}

// inputNames renames shortcut keys to the task's input names where they differ.
var inputNames = map[string]string{"artifact": "artifactName"}

// steps builds a job's steps and puts the implicit `checkout: self` first unless the
// job checks out explicitly. at is the job's position.
func (b *builder) steps(n *syntax.Node, at plan.Pos) []plan.Step {
	out := []plan.Step{}
	explicit := false
	names := map[string]plan.Pos{}
	if n != nil {
		for _, s := range n.Items {
			st, ok := b.step(s)
			if !ok {
				continue
			}
			if strings.EqualFold(st.Task.Name, "Checkout") {
				explicit = true
			}
			if st.Name != "" {
				k := strings.ToLower(st.Name)
				if first, dup := names[k]; dup {
					b.errorf(st.Pos, "step name '%s' is already used by the step at %s; step names must be unique in a job", st.Name, first)
				} else {
					names[k] = st.Pos
				}
			}
			out = append(out, st)
		}
	}
	if !explicit {
		checkout := plan.Step{Task: plan.Task{Name: "Checkout", Version: 1},
			Inputs: map[string]string{"repository": "self"}, Enabled: true, Pos: at}
		out = append([]plan.Step{checkout}, out...)
	}
	return out
}

// step normalizes one step to a task reference with control properties.
func (b *builder) step(n *syntax.Node) (plan.Step, bool) {
	st := plan.Step{
		Name:            text(n.Get("name")),
		DisplayName:     text(n.Get("displayName")),
		Condition:       text(n.Get("condition")),
		ContinueOnError: boolean(n.Get("continueOnError"), false),
		Enabled:         boolean(n.Get("enabled"), true),
		Pos:             n.Pos,
	}
	if env := n.Get("env"); env != nil && len(env.Pairs) > 0 {
		st.Env = map[string]string{}
		for _, p := range env.Pairs {
			st.Env[p.Key.Value] = p.Value.StringValue()
		}
	}
	st.TimeoutInMinutes = b.integer(n.Get("timeoutInMinutes"), 0, 0, "timeoutInMinutes")
	if r := n.Get("retryCountOnTaskFailure"); r != nil {
		st.RetryCountOnTaskFailure = b.integer(r, 0, 0, "retryCountOnTaskFailure")
		if st.RetryCountOnTaskFailure > MaxRetryCountOnTaskFailure {
			b.warnf(r.Pos, "retryCountOnTaskFailure %d is more than the maximum of %d; %d is used",
				st.RetryCountOnTaskFailure, MaxRetryCountOnTaskFailure, MaxRetryCountOnTaskFailure)
			st.RetryCountOnTaskFailure = MaxRetryCountOnTaskFailure
		}
	}
	st.Target = b.target(n.Get("target"))
	kind := n.FirstKey()
	for _, k := range []string{"task", "script", "bash", "pwsh", "powershell", "checkout", "download", "publish"} {
		if n.Get(k) != nil {
			kind = k
			break
		}
	}
	switch kind {
	case "task":
		return b.task(n, st)
	case "download":
		return b.download(n, st)
	}
	sc, ok := shortcuts[kind]
	if !ok {
		b.errorf(n.Pos, "unexpected step kind '%s'", kind)
		return st, false
	}
	st.Task = sc.task
	st.Inputs = map[string]string{sc.input: n.Get(kind).StringValue()}
	for k, v := range sc.fixed {
		st.Inputs[k] = v
	}
	for _, k := range sc.inputs {
		if v := n.Get(k); v != nil {
			name := k
			if rn, ok := inputNames[k]; ok {
				name = rn
			}
			st.Inputs[name] = v.StringValue()
		}
	}
	if kind == "checkout" {
		b.checkout(n.Get("checkout"))
	}
	return st, true
}

// task reads `task: Name@Major` and its inputs; the version may be written Major.Minor.Patch.
func (b *builder) task(n *syntax.Node, st plan.Step) (plan.Step, bool) {
	ref := n.Get("task")
	name, version, _ := strings.Cut(text(ref), "@")
	major, _, _ := strings.Cut(version, ".")
	v, err := strconv.Atoi(major)
	if err != nil || name == "" {
		b.errorf(ref.Pos, "task reference '%s' must be written Name@MajorVersion", ref.Value)
		return st, false
	}
	st.Task = plan.Task{Name: name, Version: v}
	if in := n.Get("inputs"); in != nil && len(in.Pairs) > 0 {
		st.Inputs = map[string]string{}
		for _, p := range in.Pairs {
			st.Inputs[p.Key.Value] = p.Value.StringValue()
		}
	}
	return st, true
}

// download maps `download: current` to DownloadPipelineArtifact@2. A named artifact
// goes to $(Pipeline.Workspace)/<name>, where Azure's download shortcut puts it.
// `download: none` gives no step (ok false, no diagnostic).
func (b *builder) download(n *syntax.Node, st plan.Step) (plan.Step, bool) {
	src := n.Get("download")
	switch strings.ToLower(text(src)) {
	case "current":
	case "none":
		// It only turns off the automatic download of deployment jobs; a plain job
		// downloads nothing automatically, so the step does nothing.
		return st, false
	default:
		b.errorf(src.Pos, "download: %s names a pipeline resource; pipeline resources are not supported (only download: current)", text(src))
		return st, false
	}
	st.Task = plan.Task{Name: "DownloadPipelineArtifact", Version: 2}
	st.Inputs = map[string]string{"buildType": "current"}
	if a := n.Get("artifact"); a != nil {
		st.Inputs["artifactName"] = a.StringValue()
		st.Inputs["targetPath"] = "$(Pipeline.Workspace)/" + a.StringValue()
	}
	if p := n.Get("patterns"); p != nil {
		st.Inputs["itemPattern"] = p.StringValue()
	}
	return st, true
}

// checkout checks that a checkout names self, none, or a declared repository.
func (b *builder) checkout(n *syntax.Node) {
	repo := text(n)
	switch strings.ToLower(repo) {
	case "self", "none":
		return
	}
	if !b.repos[strings.ToLower(repo)] {
		b.errorf(n.Pos, "checkout: %s names no repository declared under resources.repositories", repo)
	}
}

// target reads a step target. A container target (the string form or `container:`) was
// reported as unsupported by the schema check, except the string form, reported here.
func (b *builder) target(n *syntax.Node) *plan.Target {
	if n == nil {
		return nil
	}
	if n.Kind == syntax.Scalar {
		switch strings.ToLower(text(n)) {
		case "", "host":
			return nil
		}
		b.errorf(n.Pos, "step target container '%s' is not supported", text(n))
		return nil
	}
	t := &plan.Target{Commands: text(n.Get("commands"))}
	if sv := n.Get("settableVariables"); sv != nil {
		t.SettableVariables = []string{}
		for _, item := range sv.Items {
			t.SettableVariables = append(t.SettableVariables, text(item))
		}
	}
	return t
}
