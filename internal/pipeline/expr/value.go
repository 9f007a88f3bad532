package expr

import (
	"strings"
	"time"
)

// Kind is the type of a Value, named as Azure names it in error messages.
type Kind uint8

// The kinds of values. KindDateTime only comes from the caller (pipeline.startTime); there
// is no date literal.
const (
	KindNull Kind = iota
	KindBool
	KindNumber
	KindString
	KindVersion
	KindDateTime
	KindArray
	KindObject
)

var kindNames = [...]string{"Null", "Boolean", "Number", "String", "Version", "DateTime", "Array", "Object"}

// String returns Azure's name for the kind ("Boolean", "Number", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Unknown"
}

// Value is an expression value. The zero Value is null. Values are immutable once built:
// arrays and objects must not be modified after they are wrapped in a Value that an
// expression can see, so Values may be shared between goroutines.
type Value struct {
	kind Kind
	num  float64 // KindNumber; KindBool as 0 or 1
	str  string  // KindString
	ref  any     // *arrayData, *Object, Version, time.Time
}

type arrayData struct {
	items []Value
	// filtered marks the result of a `*` index: further indexing maps over the items.
	filtered bool
}

// Null returns the null value (same as the zero Value).
func Null() Value { return Value{} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, num: 1}
	}
	return Value{kind: KindBool}
}

// Number returns a number value.
func Number(f float64) Value { return Value{kind: KindNumber, num: f} }

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, str: s} }

// VersionValue returns a version value.
func VersionValue(v Version) Value { return Value{kind: KindVersion, ref: v} }

// DateTime returns a date-time value, as Azure exposes pipeline.startTime.
func DateTime(t time.Time) Value { return Value{kind: KindDateTime, ref: t} }

// Array returns an array value holding items. The caller must not modify items afterwards.
func Array(items ...Value) Value {
	return Value{kind: KindArray, ref: &arrayData{items: items}}
}

// ObjectValue returns an object value; a nil o gives an empty object. The caller must not
// modify o afterwards.
func ObjectValue(o *Object) Value {
	if o == nil {
		o = NewObject()
	}
	return Value{kind: KindObject, ref: o}
}

// Kind reports the value's type.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Items returns the elements of an array value, or nil for any other kind. The slice must
// not be modified.
func (v Value) Items() []Value {
	if a, ok := v.ref.(*arrayData); ok {
		return a.items
	}
	return nil
}

// Object returns the object of an object value, or nil for any other kind. It must not be
// modified.
func (v Value) Object() *Object {
	o, _ := v.ref.(*Object)
	return o
}

// Version returns the version of a version value (ok false for other kinds; see ToVersion
// for conversion).
func (v Value) Version() (Version, bool) {
	ver, ok := v.ref.(Version)
	return ver, ok
}

// Time returns the time of a date-time value.
func (v Value) Time() (time.Time, bool) {
	t, ok := v.ref.(time.Time)
	return t, ok
}

// ToBool converts v to a boolean with Azure's rules: null, false, 0 and ” are false;
// every other value (including any version, date, array or object) is true.
func (v Value) ToBool() bool {
	switch v.kind {
	case KindNull:
		return false
	case KindBool, KindNumber:
		return v.num != 0
	case KindString:
		return v.str != ""
	default:
		return true
	}
}

// ToNumber converts v to a number with Azure's rules: null and ” are 0, booleans 0/1,
// strings are parsed with invariant culture (sign, thousands separators, decimal point and
// surrounding white space allowed; no exponent). ok is false when no conversion exists.
func (v Value) ToNumber() (f float64, ok bool) {
	switch v.kind {
	case KindNull:
		return 0, true
	case KindBool, KindNumber:
		return v.num, true
	case KindString:
		if v.str == "" {
			return 0, true
		}
		return parseNumber(v.str)
	default:
		return 0, false
	}
}

// ToString converts v to a string as Azure prints values: null is ”, booleans are
// "True"/"False", numbers have no exponent, no thousands separator and at most seven
// decimals, versions print their components, dates print as "yyyy-MM-dd HH:mm:ss+hh:mm".
// Arrays and objects have no string form (ok false).
func (v Value) ToString() (s string, ok bool) {
	switch v.kind {
	case KindNull:
		return "", true
	case KindBool:
		if v.num != 0 {
			return "True", true
		}
		return "False", true
	case KindNumber:
		return formatNumber(v.num), true
	case KindString:
		return v.str, true
	case KindVersion:
		return v.ref.(Version).String(), true
	case KindDateTime:
		return formatDateTimeDefault(v.ref.(time.Time)), true
	default:
		return "", false
	}
}

// ToVersion converts v to a version: versions as they are, strings and numbers parsed
// (at least major.minor). ok is false otherwise.
func (v Value) ToVersion() (Version, bool) {
	switch v.kind {
	case KindVersion:
		return v.ref.(Version), true
	case KindString:
		return ParseVersion(v.str)
	case KindNumber:
		return ParseVersion(formatNumber(v.num))
	default:
		return Version{}, false
	}
}

// ToDateTime converts v to a date-time: dates as they are, strings in the form
// "yyyy-MM-dd HH:mm:ss[.fffffff][Z|±hh:mm]" ('/' and 'T' also accepted; no offset means UTC).
func (v Value) ToDateTime() (time.Time, bool) {
	switch v.kind {
	case KindDateTime:
		return v.ref.(time.Time), true
	case KindString:
		return parseDateTime(v.str)
	default:
		return time.Time{}, false
	}
}

// isNullLike reports whether v converts to null (null itself or the empty string).
func (v Value) isNullLike() bool {
	return v.kind == KindNull || (v.kind == KindString && v.str == "")
}

// String returns v for display: the ToString form for scalars and compact JSON for arrays
// and objects. It never fails, so it suits logs and test output; use ToString where Azure's
// conversion rules apply.
func (v Value) String() string {
	if s, ok := v.ToString(); ok {
		return s
	}
	var b strings.Builder
	writeJSON(&b, v, "", 0)
	return b.String()
}

// Equal reports whether v and w are equal under Azure's eq(): w is converted to v's kind
// (false when that fails); strings compare ordinally ignoring case; arrays and objects are
// equal only to themselves.
func (v Value) Equal(w Value) bool {
	switch v.kind {
	case KindBool:
		return v.ToBool() == w.ToBool()
	case KindNumber:
		f, ok := w.ToNumber()
		return ok && v.num == f
	case KindString:
		s, ok := w.ToString()
		return ok && equalFold(v.str, s)
	case KindVersion:
		ver, ok := w.ToVersion()
		return ok && v.ref.(Version).Compare(ver) == 0
	case KindDateTime:
		t, ok := w.ToDateTime()
		return ok && v.ref.(time.Time).Equal(t)
	case KindArray, KindObject:
		return v.kind == w.kind && v.ref == w.ref
	default: // null
		return w.isNullLike()
	}
}

// Compare orders v and w as Azure's gt/ge/lt/le do: w is converted to v's kind, strings
// compare ordinally ignoring case, and a null v compares as the number 0. It fails when a
// conversion fails; the error names the kinds but never the values, which may be secret.
func (v Value) Compare(w Value) (int, error) {
	switch v.kind {
	case KindBool:
		return cmpFloat(v.num, boolNum(w.ToBool())), nil
	case KindNumber:
		f, ok := w.ToNumber()
		if !ok {
			return 0, convError(w.kind, KindNumber)
		}
		return cmpFloat(v.num, f), nil
	case KindString:
		s, ok := w.ToString()
		if !ok {
			return 0, convError(w.kind, KindString)
		}
		return compareFold(v.str, s), nil
	case KindVersion:
		ver, ok := w.ToVersion()
		if !ok {
			return 0, convError(w.kind, KindVersion)
		}
		return v.ref.(Version).Compare(ver), nil
	case KindDateTime:
		t, ok := w.ToDateTime()
		if !ok {
			return 0, convError(w.kind, KindDateTime)
		}
		return v.ref.(time.Time).Compare(t), nil
	case KindNull:
		f, ok := w.ToNumber()
		if !ok {
			return 0, convError(w.kind, KindNumber)
		}
		return cmpFloat(0, f), nil
	default:
		return 0, convError(v.kind, KindNumber)
	}
}

func boolNum(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	// NaN: .NET orders NaN below every number.
	switch {
	case a != a && b != b:
		return 0
	case a != a:
		return -1
	default:
		return 1
	}
}
