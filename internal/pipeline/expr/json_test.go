package expr

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"order kept", `{"z":1,"a":{"y":[true,null,"s"],"b":2.5}}`, `{"z":1,"a":{"y":[true,null,"s"],"b":2.5}}`, false},
		{"duplicate keys ignoring case", `{"A":1,"a":2}`, `{"A":2}`, false},
		{"string escapes", `"a\"b\\c\n\u0001é"`, `"a\"b\\c\n\u0001é"`, false},
		{"html kept", `"<a&b>"`, `"<a&b>"`, false},
		{"big number", `1e400`, `"Infinity"`, false},
		{"empty containers", `{"a":[],"b":{}}`, `{"a":[],"b":{}}`, false},
		{"trailing data", `1 2`, "", true},
		{"bad", `{"a":`, "", true},
		{"empty", ``, "", true},
		{"too deep", strings.Repeat("[", 2000) + strings.Repeat("]", 2000), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseJSON([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseJSON(%q) succeeded", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := v.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Errorf("MarshalJSON produced invalid JSON: %s", b)
			}
			if string(b) != tt.want {
				t.Errorf("round trip = %s, want %s", b, tt.want)
			}
		})
	}
}

func TestValueJSONRoundTrip(t *testing.T) {
	var v Value
	if err := json.Unmarshal([]byte(`{"legA":{"python":"3.12"},"legB":{"python":"3.13"}}`), &v); err != nil {
		t.Fatal(err)
	}
	if got := v.Object().Keys(); len(got) != 2 || got[0] != "legA" {
		t.Fatalf("keys = %v", got)
	}
	if p, _ := v.Object().Get("LEGB"); p.String() != `{"python":"3.13"}` {
		t.Errorf("legB = %s", p)
	}
}
