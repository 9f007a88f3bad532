package listener

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/keystage/keystage/internal/agent"
)

// secretWords mark environment variables that are not reported as capabilities: the
// server stores and shows capabilities, so credentials must stay on the machine.
var secretWords = []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "PAT", "AUTH"}

// systemCapabilities are what the agent reports about itself: its environment variables
// (except those named in VSO_AGENT_IGNORE and those that look like credentials) and its
// Agent.* values, which pool demands match.
func systemCapabilities(name, workDir string, environ []string) map[string]string {
	ignore := map[string]bool{}
	caps := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == "VSO_AGENT_IGNORE" {
			for _, n := range strings.Split(v, ",") {
				ignore[strings.ToUpper(strings.TrimSpace(n))] = true
			}
		}
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || ignore[strings.ToUpper(k)] || looksSecret(k) {
			continue
		}
		caps[k] = v
	}
	host, _ := os.Hostname()
	home := "" // the directory of the agent's binary, as the executor's Agent.HomeDirectory
	if exe, err := os.Executable(); err == nil {
		home = filepath.Dir(exe)
	}
	for k, v := range map[string]string{
		"Agent.Name":           name,
		"Agent.Version":        agent.AgentVersion,
		"Agent.OS":             agent.OS(),
		"Agent.OSArchitecture": agent.OSArchitecture(),
		"Agent.ComputerName":   host,
		"Agent.HomeDirectory":  home,
		"Agent.WorkFolder":     workDir,
	} {
		caps[k] = v
	}
	return caps
}

func looksSecret(name string) bool {
	u := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}
