package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	jmespath "github.com/jmespath-community/go-jmespath"
	"go.yaml.in/yaml/v3"
)

// Output formats, as az's --output/-o.
const (
	outJSON  = "json"
	outJSONC = "jsonc"
	outTable = "table"
	outTSV   = "tsv"
	outYAML  = "yaml"
	outYAMLC = "yamlc"
	outNone  = "none"
)

var outputFormats = []string{outJSON, outJSONC, outNone, outTable, outTSV, outYAML, outYAMLC}

// tableFunc reshapes a command's result for -o table when no --query is given, as az's
// per-command table transformers do (e.g. `group list` shows Name, Location, Status).
type tableFunc func(v any) any

// render writes v as az writes a command result: --query (JMESPath) applied first, then the
// format. A nil result prints nothing in every format, as az does for delete commands.
func render(w io.Writer, v any, format, query string, table tableFunc) error {
	queried := query != ""
	if queried {
		expr, err := jmespath.Compile(query)
		if err != nil {
			return usageErrorf("argument --query: invalid jmespath_type value: %q", query)
		}
		if v, err = expr.Search(v); err != nil {
			return fmt.Errorf("--query %q: %w", query, err)
		}
	}
	if v == nil && format != outTSV {
		return nil
	}
	var out []byte
	var err error
	switch format {
	case outJSON, "":
		out, err = formatJSON(v)
	case outJSONC:
		out, err = formatJSONC(v)
	case outYAML, outYAMLC:
		out, err = formatYAML(v)
	case outTable:
		if table != nil && !queried {
			v = table(v)
		}
		out, err = formatTable(v, !queried && table == nil)
	case outTSV:
		out = formatTSV(v)
	case outNone:
		return nil
	default:
		return usageErrorf("argument --output/-o: invalid choice: %q (choose from %s)", format, strings.Join(quoteAll(outputFormats), ", "))
	}
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// formatJSON is az's json output: two-space indent, keys sorted, non-ASCII kept as is.
func formatJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return buf.Bytes(), nil
}

// ANSI colours of jsonc, close to the palette az's pygments formatter uses.
const (
	colorKey    = "\x1b[94m"
	colorString = "\x1b[32m"
	colorNumber = "\x1b[36m"
	colorLit    = "\x1b[95m"
	colorReset  = "\x1b[0m"
)

// formatJSONC is json with ANSI colours for keys, strings, numbers and literals.
func formatJSONC(v any) ([]byte, error) {
	plain, err := formatJSON(v)
	if err != nil {
		return nil, err
	}
	// Colour each token of the indented text, so indentation stays exactly as in json.
	var out bytes.Buffer
	i := 0
	for i < len(plain) {
		c := plain[i]
		switch {
		case c == '"':
			j := endOfString(plain, i)
			tok := plain[i:j]
			k := j
			for k < len(plain) && plain[k] == ' ' {
				k++
			}
			if k < len(plain) && plain[k] == ':' {
				out.WriteString(colorKey)
			} else {
				out.WriteString(colorString)
			}
			out.Write(tok)
			out.WriteString(colorReset)
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(plain) && strings.IndexByte("+-0123456789.eE", plain[j]) >= 0 {
				j++
			}
			out.WriteString(colorNumber)
			out.Write(plain[i:j])
			out.WriteString(colorReset)
			i = j
		case c == 't' || c == 'f' || c == 'n':
			j := i
			for j < len(plain) && plain[j] >= 'a' && plain[j] <= 'z' {
				j++
			}
			out.WriteString(colorLit)
			out.Write(plain[i:j])
			out.WriteString(colorReset)
			i = j
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.Bytes(), nil
}

// endOfString returns the index just past the JSON string starting at b[i] == '"'.
func endOfString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// formatYAML is az's yaml output: block style, keys sorted.
func formatYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return buf.Bytes(), nil
}

// formatTable is az's automatic table: one row per object (or one for a single object),
// one column per top-level scalar field, nested objects and lists and the id, type and
// etag fields left out, column names with their first letter upper-cased. Columns are
// sorted by name unless a --query or a command's table shape decided the order.
func formatTable(v any, sortKeys bool) ([]byte, error) {
	var rows []any
	if list, ok := v.([]any); ok {
		rows = list
	} else {
		rows = []any{v}
	}
	var headers []string
	seen := map[string]bool{}
	var cells []map[string]string
	for _, r := range rows {
		row := tableRow(r, sortKeys)
		m := map[string]string{}
		for _, c := range row {
			if !seen[c.name] {
				seen[c.name] = true
				headers = append(headers, c.name)
			}
			m[c.name] = c.value
		}
		cells = append(cells, m)
	}
	if len(headers) == 0 {
		if len(rows) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("output: unable to extract fields for table; use --query to select them or another --output")
	}
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = len([]rune(h))
		for _, m := range cells {
			if n := len([]rune(m[h])); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var b strings.Builder
	// Cells are padded to the column width; unlike tabulate, lines carry no trailing
	// blanks, so output compares cleanly in scripts.
	line := func(vals []string) {
		var l strings.Builder
		for i, s := range vals {
			if i > 0 {
				l.WriteString("  ")
			}
			l.WriteString(s)
			l.WriteString(strings.Repeat(" ", widths[i]-len([]rune(s))))
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	line(headers)
	dashes := make([]string, len(headers))
	for i, w := range widths {
		dashes[i] = strings.Repeat("-", w)
	}
	line(dashes)
	for _, m := range cells {
		vals := make([]string, len(headers))
		for i, h := range headers {
			vals[i] = m[h]
		}
		line(vals)
	}
	return []byte(b.String()), nil
}

type tableCell struct{ name, value string }

var tableSkipKeys = map[string]bool{"id": true, "type": true, "etag": true}

func tableRow(r any, sortKeys bool) []tableCell {
	switch x := r.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []tableCell
		for _, k := range keys {
			if tableSkipKeys[k] || x[k] == nil {
				continue
			}
			switch x[k].(type) {
			case map[string]any, []any:
				continue
			}
			out = append(out, tableCell{capitalize(k), scalarText(x[k])})
		}
		return out
	case orderedRow:
		var out []tableCell
		for _, c := range x {
			if c.value == nil {
				out = append(out, tableCell{c.name, ""})
				continue
			}
			switch c.value.(type) {
			case map[string]any, []any:
				continue
			}
			out = append(out, tableCell{c.name, scalarText(c.value)})
		}
		return out
	case []any:
		var out []tableCell
		for i, c := range x {
			out = append(out, tableCell{"Column" + strconv.Itoa(i+1), scalarText(c)})
		}
		return out
	case nil:
		return nil
	default:
		return []tableCell{{"Result", scalarText(x)}}
	}
}

// orderedRow is a table row whose columns keep the order a command's table shape gives.
type orderedRow []orderedCell

type orderedCell struct {
	name  string
	value any
}

// MarshalJSON lets an orderedRow pass through --query-less json output unchanged in
// meaning (used only when a table shape is rendered in another format by mistake).
func (r orderedRow) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r))
	for _, c := range r {
		m[c.name] = c.value
	}
	return json.Marshal(m)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// scalarText renders a scalar as Python's str() would for az's table and tsv output.
func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// formatTSV is az's tsv output: one line per element of a list result (or one for a
// single result); an object's values in key order separated by tabs, where a nested list
// prints as its length and a nested object as nothing; a bare boolean prints in lower case.
func formatTSV(v any) []byte {
	rows, ok := v.([]any)
	if !ok {
		rows = []any{v}
	}
	var b strings.Builder
	for _, r := range rows {
		switch x := r.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for i, k := range keys {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvCell(x[k]))
			}
		case []any:
			for i, c := range x {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvCell(c))
			}
		case bool:
			b.WriteString(strconv.FormatBool(x))
		default:
			b.WriteString(tsvCell(x))
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func tsvCell(v any) string {
	switch x := v.(type) {
	case []any:
		return strconv.Itoa(len(x))
	case map[string]any:
		return ""
	}
	return scalarText(v)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + s + "'"
	}
	return out
}
