package run

import (
	"encoding/json"
	"errors"
	"fmt"
)

// UnmarshalJSON decodes a State and checks that it agrees with its plan, so that a corrupted
// or hand-edited state is an error here rather than a failure later.
func (s *State) UnmarshalJSON(b []byte) error {
	type plain State // without methods, so json does not recurse
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("run: decode state: %w", err)
	}
	st := (*State)(&p)
	if err := st.check(); err != nil {
		return fmt.Errorf("run: decode state: %w", err)
	}
	*s = *st
	return nil
}

func validStatus(s Status) bool { return s == Pending || s == InProgress || s == Completed }

// check verifies the invariants the methods rely on.
func (s *State) check() error {
	if !validStatus(s.Status) {
		return fmt.Errorf("bad run status %q", s.Status)
	}
	if len(s.Plan.Stages) > 0 {
		if err := checkGraphs(s.Plan); err != nil {
			return err
		}
	}
	if len(s.Stages) != len(s.Plan.Stages) || len(s.Stages) == 0 {
		return errors.New("stages do not match the plan")
	}
	ids := map[string]bool{}
	for i, st := range s.Stages {
		ps := s.Plan.Stages[i]
		if st == nil || st.Name != ps.Name || len(st.Jobs) != len(ps.Jobs) {
			return fmt.Errorf("stage %d does not match the plan", i)
		}
		if !validStatus(st.Status) {
			return fmt.Errorf("stage %s: bad status %q", st.Name, st.Status)
		}
		for _, d := range st.DependsOn {
			if s.Stage(d) == nil {
				return fmt.Errorf("stage %s depends on unknown stage %s", st.Name, d)
			}
		}
		for j, js := range st.Jobs {
			if js == nil || js.Name != ps.Jobs[j].Name {
				return fmt.Errorf("stage %s job %d does not match the plan", st.Name, j)
			}
			if !validStatus(js.Status) {
				return fmt.Errorf("stage %s job %s: bad status %q", st.Name, js.Name, js.Status)
			}
			for _, d := range js.DependsOn {
				if st.Job(d) == nil {
					return fmt.Errorf("stage %s job %s depends on unknown job %s", st.Name, js.Name, d)
				}
			}
			for _, in := range js.Instances {
				if in == nil || in.ID == "" || ids[in.ID] {
					return fmt.Errorf("stage %s job %s: missing or duplicate instance", st.Name, js.Name)
				}
				ids[in.ID] = true
				if !validStatus(in.Status) {
					return fmt.Errorf("stage %s job %s: bad instance status %q", st.Name, js.Name, in.Status)
				}
			}
		}
	}
	return nil
}
