package syntax

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// Severity says whether a diagnostic makes the pipeline invalid.
type Severity uint8

// Diagnostic severities.
const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a pipeline file, at a position.
type Diagnostic struct {
	Pos      plan.Pos `json:"pos"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats d as `file:line:col: message`, with "warning: " before the message of
// warnings.
func (d Diagnostic) String() string {
	if d.Severity == Warning {
		return d.Pos.String() + ": warning: " + d.Message
	}
	return d.Pos.String() + ": " + d.Message
}

// Errorf returns an error diagnostic at pos.
func Errorf(pos plan.Pos, format string, args ...any) Diagnostic {
	return Diagnostic{Pos: pos, Severity: Error, Message: fmt.Sprintf(format, args...)}
}

// Warnf returns a warning diagnostic at pos.
func Warnf(pos plan.Pos, format string, args ...any) Diagnostic {
	return Diagnostic{Pos: pos, Severity: Warning, Message: fmt.Sprintf(format, args...)}
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Sorted returns the diagnostics ordered by file, line, column and message, without
// exact duplicates (one problem can be found both before and after template expansion).
func (ds Diagnostics) Sorted() Diagnostics {
	out := append(Diagnostics(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		return a.Message < b.Message
	})
	uniq := out[:0]
	for i, d := range out {
		if i > 0 && d == out[i-1] {
			continue
		}
		uniq = append(uniq, d)
	}
	return uniq
}

// Err returns nil when there are no errors, and otherwise an *InvalidError holding ds.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return &InvalidError{Diagnostics: ds}
}

// InvalidError reports a pipeline that failed to compile; it carries every diagnostic.
type InvalidError struct {
	Diagnostics Diagnostics
}

func (e *InvalidError) Error() string {
	var errs []string
	for _, d := range e.Diagnostics {
		if d.Severity == Error {
			errs = append(errs, d.String())
		}
	}
	if len(errs) == 1 {
		return "pipeline is not valid: " + errs[0]
	}
	return fmt.Sprintf("pipeline is not valid: %s (and %d more errors)", errs[0], len(errs)-1)
}

// Strings formats every diagnostic, one per element.
func (ds Diagnostics) Strings() []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// String joins the diagnostics one per line.
func (ds Diagnostics) String() string {
	return strings.Join(ds.Strings(), "\n")
}

// ExprError turns an error from evaluating or parsing the expressions of scalar n into a
// diagnostic. When the error carries the offset of the failing `${{` and n is a one-line
// plain or quoted scalar, the position points at that expression.
func ExprError(n *Node, err error) Diagnostic {
	pos := n.Pos
	var te *expr.TemplateError
	if errors.As(err, &te) && !strings.Contains(n.Value, "\n") {
		switch n.Style {
		case Plain:
			pos.Column += te.Offset
		case SingleQuoted, DoubleQuoted:
			pos.Column += te.Offset + 1
		}
	}
	return Diagnostic{Pos: pos, Severity: Error, Message: err.Error()}
}
