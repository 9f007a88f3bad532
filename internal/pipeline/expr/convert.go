package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// convError is the failure of a conversion between kinds. Azure adds "Value: x", which we
// leave out because the value may be a secret.
func convError(from, to Kind) error {
	return fmt.Errorf("Unable to convert from %s to %s.", from, to) //nolint:staticcheck // Azure's wording
}

// isDotNetSpace reports the white space .NET number parsing skips (U+0009–U+000D, U+0020).
func isDotNetSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// parseNumber parses s as .NET Double.TryParse does with AllowLeadingWhite |
// AllowTrailingWhite | AllowLeadingSign | AllowThousands | AllowDecimalPoint and the
// invariant culture: no exponent, no currency, "," allowed between integer digits.
func parseNumber(s string) (float64, bool) {
	i, j := 0, len(s)
	for i < j && isDotNetSpace(s[i]) {
		i++
	}
	for j > i && isDotNetSpace(s[j-1]) {
		j--
	}
	s = s[i:j]
	var b strings.Builder
	if s != "" && (s[0] == '-' || s[0] == '+') {
		if s[0] == '-' {
			b.WriteByte('-')
		}
		s = s[1:]
	}
	digits, sawPoint := 0, false
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
			digits++
		case c == ',' && !sawPoint && digits > 0:
			// thousands separator: ignored
		case c == '.' && !sawPoint:
			sawPoint = true
			b.WriteByte('.')
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(b.String(), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true // .NET Core returns ±Infinity on overflow; so does ParseFloat
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// maxDecimal is System.Decimal's largest value: number literals beyond it do not parse.
const maxDecimal = 79228162514264337593543950335.0

// parseNumberLiteral parses a number token as .NET Decimal.TryParse does with
// AllowLeadingSign | AllowDecimalPoint: [+-] digits [. digits], or [+-] . digits.
func parseNumberLiteral(s string) (float64, bool) {
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		body = body[1:]
	}
	digits, point := 0, false
	for k := 0; k < len(body); k++ {
		c := body[k]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point:
			point = true
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(s, "+"), 64)
	if err != nil || math.Abs(f) > maxDecimal {
		return 0, false
	}
	return f, true
}

// formatNumber prints f as .NET's f.ToString("0.#######", InvariantCulture): rounded to
// 15 significant digits, then to at most 7 decimals, no exponent, no trailing zeros.
func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	// 15 significant digits, as .NET uses for custom formats of doubles.
	e := strconv.FormatFloat(f, 'e', 14, 64) // [-]d.ddddddddddddddde±xx
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := []byte(strings.Replace(mant, ".", "", 1)) // 15 digits, value = 0.digits * 10^(exp+1)
	point := exp + 1                                    // digits before the decimal point
	// Pad so that digits covers the integer part and 8 fractional places.
	if point < 0 {
		digits = append([]byte(strings.Repeat("0", -point)), digits...)
		point = 0
	}
	for len(digits) < point+8 {
		digits = append(digits, '0')
	}
	// Round half away from zero at 7 decimals.
	keep := point + 7
	if digits[keep] >= '5' {
		k := keep - 1
		for ; k >= 0; k-- {
			if digits[k] == '9' {
				digits[k] = '0'
				continue
			}
			digits[k]++
			break
		}
		if k < 0 {
			digits = append([]byte{'1'}, digits...)
			point++
			keep++
		}
	}
	digits = digits[:keep]
	intPart := strings.TrimLeft(string(digits[:point]), "0")
	if intPart == "" {
		intPart = "0"
	}
	frac := strings.TrimRight(string(digits[point:]), "0")
	var b strings.Builder
	if neg && (intPart != "0" || frac != "") {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// foldRune maps r as .NET's ordinal ignore-case comparison does (upper-casing).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	return unicode.ToUpper(r)
}

// fold returns the key under which s is stored in case-insensitive dictionaries.
func fold(s string) string {
	ascii := true
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'a' <= c && c <= 'z' {
			upper = false
		}
	}
	if ascii {
		if upper {
			return s
		}
		b := []byte(s)
		for i, c := range b {
			if 'a' <= c && c <= 'z' {
				b[i] = c - ('a' - 'A')
			}
		}
		return string(b)
	}
	return strings.Map(foldRune, s)
}

// equalFold compares ordinally ignoring case.
func equalFold(a, b string) bool { return compareFold(a, b) == 0 }

// compareFold orders a and b ordinally after upper-casing each character.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		var ra, rb rune
		if a[0] < utf8.RuneSelf {
			ra, a = rune(a[0]), a[1:]
		} else {
			var n int
			ra, n = utf8.DecodeRuneInString(a)
			a = a[n:]
		}
		if b[0] < utf8.RuneSelf {
			rb, b = rune(b[0]), b[1:]
		} else {
			var n int
			rb, n = utf8.DecodeRuneInString(b)
			b = b[n:]
		}
		if ra == rb {
			continue
		}
		fa, fb := foldRune(ra), foldRune(rb)
		if fa != fb {
			if fa < fb {
				return -1
			}
			return 1
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// indexFold returns the byte index of the first match of sub in s ignoring case, or -1.
func indexFold(s, sub string) int {
	if sub == "" {
		return 0
	}
	if isASCII(s) && isASCII(sub) {
		// Upper-casing ASCII keeps byte offsets, so the fast substring search applies.
		return strings.Index(fold(s), fold(sub))
	}
	for i := 0; i < len(s); {
		if n := prefixFoldLen(s[i:], sub); n >= 0 {
			return i
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return -1
}

// prefixFoldLen reports how many bytes of s match prefix ignoring case, or -1.
func prefixFoldLen(s, prefix string) int {
	n := 0
	for prefix != "" {
		if s == "" {
			return -1
		}
		rs, ns := utf8.DecodeRuneInString(s)
		rp, np := utf8.DecodeRuneInString(prefix)
		if rs != rp && foldRune(rs) != foldRune(rp) {
			return -1
		}
		s, prefix = s[ns:], prefix[np:]
		n += ns
	}
	return n
}

// hasSuffixFold reports whether s ends with suffix ignoring case.
func hasSuffixFold(s, suffix string) bool {
	// Compare rune by rune from the end.
	for suffix != "" {
		if s == "" {
			return false
		}
		rs, ns := utf8.DecodeLastRuneInString(s)
		rp, np := utf8.DecodeLastRuneInString(suffix)
		if rs != rp && foldRune(rs) != foldRune(rp) {
			return false
		}
		s, suffix = s[:len(s)-ns], suffix[:len(suffix)-np]
	}
	return true
}

// formatDateTimeDefault prints t as Azure converts dates to strings: yyyy-MM-dd HH:mm:sszzz.
func formatDateTimeDefault(t time.Time) string {
	return t.Format("2006-01-02 15:04:05-07:00")
}

// parseDateTime reads "yyyy-MM-dd HH:mm:ss" ('/' may replace '-', 'T' the space), an
// optional fraction of up to 7 digits, and an optional "Z" or "±h:mm" offset. Without an
// offset the time is taken as UTC (Azure uses the server's zone, which is UTC).
func parseDateTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	i := 0
	num := func(minLen, maxLen int) (int, bool) {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n := i - start
		if n < minLen || n > maxLen {
			return 0, false
		}
		v, _ := strconv.Atoi(s[start:i])
		return v, true
	}
	sep := func(allowed string) (byte, bool) {
		if i < len(s) && strings.IndexByte(allowed, s[i]) >= 0 {
			i++
			return s[i-1], true
		}
		return 0, false
	}
	year, ok := num(4, 4)
	if !ok {
		return time.Time{}, false
	}
	dateSep, ok := sep("-/")
	if !ok {
		return time.Time{}, false
	}
	month, ok1 := num(1, 2)
	_, ok2 := sep(string(dateSep))
	day, ok3 := num(1, 2)
	_, ok4 := sep(" T")
	hour, ok5 := num(1, 2)
	_, ok6 := sep(":")
	minute, ok7 := num(1, 2)
	_, ok8 := sep(":")
	second, ok9 := num(1, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && ok9) {
		return time.Time{}, false
	}
	nanos := 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac := s[start:i]
		if len(frac) < 1 || len(frac) > 7 {
			return time.Time{}, false
		}
		frac += strings.Repeat("0", 9-len(frac))
		nanos, _ = strconv.Atoi(frac)
	}
	loc := time.UTC
	if i < len(s) {
		switch s[i] {
		case 'Z':
			i++
		case '+', '-':
			neg := s[i] == '-'
			i++
			oh, ok1 := num(1, 2)
			_, ok2 := sep(":")
			om, ok3 := num(1, 2)
			if !(ok1 && ok2 && ok3) {
				return time.Time{}, false
			}
			off := oh*3600 + om*60
			if neg {
				off = -off
			}
			loc = time.FixedZone("", off)
		default:
			return time.Time{}, false
		}
		if i < len(s) {
			return time.Time{}, false
		}
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, nanos, loc)
	if t.Day() != day { // e.g. February 30th
		return time.Time{}, false
	}
	return t, true
}
