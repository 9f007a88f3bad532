package expr

import (
	"math"
	"strings"
	"testing"
	"time"
)

func mustObject(t testing.TB, kv ...any) Value {
	t.Helper()
	o := NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		v, err := FromGo(kv[i+1])
		if err != nil {
			t.Fatal(err)
		}
		o.Set(kv[i].(string), v)
	}
	return ObjectValue(o)
}

func TestToBool(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want bool
	}{
		{"null", Null(), false},
		{"false", Bool(false), false},
		{"true", Bool(true), true},
		{"zero", Number(0), false},
		{"negative zero", Number(math.Copysign(0, -1)), false},
		{"one", Number(1), true},
		{"fraction", Number(-0.5), true},
		{"empty string", String(""), false},
		{"string false is true", String("false"), true},
		{"string 0 is true", String("0"), true},
		{"space", String(" "), true},
		{"version", VersionValue(Version{0, 0, -1, -1}), true},
		{"date", DateTime(time.Time{}), true},
		{"empty array", Array(), true},
		{"empty object", ObjectValue(nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.ToBool(); got != tt.want {
				t.Errorf("ToBool(%v) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

func TestToNumber(t *testing.T) {
	tests := []struct {
		name   string
		v      Value
		want   float64
		wantOK bool
	}{
		{"null", Null(), 0, true},
		{"false", Bool(false), 0, true},
		{"true", Bool(true), 1, true},
		{"number", Number(2.5), 2.5, true},
		{"empty", String(""), 0, true},
		{"integer", String("42"), 42, true},
		{"negative", String("-42"), -42, true},
		{"plus", String("+7"), 7, true},
		{"decimal", String("3.25"), 3.25, true},
		{"leading point", String(".5"), 0.5, true},
		{"trailing point", String("5."), 5, true},
		{"thousands", String("1,234,567.5"), 1234567.5, true},
		{"white space", String(" \t12\n "), 12, true},
		{"exponent", String("1e3"), 0, false},
		{"hex", String("0x10"), 0, false},
		{"word", String("abc"), 0, false},
		{"just sign", String("-"), 0, false},
		{"just point", String("."), 0, false},
		{"two points", String("1.2.3"), 0, false},
		{"inner space", String("1 2"), 0, false},
		{"comma after point", String("1.2,3"), 0, false},
		{"leading comma", String(",1"), 0, false},
		{"trailing sign", String("1-"), 0, false},
		{"version", VersionValue(Version{1, 2, -1, -1}), 0, false},
		{"array", Array(), 0, false},
		{"object", ObjectValue(nil), 0, false},
		{"date", DateTime(time.Unix(0, 0)), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.v.ToNumber()
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("ToNumber(%v) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestToString(t *testing.T) {
	tests := []struct {
		name   string
		v      Value
		want   string
		wantOK bool
	}{
		{"null", Null(), "", true},
		{"true", Bool(true), "True", true},
		{"false", Bool(false), "False", true},
		{"integer", Number(42), "42", true},
		{"negative", Number(-3), "-3", true},
		{"decimal", Number(1.5), "1.5", true},
		{"seven decimals", Number(0.1234567), "0.1234567", true},
		{"rounded to seven", Number(0.12345678), "0.1234568", true},
		{"tiny rounds to zero", Number(0.00000001), "0", true},
		{"tiny negative rounds to zero", Number(-0.00000001), "0", true},
		{"float noise", Number(0.1 + 0.2), "0.3", true},
		{"large", Number(45700000000000000000000000000), "45700000000000000000000000000", true},
		{"1e23", Number(1e23), "100000000000000000000000", true},
		{"15 digits", Number(123456789012345678), "123456789012346000", true},
		{"round up carries", Number(9.99999999), "10", true},
		{"negative decimal", Number(-2.25), "-2.25", true},
		{"string", String("abc"), "abc", true},
		{"version", VersionValue(Version{1, 2, 3, -1}), "1.2.3", true},
		{"date", DateTime(time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)), "2024-03-05 14:07:09+00:00", true},
		{"array", Array(String("a")), "", false},
		{"object", ObjectValue(nil), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.v.ToString()
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("ToString(%v) = %q, %v; want %q, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestToVersion(t *testing.T) {
	tests := []struct {
		name   string
		v      Value
		want   string
		wantOK bool
	}{
		{"string two parts", String("1.2"), "1.2", true},
		{"string four parts", String("1.2.3.4"), "1.2.3.4", true},
		{"leading zeros", String("01.002.3"), "1.2.3", true},
		{"spaces around parts", String(" 1 . 2 "), "1.2", true},
		{"one part", String("1"), "", false},
		{"five parts", String("1.2.3.4.5"), "", false},
		{"negative", String("1.-2"), "", false},
		{"empty part", String("1..2"), "", false},
		{"overflow", String("1.2147483648"), "", false},
		{"max int32", String("1.2147483647"), "1.2147483647", true},
		{"number", Number(1.5), "1.5", true},
		{"whole number", Number(3), "", false},
		{"bool", Bool(true), "", false},
		{"null", Null(), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.v.ToVersion()
			if ok != tt.wantOK || (ok && got.String() != tt.want) {
				t.Errorf("ToVersion(%v) = %v, %v; want %q, %v", tt.v, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestVersionCompare(t *testing.T) {
	v := func(s string) Version {
		ver, ok := ParseVersion(s)
		if !ok {
			t.Fatalf("ParseVersion(%q) failed", s)
		}
		return ver
	}
	tests := []struct {
		a, b string
		want int
	}{
		{"1.2", "1.2", 0},
		{"1.2", "1.2.0", -1},
		{"1.2.0", "1.2.0.0", -1},
		{"1.10", "1.9", 1},
		{"2.0", "10.0", -1},
		{"1.2.3.4", "1.2.3.4", 0},
	}
	for _, tt := range tests {
		if got := v(tt.a).Compare(v(tt.b)); got != tt.want {
			t.Errorf("%s vs %s = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestToDateTime(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Time
		wantOK bool
	}{
		{"2024-03-05 14:07:09", time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC), true},
		{"2024/3/5T4:07:09Z", time.Date(2024, 3, 5, 4, 7, 9, 0, time.UTC), true},
		{"2024-03-05 14:07:09.5+02:00", time.Date(2024, 3, 5, 12, 7, 9, 500000000, time.UTC), true},
		{"2024-03-05 14:07:09-01:30", time.Date(2024, 3, 5, 15, 37, 9, 0, time.UTC), true},
		{"2024-02-30 00:00:00", time.Time{}, false},
		{"2024-03-05", time.Time{}, false},
		{"2024-03/05 00:00:00", time.Time{}, false},
		{"2024-03-05 14:07:09.12345678", time.Time{}, false},
		{"2024-03-05 14:07:09 trailing", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := String(tt.in).ToDateTime()
		if ok != tt.wantOK || (ok && !got.Equal(tt.want)) {
			t.Errorf("ToDateTime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestEqual(t *testing.T) {
	arr := Array(String("a"))
	obj := mustObject(t, "a", "b")
	tests := []struct {
		name string
		l, r Value
		want bool
	}{
		{"strings ignore case", String("ABC"), String("abc"), true},
		{"string vs number converts right", String("1"), Number(1), true},
		{"string vs number text differs", String("1.0"), Number(1), false},
		{"number vs string parses right", Number(1), String("1.0"), true},
		{"number vs bad string", Number(1), String("x"), false},
		{"number vs empty string", Number(0), String(""), true},
		{"bool vs string is bool cast", Bool(true), String("false"), true},
		{"bool false vs empty", Bool(false), String(""), true},
		{"string vs bool prints True", String("true"), Bool(true), true},
		{"string false vs bool true", String("false"), Bool(true), false},
		{"null vs null", Null(), Null(), true},
		{"null vs empty", Null(), String(""), true},
		{"null vs zero", Null(), Number(0), false},
		{"empty vs null", String(""), Null(), true},
		{"zero vs null", Number(0), Null(), true},
		{"version vs string", VersionValue(Version{1, 2, 3, -1}), String("1.2.3"), true},
		{"version vs longer", VersionValue(Version{1, 2, -1, -1}), String("1.2.0"), false},
		{"version vs number", VersionValue(Version{1, 5, -1, -1}), Number(1.5), true},
		{"version vs bad", VersionValue(Version{1, 5, -1, -1}), String("x"), false},
		{"array vs itself", arr, arr, true},
		{"array vs equal array", arr, Array(String("a")), false},
		{"object vs itself", obj, obj, true},
		{"object vs string", obj, String("Object"), false},
		{"string vs array fails conversion", String(""), arr, false},
		{"unicode ignore case", String("ÄÖÜ"), String("äöü"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Equal(tt.r); got != tt.want {
				t.Errorf("Equal(%v, %v) = %v, want %v", tt.l, tt.r, got, tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name    string
		l, r    Value
		want    int
		wantErr string
	}{
		{"numbers", Number(5), Number(2), 1, ""},
		{"number vs string", Number(10), String("9"), 1, ""},
		{"string vs number compares text", String("10"), Number(9), -1, ""},
		{"strings ignore case", String("a"), String("B"), -1, ""},
		{"strings equal ignoring case", String("abc"), String("ABC"), 0, ""},
		{"bools", Bool(false), Bool(true), -1, ""},
		{"bool vs string", Bool(true), String(""), 1, ""},
		{"versions", VersionValue(Version{1, 10, -1, -1}), String("1.9"), 1, ""},
		{"null as zero", Null(), Number(-1), 1, ""},
		{"number vs word fails", Number(1), String("abc"), 0, "Unable to convert from String to Number."},
		{"version vs word fails", VersionValue(Version{1, 0, -1, -1}), String("abc"), 0, "Unable to convert from String to Version."},
		{"string vs array fails", String("a"), Array(), 0, "Unable to convert from Array to String."},
		{"array left fails", Array(), Number(1), 0, "Unable to convert from Array to Number."},
		{"dates", DateTime(time.Unix(10, 0)), String("1970-01-01 00:00:05Z"), 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.l.Compare(tt.r)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Compare(%v, %v) error = %v, want %q", tt.l, tt.r, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Compare(%v, %v) = %d, %v; want %d", tt.l, tt.r, got, err, tt.want)
			}
		})
	}
}

func TestCompareErrorHidesValues(t *testing.T) {
	_, err := Number(1).Compare(String("hunter2-secret"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v must exist and must not contain the value", err)
	}
}

func TestObjectCaseInsensitive(t *testing.T) {
	o := NewObject()
	o.Set("Build.SourceBranch", String("a"))
	o.Set("build.sourcebranch", String("b"))
	o.Set("Other", Number(1))
	if got := o.Keys(); len(got) != 2 || got[0] != "Build.SourceBranch" || got[1] != "Other" {
		t.Fatalf("Keys() = %v, want [Build.SourceBranch Other]", got)
	}
	if v, ok := o.Get("BUILD.SOURCEBRANCH"); !ok || v.String() != "b" {
		t.Fatalf("Get = %v, %v; want b, true", v, ok)
	}
	if _, ok := o.Get("missing"); ok {
		t.Fatal("Get(missing) found something")
	}
}

func TestFromGo(t *testing.T) {
	v, err := FromGo(map[string]any{"b": []any{1, "x", true, nil}, "a": map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), `{"a":{"k":"v"},"b":[1,"x",true,null]}`; got != want {
		t.Errorf("FromGo = %s, want %s", got, want)
	}
	if _, err := FromGo(struct{}{}); err == nil {
		t.Error("FromGo(struct{}{}) succeeded, want an error")
	}
	if _, err := FromGo(math.NaN()); err == nil {
		t.Error("FromGo(NaN) succeeded, want an error")
	}
}

func TestKindString(t *testing.T) {
	want := []string{"Null", "Boolean", "Number", "String", "Version", "DateTime", "Array", "Object"}
	for k, w := range want {
		if got := Kind(k).String(); got != w {
			t.Errorf("Kind(%d) = %q, want %q", k, got, w)
		}
	}
}
