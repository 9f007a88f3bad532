package syntax

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/plan"
	"go.yaml.in/yaml/v3"
)

// Parse reads one YAML document into a positioned tree. file names the source in
// positions. An empty document gives a null scalar. Azure's YAML dialect is enforced:
// anchors, aliases, merge keys, custom tags, non-scalar keys, duplicate keys and multiple
// documents are errors. Parse never panics on bad input.
func Parse(file string, data []byte) (*Node, Diagnostics) {
	start := plan.Pos{File: file, Line: 1, Column: 1}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return NewScalar("", Null, start), nil
		}
		return nil, Diagnostics{yamlError(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Diagnostics{Errorf(posOf(file, &extra), "a pipeline file holds one YAML document; found a second one")}
	} else if !errors.Is(err, io.EOF) {
		return nil, Diagnostics{yamlError(file, err)}
	}
	c := converter{file: file}
	root := &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return NewScalar("", Null, start), nil
		}
		root = doc.Content[0]
	}
	n := c.convert(root)
	if len(c.diags) > 0 {
		return nil, c.diags
	}
	return n, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a go-yaml error into a diagnostic. go-yaml reports lines but not columns
// for syntax errors, so those diagnostics point at column 1.
func yamlError(file string, err error) Diagnostic {
	msg := err.Error()
	pos := plan.Pos{File: file, Line: 1, Column: 1}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return Errorf(pos, "invalid YAML: %s", msg)
}

func posOf(file string, n *yaml.Node) plan.Pos {
	return plan.Pos{File: file, Line: n.Line, Column: n.Column}
}

type converter struct {
	file  string
	diags Diagnostics
}

func (c *converter) errorf(n *yaml.Node, format string, args ...any) {
	c.diags = append(c.diags, Errorf(posOf(c.file, n), format, args...))
}

func (c *converter) convert(y *yaml.Node) *Node {
	pos := posOf(c.file, y)
	if y.Anchor != "" {
		c.errorf(y, "YAML anchors are not supported (anchor '%s')", y.Anchor)
	}
	switch y.Kind {
	case yaml.AliasNode:
		c.errorf(y, "YAML aliases are not supported (alias '%s')", y.Value)
		return NewScalar("", Null, pos)
	case yaml.ScalarNode:
		return c.scalar(y, pos)
	case yaml.SequenceNode:
		c.checkTag(y, "!!seq")
		n := &Node{Kind: Sequence, Pos: pos, Items: make([]*Node, 0, len(y.Content))}
		for _, item := range y.Content {
			n.Items = append(n.Items, c.convert(item))
		}
		return n
	case yaml.MappingNode:
		c.checkTag(y, "!!map")
		return c.mapping(y, pos)
	}
	c.errorf(y, "unexpected YAML node")
	return NewScalar("", Null, pos)
}

func (c *converter) mapping(y *yaml.Node, pos plan.Pos) *Node {
	n := &Node{Kind: Mapping, Pos: pos, Pairs: make([]Pair, 0, len(y.Content)/2)}
	seen := make(map[string]bool, len(y.Content)/2)
	for i := 0; i+1 < len(y.Content); i += 2 {
		ky, vy := y.Content[i], y.Content[i+1]
		if ky.Kind != yaml.ScalarNode {
			c.errorf(ky, "a mapping key must be a scalar, not a %s", kindName(ky.Kind))
			continue
		}
		if ky.Tag == "!!merge" && ky.Value == "<<" {
			c.errorf(ky, "YAML merge keys (<<) are not supported")
			continue
		}
		k := c.convert(ky)
		k.Type = String
		if seen[k.Value] && !strings.Contains(k.Value, "${{") {
			c.errorf(ky, "'%s' is already defined", k.Value)
		}
		seen[k.Value] = true
		n.Pairs = append(n.Pairs, Pair{Key: k, Value: c.convert(vy)})
	}
	return n
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "sequence"
	case yaml.MappingNode:
		return "mapping"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}

// checkTag rejects explicit tags other than the standard one for the node's kind.
func (c *converter) checkTag(y *yaml.Node, std string) {
	if y.Style&yaml.TaggedStyle != 0 && y.Tag != std {
		c.errorf(y, "YAML tag '%s' is not supported", y.Tag)
	}
}

func (c *converter) scalar(y *yaml.Node, pos plan.Pos) *Node {
	n := &Node{Kind: Scalar, Value: y.Value, Pos: pos}
	switch {
	case y.Style&yaml.SingleQuotedStyle != 0:
		n.Style = SingleQuoted
	case y.Style&yaml.DoubleQuotedStyle != 0:
		n.Style = DoubleQuoted
	case y.Style&yaml.LiteralStyle != 0:
		n.Style = Literal
	case y.Style&yaml.FoldedStyle != 0:
		n.Style = Folded
	}
	if y.Style&yaml.TaggedStyle != 0 {
		switch y.Tag {
		case "!!str":
			n.Type = String
		case "!!null":
			n.Type = Null
		case "!!bool", "!!int", "!!float":
			t := Resolve(y.Value)
			want := Bool
			if y.Tag != "!!bool" {
				want = Number
			}
			if t != want {
				c.errorf(y, "'%s' is not a valid %s", y.Value, strings.TrimPrefix(y.Tag, "!!"))
			}
			n.Type = want
		default:
			c.errorf(y, "YAML tag '%s' is not supported", y.Tag)
		}
		return n
	}
	if n.Style == Plain {
		n.Type = Resolve(y.Value)
	}
	return n
}

var (
	coreInt   = regexp.MustCompile(`^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$`)
	coreFloat = regexp.MustCompile(`^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
)

// Resolve returns the type of a plain scalar under the YAML 1.2 core schema, which is how
// Azure's reader types literals: null, true/false (three spellings each), integers
// (decimal, 0o, 0x) and floats; everything else is a string.
func Resolve(s string) Type {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return Null
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return Bool
	}
	if coreInt.MatchString(s) || coreFloat.MatchString(s) {
		return Number
	}
	return String
}

// Encode renders n as a YAML document with two-space indentation. Scalars keep their
// source style where it round-trips; strings that would read back as another type are
// quoted, and multi-line strings use literal blocks.
func Encode(n *Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(toYAML(n)); err != nil {
		return nil, fmt.Errorf("syntax: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("syntax: encode: %w", err)
	}
	return buf.Bytes(), nil
}

func toYAML(n *Node) *yaml.Node {
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	switch n.Kind {
	case Mapping:
		y := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, p := range n.Pairs {
			k := toYAML(p.Key)
			k.Style &^= yaml.LiteralStyle | yaml.FoldedStyle
			y.Content = append(y.Content, k, toYAML(p.Value))
		}
		return y
	case Sequence:
		y := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range n.Items {
			y.Content = append(y.Content, toYAML(item))
		}
		return y
	}
	y := &yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}
	switch n.Type {
	case Null:
		y.Tag, y.Value = "!!null", ""
		if n.Value != "" {
			y.Value = n.Value
		}
		return y
	case Bool:
		y.Tag = "!!bool"
		return y
	case Number:
		y.Tag = "!!float"
		if coreInt.MatchString(n.Value) {
			y.Tag = "!!int"
		}
		return y
	}
	y.Tag = "!!str"
	switch {
	case strings.Contains(n.Value, "\n") && printableBlock(n.Value):
		y.Style = yaml.LiteralStyle
	case n.Style == SingleQuoted:
		y.Style = yaml.SingleQuotedStyle
	case n.Style == DoubleQuoted:
		y.Style = yaml.DoubleQuotedStyle
	case Resolve(n.Value) != String:
		y.Style = yaml.SingleQuotedStyle
	}
	return y
}

// printableBlock reports whether s can be a literal block scalar: YAML literal blocks
// cannot carry trailing spaces on lines or most control characters faithfully.
func printableBlock(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
			return false
		}
	}
	for _, r := range s {
		if r < ' ' && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}
