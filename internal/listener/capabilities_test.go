package listener

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSystemCapabilities(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	caps := systemCapabilities("agent-1", "/work", []string{
		"PATH=/usr/bin", "MY_TOKEN=secret", "GITHUB_PAT=x", "VSO_AGENT_IGNORE=path, Other", "Other=1", "JAVA_HOME=/opt/java",
	})
	for name, want := range map[string]string{
		"JAVA_HOME":           "/opt/java",
		"Agent.Name":          "agent-1",
		"Agent.WorkFolder":    "/work",
		"Agent.HomeDirectory": filepath.Dir(exe),
	} {
		if got := caps[name]; got != want {
			t.Errorf("capability %s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"PATH", "Other", "MY_TOKEN", "GITHUB_PAT"} {
		if v, ok := caps[name]; ok {
			t.Errorf("capability %s = %q is reported; it is ignored or looks like a credential", name, v)
		}
	}
}
