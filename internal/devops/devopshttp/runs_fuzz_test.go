package devopshttp

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseParameters(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		bad      bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "json", in: `{"a":"1","b":2,"c":true,"d":null}`, want: map[string]string{"a": "1", "b": "2", "c": "true", "d": ""}},
		{name: "python str", in: `{'a': 'x y'}`, want: map[string]string{"a": "x y"}},
		{name: "object value", in: `{"o":{"k":[1,2]}}`, want: map[string]string{"o": `{"k":[1,2]}`}},
		{name: "not an object", in: `[1]`, bad: true},
		{name: "garbage", in: `{`, bad: true},
	}
	for _, tt := range tests {
		got, err := parseParameters(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("%s: parseParameters(%q) accepted", tt.name, tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: parseParameters(%q) = %v", tt.name, tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: parseParameters (-want +got):\n%s", tt.name, diff)
		}
	}
}

// FuzzParseParameters checks that Build.parameters never panics the decoder and that what
// it accepts is a map of strings.
func FuzzParseParameters(f *testing.F) {
	for _, s := range []string{"", `{"a":"1"}`, `{'a':'b'}`, `{"n":1.5e3,"o":{}}`, `null`, `"x"`, `{"a":`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseParameters(s)
		if err != nil || m == nil {
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseParameters(string(b))
		if err != nil || !cmp.Equal(m, again, cmpopts.EquateEmpty()) {
			t.Fatalf("parseParameters(%q) = %v does not round-trip: %v, %v", s, m, again, err)
		}
	})
}
