package logcmd

import (
	"strings"
)

// The agent's unescaping (CommandStringConvertor.Unescape): four sequential ordinal
// replacements, then `%AZP25` -> `%` unless percents are kept.
var unescaper = strings.NewReplacer("%3B", ";", "%0D", "\r", "%0A", "\n", "%5D", "]")

// The task-lib escapers (node/taskcommand.ts): `%` first, so no escape is escaped twice.
var (
	dataEscaper     = strings.NewReplacer("%", "%AZP25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%AZP25", "\r", "%0D", "\n", "%0A", "]", "%5D", ";", "%3B")
)

// Unescape decodes a property value or command data as the agent does: `%3B` -> `;`,
// `%0D` -> CR, `%0A` -> LF, `%5D` -> `]`, then `%AZP25` -> `%` unless opts.KeepPercents.
// Escape sequences are case-sensitive; other `%` sequences are left alone.
func Unescape(s string, opts Options) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	// The four replacements cannot create one another's sequences (each produces a single
	// non-'%' byte), so one pass equals the agent's four sequential passes.
	s = unescaper.Replace(s)
	if !opts.KeepPercents {
		s = strings.ReplaceAll(s, "%AZP25", "%")
	}
	return s
}

// EscapeData escapes command data for emitting, as task-lib does: `%` -> `%AZP25`,
// CR -> `%0D`, LF -> `%0A`. Data may contain `]` and `;` unescaped.
func EscapeData(s string) string {
	return dataEscaper.Replace(s)
}

// EscapeProperty escapes a property value for emitting, as task-lib does: EscapeData plus
// `]` -> `%5D` and `;` -> `%3B`. A value that starts with `=` cannot be carried: the agent
// drops leading `=` characters of every value.
func EscapeProperty(s string) string {
	return propertyEscaper.Replace(s)
}

// String formats c as a logging-command line the agent parses back to c, the way task-lib
// emits commands: `##vso[area.event name=value;...;]data`, properties with an empty value
// omitted. Area, Event and property names are written as they are; they must not contain
// ' ', '.', ';', '=' or ']'.
func (c Command) String() string {
	var b strings.Builder
	b.WriteString(Prefix)
	b.WriteString(c.Area)
	b.WriteByte('.')
	b.WriteString(c.Event)
	first := true
	for _, p := range c.Properties {
		if p.Value == "" {
			continue
		}
		if first {
			b.WriteByte(' ')
			first = false
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(EscapeProperty(p.Value))
		b.WriteByte(';')
	}
	b.WriteByte(']')
	b.WriteString(EscapeData(c.Data))
	return b.String()
}
