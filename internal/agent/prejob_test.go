package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/keystage/keystage/internal/pipeline/plan"
	"github.com/keystage/keystage/internal/task"
)

// preJobTask records which entry point ran, in order.
type preJobTask struct {
	mu    *sync.Mutex
	calls *[]string
}

var preJobDef = &task.Definition{Name: "PreJobProbe", Version: task.Version{Major: 1}, Inputs: []task.Input{{Name: "tag"}}}

func (t preJobTask) Definition() *task.Definition { return preJobDef }
func (t preJobTask) record(what string, env *task.Env) {
	t.mu.Lock()
	defer t.mu.Unlock()
	*t.calls = append(*t.calls, what+":"+env.Inputs.Get("tag"))
	fmt.Fprintln(env.Stdout, "ran "+what)
}
func (t preJobTask) Run(ctx context.Context, env *task.Env) error { t.record("main", env); return nil }
func (t preJobTask) RunPreJob(ctx context.Context, env *task.Env) error {
	t.record("pre", env)
	return nil
}

// TestPreJobEntryPointsRunFirst checks the agent's order for tasks with a prejobexecution
// handler: every pre-job run, in step order, before the first step (checkout included),
// then the main runs; a disabled step has no pre-job run.
func TestPreJobEntryPointsRunFirst(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	probe := preJobTask{mu: &mu, calls: &calls}
	f := newFixture(t, func(c *Config) { c.Tasks = append(c.Tasks, probe) })
	step := func(tag string, enabled bool) plan.Step {
		return plan.Step{DisplayName: "Probe " + tag, Task: plan.Task{Name: "PreJobProbe", Version: 1},
			Inputs: map[string]string{"tag": tag}, Enabled: enabled}
	}
	rep, rec := f.run(context.Background(), f.request([]plan.Step{
		{Task: plan.Task{Name: "Checkout", Version: 1}, Inputs: map[string]string{"repository": "self"}, Enabled: true},
		step("a", true), script("echo middle"), step("b", true), step("off", false),
	}))
	wantResults(t, rep, "Succeeded [Succeeded Succeeded Succeeded Succeeded Succeeded Succeeded Skipped]")
	if got, want := strings.Join(calls, " "), "pre:a pre:b main:a main:b"; got != want {
		t.Errorf("entry points ran as %q, want %q", got, want)
	}
	var order []string
	for _, s := range rec.started {
		order = append(order, s.DisplayName)
		if s.PreJob != strings.HasPrefix(s.DisplayName, "Pre-job: ") {
			t.Errorf("step %q has PreJob=%v", s.DisplayName, s.PreJob)
		}
		if s.PreJob && s.Name != "" {
			t.Errorf("pre-job run %q took the reference name %q", s.DisplayName, s.Name)
		}
	}
	if got := strings.Join(order, " | "); !strings.HasPrefix(got, "Pre-job: Probe a | Pre-job: Probe b | Checkout") {
		t.Errorf("steps started in order %q; pre-job runs must come first", got)
	}
}
