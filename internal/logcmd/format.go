package logcmd

import (
	"bytes"
	"strings"
)

// Format is a log formatting tag: a line `##[tag]text` is rendered specially by the log
// viewer (a collapsible group, a coloured warning, …). Tags are case-insensitive when parsed.
type Format string

// The formatting tags of the Azure Pipelines log viewer.
const (
	Group    Format = "group"
	EndGroup Format = "endgroup"
	Section  Format = "section"
	Warn     Format = "warning"
	Error    Format = "error"
	DebugTag Format = "debug"
	Cmd      Format = "command"
)

var formats = []Format{Group, EndGroup, Section, Warn, Error, DebugTag, Cmd}

// FormatLine returns `##[tag]text`. Text is written as it is: a line feed in it starts a
// plain line, as when the agent writes a multi-line warning.
func FormatLine(f Format, text string) string {
	return "##[" + string(f) + "]" + text
}

// ParseFormat reports whether line starts with a known formatting tag and returns the tag
// (lower case) and the text after it. Unlike logging commands, a formatting tag counts only at
// the start of the line.
func ParseFormat(line string) (Format, string, bool) {
	if !strings.HasPrefix(line, "##[") {
		return "", "", false
	}
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return "", "", false
	}
	tag := line[3:end]
	for _, f := range formats {
		if strings.EqualFold(tag, string(f)) {
			return f, line[end+1:], true
		}
	}
	return "", "", false
}

// ScanLines is a bufio.SplitFunc that splits step output into lines the way the agent reads
// a process's output (.NET StreamReader.ReadLine): a line ends at LF, CR LF, or a lone CR, and
// the terminator is not part of the token. A final line without terminator is returned at EOF.
func ScanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		// CR: swallow a following LF; if the CR ends the buffer, wait to see the next byte.
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
