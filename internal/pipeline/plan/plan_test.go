package plan

import (
	"encoding/json"
	"testing"
)

// TestSettableVariablesNoneSurvivesJSON guards the difference between "unrestricted" (nil)
// and "settableVariables: none" (empty), which must survive the trip to an agent.
func TestSettableVariablesNoneSurvivesJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		nil_ bool
	}{
		{"unrestricted", nil, true},
		{"none", []string{}, false},
		{"some", []string{"a"}, false},
	} {
		b, err := json.Marshal(Target{SettableVariables: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		var out Target
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if (out.SettableVariables == nil) != tc.nil_ || len(out.SettableVariables) != len(tc.in) {
			t.Errorf("%s: %s round-tripped to %#v", tc.name, b, out.SettableVariables)
		}
	}
}
