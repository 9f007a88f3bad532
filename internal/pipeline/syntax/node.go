// Package syntax owns the positioned YAML tree of Azure Pipelines files: parsing, emitting,
// diagnostics, and validation against the Azure Pipelines YAML schema.
package syntax

import (
	"math"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
	"github.com/keystage/keystage/internal/pipeline/plan"
)

// Kind is the shape of a Node.
type Kind uint8

// The three node kinds of a pipeline document.
const (
	Scalar Kind = iota + 1
	Mapping
	Sequence
)

func (k Kind) String() string {
	switch k {
	case Scalar:
		return "scalar"
	case Mapping:
		return "mapping"
	case Sequence:
		return "sequence"
	}
	return "invalid"
}

// Type is the type a scalar resolves to. Plain scalars resolve by the YAML 1.2 core schema
// (as Azure's reader does); quoted and block scalars are always strings.
type Type uint8

// Scalar types.
const (
	String Type = iota
	Null
	Bool
	Number
)

// Style records how a scalar was written, so emitted YAML stays close to the source.
type Style uint8

// Scalar styles.
const (
	Plain Style = iota
	SingleQuoted
	DoubleQuoted
	Literal
	Folded
)

// Node is one value of a pipeline document. Nodes are treated as immutable once built:
// transformations return new nodes and may share unchanged subtrees.
type Node struct {
	Kind Kind
	// Value is the text of a scalar.
	Value string
	// Type is the resolved type of a scalar.
	Type  Type
	Style Style
	// Pairs are the entries of a mapping, in file order.
	Pairs []Pair
	// Items are the entries of a sequence.
	Items []*Node
	// Pos is where the node starts in its source file.
	Pos plan.Pos
}

// Pair is one mapping entry. Keys are always scalars.
type Pair struct {
	Key   *Node
	Value *Node
}

// NewString returns a string scalar at pos.
func NewString(s string, pos plan.Pos) *Node {
	return &Node{Kind: Scalar, Value: s, Type: String, Pos: pos}
}

// NewScalar returns a scalar of type t at pos.
func NewScalar(s string, t Type, pos plan.Pos) *Node {
	return &Node{Kind: Scalar, Value: s, Type: t, Pos: pos}
}

// NewMapping returns a mapping holding pairs at pos.
func NewMapping(pos plan.Pos, pairs ...Pair) *Node {
	return &Node{Kind: Mapping, Pairs: pairs, Pos: pos}
}

// NewSequence returns a sequence holding items at pos.
func NewSequence(pos plan.Pos, items ...*Node) *Node {
	return &Node{Kind: Sequence, Items: items, Pos: pos}
}

// Get returns the value of the first pair whose key is exactly key, or nil. It is nil-safe
// and returns nil for non-mappings.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != Mapping {
		return nil
	}
	for _, p := range n.Pairs {
		if p.Key.Value == key {
			return p.Value
		}
	}
	return nil
}

// Lookup is Get that also returns the key node, for positions.
func (n *Node) Lookup(key string) (k, v *Node) {
	if n == nil || n.Kind != Mapping {
		return nil, nil
	}
	for _, p := range n.Pairs {
		if p.Key.Value == key {
			return p.Key, p.Value
		}
	}
	return nil, nil
}

// FirstKey returns the first key of a mapping, or "" for anything else.
func (n *Node) FirstKey() string {
	if n == nil || n.Kind != Mapping || len(n.Pairs) == 0 {
		return ""
	}
	return n.Pairs[0].Key.Value
}

// IsDirectiveItem reports whether a sequence item splices items into its sequence: a
// non-empty mapping whose every key is a `${{ }}` directive with a sequence or an
// expression as its body (`- ${{ if cond }}:` followed by items).
func (n *Node) IsDirectiveItem() bool {
	if n == nil || n.Kind != Mapping || len(n.Pairs) == 0 {
		return false
	}
	for _, p := range n.Pairs {
		if _, ok, _ := expr.ParseDirective(p.Key.Value, expr.Options{}); !ok || p.Value.Kind == Mapping {
			return false
		}
	}
	return true
}

// IsNull reports whether n is missing or a null scalar.
func (n *Node) IsNull() bool {
	return n == nil || (n.Kind == Scalar && n.Type == Null)
}

// Text returns a scalar's value, and "" for null or non-scalars.
func (n *Node) Text() string {
	if n == nil || n.Kind != Scalar || n.Type == Null {
		return ""
	}
	return n.Value
}

// HasExpr reports whether the scalar contains a `${{` template expression.
func (n *Node) HasExpr() bool {
	return n != nil && n.Kind == Scalar && n.Type == String && strings.Contains(n.Value, "${{")
}

// ScalarValue returns the typed expression value of a scalar: strings, booleans, numbers
// (decimal, 0x, 0o, floats, .inf, .nan) and null. Non-scalars give null.
func (n *Node) ScalarValue() expr.Value {
	if n == nil || n.Kind != Scalar {
		return expr.Null()
	}
	switch n.Type {
	case Null:
		return expr.Null()
	case Bool:
		return expr.Bool(strings.EqualFold(n.Value, "true"))
	case Number:
		return expr.Number(parseNumber(n.Value))
	}
	return expr.String(n.Value)
}

func parseNumber(s string) float64 {
	switch strings.TrimLeft(s, "+-") {
	case ".inf", ".Inf", ".INF":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1)
		}
		return math.Inf(1)
	case ".nan", ".NaN", ".NAN":
		return math.NaN()
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i)
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// StringValue returns a scalar as the text Azure hands to tasks and variables: strings as
// written, booleans as "true"/"false", numbers in Azure's canonical form (so an unquoted
// `3.10` is "3.1", as on Azure), null as "". Non-scalars give "".
func (n *Node) StringValue() string {
	if n == nil || n.Kind != Scalar {
		return ""
	}
	switch n.Type {
	case Null:
		return ""
	case Bool:
		return strings.ToLower(n.Value)
	case Number:
		s, _ := n.ScalarValue().ToString()
		return s
	}
	return n.Value
}
