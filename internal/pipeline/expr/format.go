package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// fnFormat implements format(fmt, args...): `{N}` inserts argument N converted to a
// string, `{N:spec}` formats a date-time argument with .NET custom specifiers, and `{{`
// `}}` are literal braces. Arguments are evaluated only when referenced, once each.
func fnFormat(st *evalState, args []node) (Value, error) {
	format, err := evalString(st, args[0])
	if err != nil {
		return Value{}, err
	}
	cache := make([]*Value, len(args)-1)
	arg := func(i int) (Value, error) {
		if cache[i] == nil {
			v, err := args[i+1].eval(st)
			if err != nil {
				return Value{}, err
			}
			cache[i] = &v
		}
		return *cache[i], nil
	}
	invalid := func() error {
		return fmt.Errorf("The following format string is invalid: %s", format) //nolint:staticcheck // Azure's wording
	}
	var b strings.Builder
	i := 0
	for i < len(format) {
		lb := strings.IndexByte(format[i:], '{')
		rb := strings.IndexByte(format[i:], '}')
		if lb >= 0 {
			lb += i
		}
		if rb >= 0 {
			rb += i
		}
		switch {
		case lb >= 0 && (rb < 0 || rb > lb):
			if lb+1 < len(format) && format[lb+1] == '{' { // escaped {
				b.WriteString(format[i : lb+1])
				i = lb + 2
				continue
			}
			argIndex, specs, end, ok := readPlaceholder(format, lb+1)
			if !ok {
				return Value{}, invalid()
			}
			if argIndex > len(args)-2 {
				return Value{}, fmt.Errorf("The following format string references more arguments than were supplied: %s", format) //nolint:staticcheck // Azure's wording
			}
			b.WriteString(format[i:lb])
			v, err := arg(argIndex)
			if err != nil {
				return Value{}, err
			}
			if err := appendFormatted(&b, v, specs); err != nil {
				return Value{}, err
			}
			i = end + 1
		case rb >= 0:
			if rb+1 < len(format) && format[rb+1] == '}' { // escaped }
				b.WriteString(format[i : rb+1])
				i = rb + 2
				continue
			}
			return Value{}, invalid()
		default:
			b.WriteString(format[i:])
			i = len(format)
		}
		if b.Len() > maxResultLen {
			return Value{}, st.memoryError()
		}
	}
	if b.Len() > maxResultLen {
		return Value{}, st.memoryError()
	}
	return String(b.String()), nil
}

// readPlaceholder reads "N}" or "N:specs}" starting after '{'. It returns the argument
// index (0-255, as .NET reads it into a byte), the specifiers with `}}` unescaped, and the
// index of the closing brace.
func readPlaceholder(s string, start int) (argIndex int, specs string, end int, ok bool) {
	i := start
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0, "", 0, false
	}
	n, err := strconv.Atoi(s[start:i])
	if err != nil || n > 255 {
		return 0, "", 0, false
	}
	if i >= len(s) {
		return 0, "", 0, false
	}
	if s[i] == '}' {
		return n, "", i, true
	}
	if s[i] != ':' {
		return 0, "", 0, false
	}
	var b strings.Builder
	for i++; i < len(s); i++ {
		if s[i] != '}' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '}' {
			b.WriteByte('}')
			i++
			continue
		}
		return n, b.String(), i, true
	}
	return 0, "", 0, false
}

func appendFormatted(b *strings.Builder, v Value, specs string) error {
	if specs == "" {
		s, ok := v.ToString()
		if !ok {
			return convError(v.kind, KindString)
		}
		b.WriteString(s)
		return nil
	}
	t, ok := v.Time()
	if !ok {
		return fmt.Errorf("The format specifiers '%s' are not valid for objects of type '%s'", specs, v.kind) //nolint:staticcheck // Azure's wording
	}
	return formatDateTime(b, t, specs)
}

// formatDateTime applies the .NET custom date specifiers Azure supports: yyyy yy MM M dd d
// HH H mm m ss s f..fffffff zzz K, `\x` for a literal character and runs of spaces.
func formatDateTime(b *strings.Builder, t time.Time, specs string) error {
	invalid := func() error {
		return fmt.Errorf("The format specifiers '%s' are not valid for objects of type '%s'", specs, KindDateTime) //nolint:staticcheck // Azure's wording
	}
	for i := 0; i < len(specs); {
		c := specs[i]
		if c == '\\' {
			if i+1 >= len(specs) {
				return invalid()
			}
			b.WriteByte(specs[i+1])
			i += 2
			continue
		}
		j := i + 1
		for j < len(specs) && specs[j] == c {
			j++
		}
		spec := specs[i:j]
		i = j
		switch spec {
		case "yyyy":
			fmt.Fprintf(b, "%04d", t.Year())
		case "yy":
			fmt.Fprintf(b, "%02d", t.Year()%100)
		case "MM":
			fmt.Fprintf(b, "%02d", int(t.Month()))
		case "M":
			b.WriteString(strconv.Itoa(int(t.Month())))
		case "dd":
			fmt.Fprintf(b, "%02d", t.Day())
		case "d":
			b.WriteString(strconv.Itoa(t.Day()))
		case "HH":
			fmt.Fprintf(b, "%02d", t.Hour())
		case "H":
			b.WriteString(strconv.Itoa(t.Hour()))
		case "mm":
			fmt.Fprintf(b, "%02d", t.Minute())
		case "m":
			b.WriteString(strconv.Itoa(t.Minute()))
		case "ss":
			fmt.Fprintf(b, "%02d", t.Second())
		case "s":
			b.WriteString(strconv.Itoa(t.Second()))
		case "f", "ff", "fff", "ffff", "fffff", "ffffff", "fffffff":
			frac := fmt.Sprintf("%09d", t.Nanosecond())
			b.WriteString(frac[:len(spec)])
		case "zzz", "K":
			b.WriteString(t.Format("-07:00"))
		default:
			if c == ' ' {
				b.WriteString(spec)
				continue
			}
			return invalid()
		}
	}
	return nil
}
