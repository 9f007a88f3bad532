// Package logcmd owns the `##vso[area.event props]data` logging-command syntax a step writes to
// its output: parsing one line the way the Azure Pipelines agent does, the escaping used when
// emitting commands, and typed, validated views of the commands Keystage executes.
//
// The package only parses and validates; executing a command (setting a variable, failing a
// step, uploading a file) is the job executor's work. Every message it returns is Azure's
// wording, so logs read like the agent's. Messages may quote the command line; the caller masks
// them like any other output before they are stored or printed.
package logcmd

import (
	"errors"
	"strings"
)

// Prefix starts a logging command. It may appear anywhere in a line, as in the agent.
const Prefix = "##vso["

// keyword is what makes the agent warn about a line that is not a legal command.
const keyword = "##vso"

// ErrNotCommand is returned by Parse for ordinary output: a line without "##vso".
var ErrNotCommand = errors.New("logcmd: not a logging command")

// Options are the agent knobs that change parsing. The zero value is the agent's default.
type Options struct {
	// KeepPercents disables the final `%AZP25` -> `%` step of unescaping; it is the job
	// variable DECODE_PERCENTS=false. The executor must then register both the escaped and
	// the decoded form of a secret with the masker, as the agent does.
	KeepPercents bool
}

// Property is one `name=value` pair of a command, value already unescaped.
type Property struct {
	Name  string
	Value string
}

// Command is a parsed logging command. Area and Event keep the spelling of the line; compare
// them case-insensitively (Name gives the lower-case form).
type Command struct {
	Area  string
	Event string
	// Properties are in order of first appearance; a later duplicate name (compared
	// case-insensitively) replaces the earlier value, as in the agent's dictionary.
	Properties []Property
	// Data is everything after the `]` that ends the header, unescaped.
	Data string
}

// Name returns "area.event" in lower case, the key used by Lookup.
func (c Command) Name() string {
	return strings.ToLower(c.Area) + "." + strings.ToLower(c.Event)
}

// Get returns the value of the named property; names are case-insensitive.
func (c Command) Get(name string) (string, bool) {
	for _, p := range c.Properties {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// set adds or replaces a property, keeping first-appearance order.
func (c *Command) set(name, value string) {
	for i := range c.Properties {
		if strings.EqualFold(c.Properties[i].Name, name) {
			c.Properties[i].Value = value
			return
		}
	}
	c.Properties = append(c.Properties, Property{Name: name, Value: value})
}

// SyntaxError reports a line that contains "##vso" but is not a legal command. The agent
// prints the line as ordinary output and adds the warning in Message.
type SyntaxError struct {
	Line string
}

// Error returns the agent's warning text (CommandKeywordDetected).
func (e *SyntaxError) Error() string {
	return "'" + e.Line + "' contains logging command keyword '##vso', but it's not a legal command. " +
		"Please see the list of accepted commands: https://go.microsoft.com/fwlink/?LinkId=817296"
}

// Parse parses one line of step output, without its line terminator, as the agent does
// (Command.TryParse): the prefix may appear anywhere in the line, the first `]` after it ends
// the header, the header is `area.event` optionally followed by a space and `;`-separated
// properties, and values and data are unescaped (see Unescape).
//
// It returns ErrNotCommand for a line without "##vso", a *SyntaxError for a line that contains
// "##vso" but is not a legal command (the line stays ordinary output; the error text is the
// agent's warning), and otherwise the command with a nil error. Parse does not check that the
// area or event exists: see Lookup and Decode.
//
// Parse never panics and does not allocate for a line without "##vso".
func Parse(line string, opts Options) (Command, error) {
	start := strings.Index(line, Prefix)
	if start < 0 {
		if strings.Contains(line, keyword) {
			return Command{}, &SyntaxError{Line: line}
		}
		return Command{}, ErrNotCommand
	}
	cmd, ok := parseAt(line, start, opts)
	if !ok {
		return Command{}, &SyntaxError{Line: line}
	}
	return cmd, nil
}

func parseAt(line string, start int, opts Options) (Command, bool) {
	headerStart := start + len(Prefix)
	end := strings.IndexByte(line[headerStart:], ']')
	if end < 0 {
		return Command{}, false
	}
	header := line[headerStart : headerStart+end]
	data := line[headerStart+end+1:]

	name, props, hasProps := strings.Cut(header, " ")
	// The agent reads properties only when the space is not the first character; a header
	// starting with a space has an empty name and fails below anyway.
	area, event, ok := splitName(name)
	if !ok {
		return Command{}, false
	}
	cmd := Command{Area: area, Event: event}
	if hasProps {
		cmd.Properties = make([]Property, 0, min(strings.Count(props, ";")+1, 8))
		for rest := props; rest != ""; {
			var p string
			p, rest, _ = strings.Cut(rest, ";")
			if p == "" {
				continue
			}
			k, v, ok := splitProperty(p)
			if !ok {
				continue
			}
			cmd.set(k, Unescape(v, opts))
		}
	}
	cmd.Data = Unescape(data, opts)
	return cmd, true
}

// splitName splits "area.event" on '.', dropping empty pieces, and requires exactly two
// pieces (C# Split with RemoveEmptyEntries): "task..x" is task.x, "a.b.c" is not a command.
func splitName(name string) (area, event string, ok bool) {
	var parts [2]string
	n := 0
	for rest := name; rest != ""; {
		var piece string
		piece, rest, _ = strings.Cut(rest, ".")
		if piece == "" {
			continue
		}
		if n == 2 {
			return "", "", false
		}
		parts[n] = piece
		n++
	}
	if n != 2 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// splitProperty splits "name=value" like .NET's Split('=', 2, RemoveEmptyEntries): leading
// '=' characters are skipped, the name runs to the next '=', further '=' characters directly
// after it are skipped, and the rest is the value. A missing or empty value drops the pair.
func splitProperty(p string) (name, value string, ok bool) {
	p = strings.TrimLeft(p, "=")
	name, value, found := strings.Cut(p, "=")
	if !found || name == "" {
		return "", "", false
	}
	value = strings.TrimLeft(value, "=")
	if value == "" {
		return "", "", false
	}
	return name, value, true
}
