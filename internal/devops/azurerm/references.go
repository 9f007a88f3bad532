package azurerm

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// connectionInputs names, per task (lower case, without version), the inputs whose value
// is an AzureRM service connection (task.json type connectedService:AzureRM), canonical
// name first.
var connectionInputs = map[string][]string{
	"azurekeyvault":   {"ConnectedServiceName", "azureSubscription"},
	"azurecli":        {"connectedServiceNameARM", "azureSubscription"},
	"azurepowershell": {"ConnectedServiceNameARM", "azureSubscription"},
}

// Reference is a step input naming a service connection.
type Reference struct {
	// Step is the step's index in its job and StepName its display name (for messages).
	Step     int
	StepName string
	// Input is the input key as written; Value its value with macros expanded.
	Input string
	Value string
}

// References returns the inputs of steps that name AzureRM service connections, in step
// order. Disabled steps are skipped. $(name) macros in a value are expanded from vars
// (case-insensitive names); a macro that vars cannot expand is an error, because
// connections are resolved and authorized before the job runs.
func References(steps []plan.Step, vars map[string]string) ([]Reference, error) {
	var out []Reference
	for i, st := range steps {
		if !st.Enabled {
			continue
		}
		names, ok := connectionInputs[strings.ToLower(st.Task.Name)]
		if !ok {
			continue
		}
		keys := make([]string, 0, len(st.Inputs))
		for k := range st.Inputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		// When a step sets the input under several aliases, the last in sorted order wins,
		// as task.Definition.Resolve decides.
		key := ""
		for _, k := range keys {
			if containsFold(names, k) && strings.TrimSpace(st.Inputs[k]) != "" {
				key = k
			}
		}
		if key == "" {
			continue
		}
		v := strings.TrimSpace(st.Inputs[key])
		expanded, err := expandMacros(v, vars)
		if err != nil {
			return nil, fault.New(fault.BadRequest, "InvalidServiceEndpointReference",
				"Step %s input %s references service connection %s: %v", stepLabel(st, i), key, clip(v), err)
		}
		out = append(out, Reference{Step: i, StepName: stepLabel(st, i), Input: key, Value: expanded})
	}
	return out, nil
}

// expandMacros replaces $(name) with variables as the agent expands task inputs
// (expr.ExpandMacros, names matched ignoring case); a name vars does not hold is an error.
func expandMacros(v string, vars map[string]string) (string, error) {
	lookup := expr.MacroLookup(vars)
	missing := ""
	out := expr.ExpandMacros(v, func(name string) (string, bool) {
		val, ok := lookup(name)
		if !ok && name != "" && missing == "" {
			missing = name
		}
		return val, ok
	})
	if missing != "" {
		return "", fmt.Errorf("variable %s is not defined when the run is queued, so the connection cannot be resolved and authorized; name the connection in the pipeline or define the variable in the pipeline's variables", clip(missing))
	}
	return strings.TrimSpace(out), nil
}

func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func stepLabel(st plan.Step, i int) string {
	if st.DisplayName != "" {
		return st.DisplayName
	}
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("%s@%d (step %d)", st.Task.Name, st.Task.Version, i+1)
}

// clip bounds caller-supplied text quoted in a message.
func clip(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
