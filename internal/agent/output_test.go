package agent

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/mask"
	"github.com/keystage/keystage/internal/pipeline/job"
)

// newLineTestStep returns a step whose printed lines end up in rec.
func newLineTestStep(rec *recorder) *stepRun {
	m, _ := mask.New(mask.Config{})
	j := &jobRun{sink: rec, masker: m, refs: map[string]int{}, outputs: map[string]job.Variable{}}
	j.vars = newVariables(j.addSecret)
	return &stepRun{j: j}
}

func TestLineWriterSplitsLines(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"one write", []string{"a\nb\n"}, []string{"a", "b"}},
		{"split across writes", []string{"he", "llo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"CRLF", []string{"x\r\ny\r\n"}, []string{"x", "y"}},
		{"unterminated last line is flushed", []string{"a\nb"}, []string{"a", "b"}},
		{"empty lines kept", []string{"\n\n"}, []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			w := newLineTestStep(rec).newLineWriter()
			for _, s := range tt.writes {
				if _, err := w.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			w.flush()
			if diff := cmp.Diff(tt.want, rec.lines[0]); diff != "" {
				t.Errorf("lines mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzLineWriter checks that how output is chunked never changes the lines logged.
func FuzzLineWriter(f *testing.F) {
	f.Add("a\nb\r\nc", uint8(1))
	f.Add("##vso[task.debug]x\nplain\n", uint8(3))
	f.Add("\n\n\n", uint8(2))
	f.Fuzz(func(t *testing.T, data string, chunk uint8) {
		if strings.Contains(data, "##vso") {
			return // commands are consumed, not logged
		}
		n := int(chunk%16) + 1
		whole, pieces := newRecorder(), newRecorder()
		w1 := newLineTestStep(whole).newLineWriter()
		w1.Write([]byte(data))
		w1.flush()
		w2 := newLineTestStep(pieces).newLineWriter()
		for i := 0; i < len(data); i += n {
			w2.Write([]byte(data[i:min(i+n, len(data))]))
		}
		w2.flush()
		if !cmp.Equal(whole.lines[0], pieces.lines[0]) {
			t.Fatalf("chunk %d: %q vs %q", n, whole.lines[0], pieces.lines[0])
		}
	})
}
