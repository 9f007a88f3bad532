package syntax

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

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
