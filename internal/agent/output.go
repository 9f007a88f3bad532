package agent

import (
	"bytes"
	"errors"
	"strings"
	"sync"

	"github.com/keystage/keystage/internal/logcmd"
)

// maxLine bounds one log line; longer output is split, so a step that never writes a
// newline cannot grow memory without limit.
const maxLine = 1 << 20

// lineWriter splits a task's output stream into lines and hands each to its step.
type lineWriter struct {
	s   *stepRun
	mu  sync.Mutex
	buf []byte
}

func (s *stepRun) newLineWriter() *lineWriter { return &lineWriter{s: s} }

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLine {
				w.s.processLine(string(w.buf[:maxLine]))
				w.buf = append(w.buf[:0], w.buf[maxLine:]...)
			}
			break
		}
		var line string
		if len(w.buf) > 0 {
			w.buf = append(w.buf, p[:i]...)
			line = string(w.buf)
			w.buf = w.buf[:0]
		} else {
			line = string(p[:i])
		}
		w.s.processLine(line)
		p = p[i+1:]
	}
	return n, nil
}

// flush processes a final line that has no terminator.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.s.processLine(string(w.buf))
		w.buf = w.buf[:0]
	}
}

// processLine handles one line of task output: a logging command is executed and not
// shown, anything else is masked and logged.
func (s *stepRun) processLine(line string) {
	line = strings.TrimSuffix(line, "\r")
	if !strings.Contains(line, "##vso") {
		s.print(line)
		return
	}
	opts := logcmd.Options{KeepPercents: s.keepPercents()}
	cmd, err := logcmd.Parse(line, opts)
	var syntax *logcmd.SyntaxError
	switch {
	case errors.As(err, &syntax):
		s.print(line)
		s.warning(syntax.Error())
	case err != nil:
		s.print(line)
	default:
		s.command(cmd, line, opts)
		s.flushMaskWarnings()
	}
}

// flushMaskWarnings logs masker warnings (short secrets) collected since the last flush.
func (s *stepRun) flushMaskWarnings() {
	for _, w := range s.j.takeMaskWarnings() {
		s.warning(w)
	}
}

// keepPercents is the DECODE_PERCENTS=false knob.
func (s *stepRun) keepPercents() bool {
	v, ok := s.j.vars.get("DECODE_PERCENTS")
	return ok && strings.EqualFold(strings.TrimSpace(v), "false")
}

// print masks and logs one or more lines of the step's log.
func (s *stepRun) print(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.printLocked(text)
}

func (s *stepRun) printLocked(text string) {
	for _, l := range strings.Split(text, "\n") {
		s.j.sink.StepLine(s.info, s.j.masker.Mask(l))
	}
}

func (s *stepRun) section(msg string) { s.print("##[section]" + msg) }

// error logs an error issue line and counts it.
func (s *stepRun) error(msg string) { s.issue(true, msg) }

// warning logs a warning issue line and counts it.
func (s *stepRun) warning(msg string) { s.issue(false, msg) }

// issue counts an error or warning and logs it as a ##[error] or ##[warning] line; an empty
// message is counted but not printed, as in the agent.
func (s *stepRun) issue(isError bool, msg string) {
	tag := "##[warning]"
	if isError {
		tag = "##[error]"
	}
	s.mu.Lock()
	if isError {
		s.errors++
	} else {
		s.warnings++
	}
	if msg != "" {
		s.printLocked(tag + msg)
	}
	s.mu.Unlock()
	s.j.mu.Lock()
	if isError {
		s.j.errors++
	} else {
		s.j.warnings++
	}
	s.j.mu.Unlock()
}

// debug logs a ##[debug] line when System.Debug is true.
func (s *stepRun) debug(msg string) {
	if v, _ := s.j.vars.get("System.Debug"); strings.EqualFold(v, "true") {
		s.print("##[debug]" + msg)
	}
}
