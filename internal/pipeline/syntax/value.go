package syntax

import (
	"math"
	"strconv"
	"strings"

	"github.com/keystage/keystage/internal/pipeline/expr"
)

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
