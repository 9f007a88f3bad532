package task

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Inputs are a task's resolved inputs keyed by canonical input name. Lookups are
// case-insensitive, as task-lib's getInput is.
type Inputs map[string]string

// Get returns the input's value, or "" when it is unset.
func (in Inputs) Get(name string) string { return lookupFold(in, name) }

// Required returns the input's value or task-lib's "Input required" error when it is empty.
func (in Inputs) Required(name string) (string, error) {
	v := in.Get(name)
	if v == "" {
		return "", fmt.Errorf("Input required: %s", name)
	}
	return v, nil
}

// Bool is task-lib's getBoolInput: true only for "true" in any case.
func (in Inputs) Bool(name string) bool {
	return strings.EqualFold(in.Get(name), "true")
}

// Path is task-lib's getPathInput: the value, required if asked, and checked to exist when
// check is set ("Not found {name}: {path}").
func (in Inputs) Path(name string, required, check bool) (string, error) {
	v := in.Get(name)
	if required && v == "" {
		return "", fmt.Errorf("Input required: %s", name)
	}
	if check && v != "" {
		if _, err := os.Stat(v); err != nil {
			return "", fmt.Errorf("Not found %s: %s", name, v)
		}
	}
	return v, nil
}

// Lines is task-lib's getDelimitedInput with "\n": the non-empty lines of the input.
func (in Inputs) Lines(name string) []string {
	var out []string
	for _, l := range strings.Split(in.Get(name), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Resolve maps a step's inputs to canonical names and fills task defaults, the way the
// server and agent do before expansion: defaults first, then step values (trimmed) by
// canonical name. Keys the definition does not know are kept as written (the agent passes
// them through). Values are not expanded here.
func (d *Definition) Resolve(step map[string]string) Inputs {
	out := make(Inputs, len(d.Inputs)+len(step))
	for _, in := range d.Inputs {
		out[in.Name] = strings.TrimSpace(in.Default)
	}
	keys := make([]string, 0, len(step))
	for k := range step {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic when a step sets an input under two aliases
	for _, k := range keys {
		name := strings.TrimSpace(k)
		if name == "" {
			continue
		}
		if c, ok := d.Canonical(name); ok {
			name = c
		} else {
			for existing := range out {
				if strings.EqualFold(existing, name) {
					name = existing
					break
				}
			}
		}
		out[name] = strings.TrimSpace(step[k])
	}
	return out
}

// Input returns the definition of the canonical input name, or nil.
func (d *Definition) Input(name string) *Input {
	for i := range d.Inputs {
		if strings.EqualFold(d.Inputs[i].Name, name) {
			return &d.Inputs[i]
		}
	}
	return nil
}
