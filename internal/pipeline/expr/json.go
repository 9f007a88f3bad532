package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// writeJSON writes v as JSON the way convertToJson prints it: with indent "" compact,
// otherwise one member per line. Numbers print as ToString does, versions and dates as
// strings, and only '"', '\\' and control characters are escaped. It stops and returns
// false once b grows past limit (limit 0 means no limit).
func writeJSON(b *strings.Builder, v Value, indent string, limit int) bool {
	return jsonValue(b, v, indent, 0, limit)
}

func jsonValue(b *strings.Builder, v Value, indent string, depth, limit int) bool {
	if limit > 0 && b.Len() > limit {
		return false
	}
	switch v.kind {
	case KindNull:
		b.WriteString("null")
	case KindBool:
		if v.num != 0 {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case KindNumber:
		if math.IsInf(v.num, 0) || math.IsNaN(v.num) {
			jsonString(b, formatNumber(v.num)) // JSON has no literal for these
		} else {
			b.WriteString(formatNumber(v.num))
		}
	case KindArray:
		items := v.ref.(*arrayData).items
		if len(items) == 0 {
			b.WriteString("[]")
			return true
		}
		b.WriteByte('[')
		for i, item := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			newline(b, indent, depth+1)
			if !jsonValue(b, item, indent, depth+1, limit) {
				return false
			}
		}
		newline(b, indent, depth)
		b.WriteByte(']')
	case KindObject:
		o := v.ref.(*Object)
		if o.Len() == 0 {
			b.WriteString("{}")
			return true
		}
		b.WriteByte('{')
		for i, k := range o.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			newline(b, indent, depth+1)
			jsonString(b, k)
			b.WriteByte(':')
			if indent != "" {
				b.WriteByte(' ')
			}
			if !jsonValue(b, o.vals[i], indent, depth+1, limit) {
				return false
			}
		}
		newline(b, indent, depth)
		b.WriteByte('}')
	default:
		s, _ := v.ToString()
		jsonString(b, s)
	}
	return limit <= 0 || b.Len() <= limit
}

func newline(b *strings.Builder, indent string, depth int) {
	if indent == "" {
		return
	}
	b.WriteByte('\n')
	for range depth {
		b.WriteString(indent)
	}
}

func jsonString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b.WriteString(`\ufffd`)
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
			continue
		}
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
		i++
	}
	b.WriteByte('"')
}

// MarshalJSON encodes v compactly (see convertToJson for the rules).
func (v Value) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	writeJSON(&b, v, "", 0)
	return []byte(b.String()), nil
}

// UnmarshalJSON decodes JSON into v, keeping object key order; numbers become floats.
func (v *Value) UnmarshalJSON(data []byte) error {
	got, err := ParseJSON(data)
	if err != nil {
		return err
	}
	*v = got
	return nil
}

// ParseJSON decodes one JSON document into a Value, keeping object key order, as Azure
// reads a runtime `strategy.matrix` or an output variable holding JSON.
func ParseJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeJSON(dec, 0)
	if err != nil {
		return Value{}, fmt.Errorf("expr: parse JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Value{}, errors.New("expr: parse JSON: unexpected data after the value")
	}
	return v, nil
}

const maxJSONDepth = 1000

func decodeJSON(dec *json.Decoder, depth int) (Value, error) {
	if depth > maxJSONDepth {
		return Value{}, errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return Value{}, err
	}
	switch t := tok.(type) {
	case nil:
		return Null(), nil
	case bool:
		return Bool(t), nil
	case string:
		return String(t), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !isRangeErr(err) {
			return Value{}, err
		}
		return Number(f), nil
	case json.Delim:
		switch t {
		case '[':
			var items []Value
			for dec.More() {
				item, err := decodeJSON(dec, depth+1)
				if err != nil {
					return Value{}, err
				}
				items = append(items, item)
			}
			if _, err := dec.Token(); err != nil {
				return Value{}, err
			}
			return Array(items...), nil
		case '{':
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return Value{}, err
				}
				k, _ := kt.(string)
				val, err := decodeJSON(dec, depth+1)
				if err != nil {
					return Value{}, err
				}
				o.Set(k, val)
			}
			if _, err := dec.Token(); err != nil {
				return Value{}, err
			}
			return ObjectValue(o), nil
		}
	}
	return Value{}, fmt.Errorf("unexpected token %v", tok)
}
