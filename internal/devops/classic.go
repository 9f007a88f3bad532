package devops

import (
	"maps"
	"strconv"
	"strings"
)

// ClassicProcess is a classic (designer) pipeline: phases of tasks, stored as the user
// assembled them. The run orchestrator compiles it into the same plan as a YAML pipeline:
// each phase becomes an agent job of one implicit stage, each step a task step.
type ClassicProcess struct {
	Phases []ClassicPhase `json:"phases"`
}

// ClassicPhase is one agent job of a classic pipeline.
type ClassicPhase struct {
	// Name is the job name ("Job_1"); DisplayName the title shown ("Agent job 1").
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// Condition is an expression text; empty means succeeded().
	Condition string `json:"condition,omitempty"`
	// DependsOn lists names of earlier phases this one waits for; nil means none.
	DependsOn []string `json:"dependsOn,omitempty"`
	// QueueID is the job's queue; 0 means the definition's queue.
	QueueID int `json:"queueId,omitempty"`
	// Demands are "capability" or "capability -equals value".
	Demands []string `json:"demands,omitempty"`
	// TimeoutInMinutes is the job timeout (0: the default of 60).
	TimeoutInMinutes       int           `json:"timeoutInMinutes,omitempty"`
	CancelTimeoutInMinutes int           `json:"cancelTimeoutInMinutes,omitempty"`
	Steps                  []ClassicStep `json:"steps"`
}

// ClassicStep is one task of a classic phase.
type ClassicStep struct {
	DisplayName string  `json:"displayName,omitempty"`
	RefName     string  `json:"refName,omitempty"`
	Task        TaskRef `json:"task"`
	// Inputs are the task inputs by name, as in a YAML step's inputs.
	Inputs  map[string]string `json:"inputs,omitempty"`
	Enabled bool              `json:"enabled"`
	// Condition is an expression text; empty means succeeded() (always() with AlwaysRun).
	Condition               string            `json:"condition,omitempty"`
	AlwaysRun               bool              `json:"alwaysRun,omitempty"`
	ContinueOnError         bool              `json:"continueOnError,omitempty"`
	TimeoutInMinutes        int               `json:"timeoutInMinutes,omitempty"`
	RetryCountOnTaskFailure int               `json:"retryCountOnTaskFailure,omitempty"`
	Env                     map[string]string `json:"env,omitempty"`
}

// TaskRef names a task by name and major version (CmdLine@2). ID is the task's GUID when
// known; the built-in tasks' ids are filled in.
type TaskRef struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// String formats the reference as in YAML: Name@Version.
func (t TaskRef) String() string { return t.Name + "@" + strconv.Itoa(t.Version) }

// knownTasks maps the ids of Azure Pipelines' task definitions (their task.json "id") to
// names, for the tasks Keystage runs and the classic editor sends by id.
var knownTasks = map[string]string{
	"d9bafed4-0b18-4f58-968d-86655b4d2ce9": "CmdLine",
	"6c731c3c-3c68-459a-a5c9-bde6e6595b5b": "Bash",
	"5bfb729a-a7c8-4a78-a7c3-8d717bb7c13c": "CopyFiles",
	"2ff763a7-ce83-4e1f-bc89-0ae63477cebe": "PublishBuildArtifacts",
	"1e244d32-2dd4-4165-96fb-b7441ca9331e": "AzureKeyVault",
}

// TaskIDByName returns the id of a built-in task name (any case), if known.
func TaskIDByName(name string) (string, bool) {
	for id, n := range knownTasks {
		if strings.EqualFold(n, name) {
			return id, true
		}
	}
	return "", false
}

// ParseVersionSpec returns the major version of a task version spec: "2", "2.*", "2.1.0".
func ParseVersionSpec(spec string) (int, bool) {
	major, _, _ := strings.Cut(strings.TrimSpace(spec), ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 0 || n > 1000 || major != strconv.Itoa(n) {
		return 0, false
	}
	return n, true
}

// Limits of a classic process.
const (
	maxClassicPhases = 50
	maxClassicSteps  = 500
	maxInputs        = 200
	maxInputBytes    = 64 << 10
)

func normalizeClassic(p *ClassicProcess) (*ClassicProcess, error) {
	if p == nil || len(p.Phases) == 0 {
		return nil, BadRequest("A classic pipeline needs at least one phase with steps.")
	}
	if len(p.Phases) > maxClassicPhases {
		return nil, BadRequest("A classic pipeline has at most %d phases.", maxClassicPhases)
	}
	out := &ClassicProcess{Phases: make([]ClassicPhase, len(p.Phases))}
	names := map[string]bool{}
	steps := 0
	for i, ph := range p.Phases {
		if ph.Name == "" {
			ph.Name = "Job_" + strconv.Itoa(i+1)
		}
		if !validIdentifier(ph.Name) {
			return nil, BadRequest("The phase name %q is invalid: use letters, digits and '_', starting with a letter or '_'.", clip(ph.Name))
		}
		lower := strings.ToLower(ph.Name)
		if names[lower] {
			return nil, BadRequest("Two phases are named %s.", ph.Name)
		}
		for _, dep := range ph.DependsOn {
			if !names[strings.ToLower(dep)] {
				return nil, BadRequest("Phase %s depends on %q, which is not an earlier phase.", ph.Name, clip(dep))
			}
		}
		names[lower] = true
		if ph.DisplayName == "" {
			ph.DisplayName = "Agent job " + strconv.Itoa(i+1)
		}
		if ph.QueueID < 0 || ph.TimeoutInMinutes < 0 || ph.CancelTimeoutInMinutes < 0 {
			return nil, BadRequest("Phase %s has a negative queue id or timeout.", ph.Name)
		}
		for _, d := range ph.Demands {
			if strings.TrimSpace(d) == "" || len(d) > 1024 {
				return nil, BadRequest("Phase %s has an empty or overlong demand.", ph.Name)
			}
		}
		if len(ph.Steps) == 0 {
			return nil, BadRequest("Phase %s has no steps.", ph.Name)
		}
		steps += len(ph.Steps)
		if steps > maxClassicSteps {
			return nil, BadRequest("A classic pipeline has at most %d steps.", maxClassicSteps)
		}
		ph.Demands = append([]string(nil), ph.Demands...)
		ph.DependsOn = append([]string(nil), ph.DependsOn...)
		stepsOut := make([]ClassicStep, len(ph.Steps))
		for j, st := range ph.Steps {
			var err error
			if stepsOut[j], err = normalizeStep(st); err != nil {
				return nil, BadRequest("Phase %s, step %d: %s", ph.Name, j+1, err.Error())
			}
		}
		ph.Steps = stepsOut
		out.Phases[i] = ph
	}
	return out, nil
}

// stepError is a validation message of one step; normalizeClassic adds its position.
type stepError string

func (e stepError) Error() string { return string(e) }

func normalizeStep(st ClassicStep) (ClassicStep, error) {
	t := st.Task
	if t.ID != "" {
		id, ok := normalizeGUID(t.ID)
		if !ok {
			return st, stepError("the task id " + strconv.Quote(clip(t.ID)) + " is not a GUID.")
		}
		t.ID = id
		if name, known := knownTasks[id]; known {
			if t.Name != "" && !strings.EqualFold(t.Name, name) {
				return st, stepError("the task id " + id + " is " + name + ", not " + strconv.Quote(clip(t.Name)) + ".")
			}
			t.Name = name
		}
	}
	if t.Name == "" {
		return st, stepError("the task " + t.ID + " is not a task Keystage knows by id; give its name.")
	}
	if !validTaskName(t.Name) {
		return st, stepError("the task name " + strconv.Quote(clip(t.Name)) + " is invalid.")
	}
	if t.ID == "" {
		if id, ok := TaskIDByName(t.Name); ok {
			t.ID, t.Name = id, knownTasks[id]
		}
	}
	if t.Version <= 0 {
		return st, stepError("task " + t.Name + " needs a major version (versionSpec such as \"2.*\").")
	}
	st.Task = t
	if len(st.Inputs) > maxInputs || len(st.Env) > maxInputs {
		return st, stepError("a step has at most " + strconv.Itoa(maxInputs) + " inputs and environment variables.")
	}
	for k, v := range st.Inputs {
		if k == "" || len(v) > maxInputBytes {
			return st, stepError("an input has an empty name or a value longer than 64 KiB.")
		}
	}
	for k, v := range st.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || len(v) > maxInputBytes {
			return st, stepError("an environment variable has an invalid name or a value longer than 64 KiB.")
		}
	}
	if st.TimeoutInMinutes < 0 || st.RetryCountOnTaskFailure < 0 || st.RetryCountOnTaskFailure > 10 {
		return st, stepError("timeoutInMinutes must not be negative and retryCountOnTaskFailure must be between 0 and 10.")
	}
	if st.RefName != "" && !validIdentifier(st.RefName) {
		return st, stepError("the reference name " + strconv.Quote(clip(st.RefName)) + " is invalid.")
	}
	st.Inputs = maps.Clone(st.Inputs)
	st.Env = maps.Clone(st.Env)
	return st, nil
}

// validIdentifier: letters, digits and '_', not starting with a digit (job and step names).
func validIdentifier(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func validTaskName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
