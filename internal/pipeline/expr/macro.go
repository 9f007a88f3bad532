package expr

import (
	"fmt"
	"strings"
)

// ExpandMacros replaces each `$(name)` in s whose name lookup finds, as the agent expands
// task inputs just before a step runs. The name is everything between `$(` and the next `)`
// (so `$(Date:yyyyMMdd)` is simply looked up). Unknown and empty names stay literally.
// Expansion is not recursive: text inserted by a macro is never scanned again. lookup
// should match names ignoring case (MacroLookup builds such a function); a nil lookup
// leaves s unchanged.
func ExpandMacros(s string, lookup func(name string) (string, bool)) string {
	if lookup == nil || !strings.Contains(s, "$(") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0 // next byte of s not yet copied
	for {
		open := strings.Index(s[i:], "$(")
		if open < 0 {
			break
		}
		open += i
		end := strings.IndexByte(s[open+2:], ')')
		if end < 0 {
			break
		}
		end += open + 2
		name := s[open+2 : end]
		if val, ok := lookup(name); ok && name != "" {
			b.WriteString(s[i:open])
			b.WriteString(val)
			i = end + 1
			continue
		}
		// Not found: keep the `$` and look for the next macro from the next byte.
		b.WriteString(s[i : open+1])
		i = open + 1
	}
	if i == 0 {
		return s
	}
	b.WriteString(s[i:])
	return b.String()
}

// MacroLookup returns a case-insensitive lookup over vars for ExpandMacros. If two names
// differ only in case, the one that sorts last wins.
func MacroLookup(vars map[string]string) func(name string) (string, bool) {
	idx := make(map[string]string, len(vars))
	for _, k := range sortedKeys(vars) {
		idx[fold(k)] = vars[k]
	}
	return func(name string) (string, bool) {
		v, ok := idx[fold(name)]
		return v, ok
	}
}

// MaxExpandDepth is how deeply ExpandVariables follows macros inside variable values.
const MaxExpandDepth = 50

// Variable is a variable's value and secrecy, for ExpandVariables.
type Variable struct {
	Value  string
	Secret bool
}

// ExpandWarning reports a variable ExpandVariables left unexpanded.
type ExpandWarning struct {
	// Name is the variable whose value was left as written.
	Name string
	// Cycle is true for a cyclical reference, false when MaxExpandDepth was exceeded.
	Cycle bool
}

func (w ExpandWarning) String() string {
	if w.Cycle {
		return fmt.Sprintf("Unable to expand variable '%s'. A cyclical reference was detected.", w.Name)
	}
	return fmt.Sprintf("Unable to expand variable '%s'. The max expansion depth (%d) was exceeded.", w.Name, MaxExpandDepth)
}

// ExpandVariables expands `$(name)` macros inside variable values recursively, as the
// agent does at job start: a value may refer to variables whose values refer to others,
// up to MaxExpandDepth levels. A variable whose expansion meets a cycle or exceeds the
// depth keeps its value as written and is reported in the warnings (sorted by name), for
// the caller to log. A variable that takes in a secret becomes secret itself. Names match
// ignoring case; vars must not hold two names that differ only in case (the one that sorts
// last would be used). The input map is not modified.
func ExpandVariables(vars map[string]Variable) (map[string]Variable, []ExpandWarning) {
	names := sortedKeys(vars)
	idx := make(map[string]string, len(vars)) // folded -> declared name
	for _, k := range names {
		idx[fold(k)] = k
	}
	find := func(name string) (string, Variable, bool) {
		k, ok := idx[fold(name)]
		if !ok {
			return "", Variable{}, false
		}
		return k, vars[k], true
	}
	out := make(map[string]Variable, len(vars))
	var warnings []ExpandWarning
	for _, name := range names {
		v := vars[name]
		x := expander{find: find}
		val, secret, ok := x.expand(name, v.Value, 1)
		if !ok {
			warnings = append(warnings, ExpandWarning{Name: name, Cycle: x.cycle})
			out[name] = v
			continue
		}
		out[name] = Variable{Value: val, Secret: v.Secret || secret}
	}
	return out, warnings
}

type expander struct {
	find  func(name string) (string, Variable, bool)
	stack []string // folded names being expanded
	cycle bool
}

// expand expands the macros in value, which belongs to the variable name at the given
// depth. ok is false on a cycle or when the depth limit is reached.
func (x *expander) expand(name, value string, depth int) (string, bool, bool) {
	if !strings.Contains(value, "$(") {
		return value, false, true
	}
	x.stack = append(x.stack, fold(name))
	defer func() { x.stack = x.stack[:len(x.stack)-1] }()
	secret := false
	var b strings.Builder
	i := 0
	for {
		open := strings.Index(value[i:], "$(")
		if open < 0 {
			break
		}
		open += i
		end := strings.IndexByte(value[open+2:], ')')
		if end < 0 {
			break
		}
		end += open + 2
		ref := value[open+2 : end]
		declared, nested, found := x.find(ref)
		if ref == "" || !found {
			b.WriteString(value[i : open+1])
			i = open + 1
			continue
		}
		if depth >= MaxExpandDepth {
			return "", false, false
		}
		for _, s := range x.stack {
			if s == fold(declared) {
				x.cycle = true
				return "", false, false
			}
		}
		sub, subSecret, ok := x.expand(declared, nested.Value, depth+1)
		if !ok {
			return "", false, false
		}
		secret = secret || nested.Secret || subSecret
		b.WriteString(value[i:open])
		b.WriteString(sub)
		i = end + 1
	}
	b.WriteString(value[i:])
	return b.String(), secret, true
}
