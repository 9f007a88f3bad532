package orchestrator

import (
	"fmt"
	"strings"
)

// Demand is one pool demand: a capability that must exist, or must equal a value. Names and
// values are matched case-insensitively, as Azure does.
type Demand struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
	// Equals is set for "name -equals value".
	Equals bool `json:"equals,omitempty"`
}

// String formats the demand as written in YAML.
func (d Demand) String() string {
	if d.Equals {
		return d.Name + " -equals " + d.Value
	}
	return d.Name
}

// ParseDemand parses "name" or "name -equals value". Other operators (Azure knows only
// these two for pools) are an error naming the operator.
func ParseDemand(s string) (Demand, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Demand{}, fmt.Errorf("a demand is empty")
	}
	fields := strings.Fields(s)
	switch {
	case len(fields) == 1:
		return Demand{Name: fields[0]}, nil
	case len(fields) >= 3 && strings.EqualFold(fields[1], "-equals"):
		// The value is everything after the operator, inner spaces kept.
		rest := strings.TrimSpace(s[len(fields[0]):])
		value := strings.TrimSpace(rest[len(fields[1]):])
		return Demand{Name: fields[0], Value: value, Equals: true}, nil
	case len(fields) == 2 && strings.EqualFold(fields[1], "-equals"):
		return Demand{}, fmt.Errorf("the demand %q has no value after -equals", clip(s))
	case len(fields) >= 2 && strings.HasPrefix(fields[1], "-"):
		return Demand{}, fmt.Errorf("the demand %q uses the operator %s; Keystage supports only 'name' (exists) and 'name -equals value'", clip(s), fields[1])
	}
	return Demand{}, fmt.Errorf("the demand %q is not 'name' or 'name -equals value'", clip(s))
}

// ParseDemands parses a pool's demands.
func ParseDemands(list []string) ([]Demand, error) {
	out := make([]Demand, 0, len(list))
	for _, s := range list {
		d, err := ParseDemand(s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Satisfied reports whether capabilities satisfy every demand, and names the first one
// they do not.
func Satisfied(demands []Demand, capabilities map[string]string) (bool, Demand) {
	for _, d := range demands {
		v, ok := lookupFold(capabilities, d.Name)
		if !ok || d.Equals && !strings.EqualFold(v, d.Value) {
			return false, d
		}
	}
	return true, Demand{}
}

// lookupFold finds a capability by case-insensitive name (an exact match first).
func lookupFold(m map[string]string, name string) (string, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// MergeCapabilities merges an agent's system and user capabilities, user ones winning
// (names compared case-insensitively), as demands see them.
func MergeCapabilities(system, user map[string]string) map[string]string {
	out := make(map[string]string, len(system)+len(user))
	for k, v := range system {
		out[k] = v
	}
	for k, v := range user {
		for old := range out {
			if strings.EqualFold(old, k) {
				delete(out, old)
			}
		}
		out[k] = v
	}
	return out
}
