package orchestrator

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDemand(t *testing.T) {
	tests := []struct {
		in      string
		want    Demand
		wantErr string
	}{
		{in: "gpu", want: Demand{Name: "gpu"}},
		{in: "  Agent.OS  ", want: Demand{Name: "Agent.OS"}},
		{in: "Agent.OS -equals Linux", want: Demand{Name: "Agent.OS", Value: "Linux", Equals: true}},
		{in: "sdk -EQUALS  Visual Studio 2022 ", want: Demand{Name: "sdk", Value: "Visual Studio 2022", Equals: true}},
		{in: "", wantErr: "empty"},
		{in: "java -gtVersion 11", wantErr: "-gtVersion"},
		{in: "a -equals", wantErr: "no value"},
		{in: "two words", wantErr: "not 'name'"},
	}
	for _, tt := range tests {
		got, err := ParseDemand(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDemand(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDemand(%q) = %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseDemand(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestSatisfied(t *testing.T) {
	caps := map[string]string{"Agent.OS": "Linux", "gpu": "", "SDK": "Visual Studio 2022"}
	tests := []struct {
		name    string
		demands []string
		want    bool
	}{
		{"none", nil, true},
		{"exists, any case", []string{"AGENT.OS", "GPU"}, true},
		{"equals, any case", []string{"agent.os -equals linux", "sdk -equals visual studio 2022"}, true},
		{"missing", []string{"docker"}, false},
		{"different value", []string{"Agent.OS -equals Windows_NT"}, false},
	}
	for _, tt := range tests {
		ds, err := ParseDemands(tt.demands)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := Satisfied(ds, caps); got != tt.want {
			t.Errorf("%s: Satisfied = %v, want %v", tt.name, got, tt.want)
		}
	}
	merged := MergeCapabilities(map[string]string{"OS": "a", "x": "1"}, map[string]string{"os": "b"})
	if diff := cmp.Diff(map[string]string{"os": "b", "x": "1"}, merged); diff != "" {
		t.Errorf("MergeCapabilities (-want +got):\n%s", diff)
	}
}

func TestCleanArtifactPath(t *testing.T) {
	for in, want := range map[string]string{"a.txt": "a.txt", "d/./e//f": "d/e/f", `w\x.txt`: "w/x.txt"} {
		if got, err := CleanArtifactPath(in); err != nil || got != want {
			t.Errorf("CleanArtifactPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/etc/passwd", "../x", "a/../../b", ".", "a\x00b"} {
		if _, err := CleanArtifactPath(in); err == nil {
			t.Errorf("CleanArtifactPath(%q) accepted", in)
		}
	}
}

func FuzzParseDemand(f *testing.F) {
	for _, s := range []string{"gpu", "Agent.OS -equals Linux", "a -gtVersion 1", "", "x -equals  y z "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDemand(s)
		if err != nil {
			return
		}
		if d.Name == "" || strings.ContainsAny(d.Name, " \t\n") {
			t.Fatalf("ParseDemand(%q) = %+v", s, d)
		}
		again, err := ParseDemand(d.String())
		if err != nil || again != d {
			t.Fatalf("ParseDemand(%q).String() = %q does not parse back (%+v, %v)", s, d.String(), again, err)
		}
	})
}

func FuzzCleanArtifactPath(f *testing.F) {
	for _, s := range []string{"a/b.txt", "../x", "/abs", `a\b`, "a/./b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := CleanArtifactPath(s)
		if err != nil {
			return
		}
		if p == "" || p == "." || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "../") || p == ".." || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
			t.Fatalf("CleanArtifactPath(%q) = %q escapes the artifact", s, p)
		}
	})
}
