package agent

import (
	"sort"
	"strings"
	"sync"

	"github.com/keystage/keystage/internal/pipeline/expr"
)

// variable is one job variable as the agent keeps it.
type variable struct {
	Name         string // as first declared
	Value        string
	Secret       bool
	ReadOnly     bool
	PreserveCase bool
}

// variables is a job's variable set with the agent's rules: names are case-insensitive,
// secret-ness and read-only-ness are sticky, values set at run time are stored as given and
// expanded again before each step. It is safe for concurrent use.
type variables struct {
	mu       sync.RWMutex
	raw      map[string]variable // folded name -> value as set
	expanded map[string]variable // raw with macros expanded; always the same names
	onSecret func(value string)  // registers a secret value with the masker
}

func newVariables(onSecret func(string)) *variables {
	return &variables{raw: map[string]variable{}, expanded: map[string]variable{}, onSecret: onSecret}
}

func fold(name string) string { return strings.ToLower(name) }

// set adds or replaces a variable. A variable that was secret stays secret and one that
// was read-only stays read-only, whatever the caller asks (Agent Variables.Set).
func (vs *variables) set(name, value string, secret, readOnly, preserveCase bool) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	k := fold(name)
	if old, ok := vs.expanded[k]; ok {
		secret = secret || old.Secret
		readOnly = readOnly || old.ReadOnly
		name = old.Name
	}
	if secret && value != "" && vs.onSecret != nil {
		vs.onSecret(value)
	}
	v := variable{Name: name, Value: value, Secret: secret, ReadOnly: readOnly, PreserveCase: preserveCase}
	vs.raw[k] = v
	vs.expanded[k] = v
}

// get returns the expanded value of a variable.
func (vs *variables) get(name string) (string, bool) {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	v, ok := vs.expanded[fold(name)]
	return v.Value, ok
}

// lookup returns the whole expanded variable.
func (vs *variables) lookup(name string) (variable, bool) {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	v, ok := vs.expanded[fold(name)]
	return v, ok
}

// isReadOnly reports whether name is read-only.
func (vs *variables) isReadOnly(name string) bool {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	return vs.expanded[fold(name)].ReadOnly
}

// recalculate expands macros inside every value recursively (expr.ExpandVariables) and
// returns the warnings for values left as written. Values that take in a secret become
// secret and are registered with the masker.
func (vs *variables) recalculate() []expr.ExpandWarning {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	in := make(map[string]expr.Variable, len(vs.raw))
	for k, v := range vs.raw {
		in[k] = expr.Variable{Value: v.Value, Secret: v.Secret}
	}
	out, warnings := expr.ExpandVariables(in)
	expanded := make(map[string]variable, len(out))
	for k, e := range out {
		v := vs.raw[k]
		if e.Secret && !v.Secret && e.Value != "" && vs.onSecret != nil {
			vs.onSecret(e.Value)
		}
		v.Value, v.Secret = e.Value, e.Secret
		expanded[k] = v
	}
	vs.expanded = expanded
	for i := range warnings {
		warnings[i].Name = vs.raw[warnings[i].Name].Name
	}
	return warnings
}

// macroLookup returns a lookup for expr.ExpandMacros over the expanded values.
func (vs *variables) macroLookup() func(string) (string, bool) {
	return vs.get
}

// all returns a copy of the expanded variables, sorted by name.
func (vs *variables) all() []variable {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	out := make([]variable, 0, len(vs.expanded))
	for _, v := range vs.expanded {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return fold(out[i].Name) < fold(out[j].Name) })
	return out
}

// envName is the agent's environment name of a variable: `.` and space become `_`, then
// upper case unless preserveCase (VarUtil.ConvertToEnvVariableFormat).
func envName(name string, preserveCase bool) string {
	n := strings.NewReplacer(".", "_", " ", "_").Replace(name)
	if preserveCase {
		return n
	}
	return strings.ToUpper(n)
}

// exported returns the public variables as environment entries, sorted by variable name;
// Agent.JobStatus also appears under its raw name. Secrets are never exported.
func (vs *variables) exported() [][2]string {
	var out [][2]string
	for _, v := range vs.all() {
		if v.Secret {
			continue
		}
		if strings.EqualFold(v.Name, "Agent.JobStatus") {
			out = append(out, [2]string{v.Name, v.Value})
		}
		out = append(out, [2]string{envName(v.Name, v.PreserveCase), v.Value})
	}
	return out
}

// forceSet sets a variable the agent itself owns (predefined and status variables): it
// is read-only for logging commands but the agent may update it.
func (vs *variables) forceSet(name, value string) {
	vs.set(name, value, false, true, false)
}
