package expr

import (
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	ctx := testContext(t)
	ctx.Set("t2", DateTime(time.Date(2024, 1, 2, 3, 4, 5, 60000000, time.FixedZone("", 2*3600+30*60))))
	ctx.Set("secret", String("hunter2"))
	runEvalCases(t, ctx, []evalCase{
		{"no args", "format('plain')", "plain", KindString, ""},
		{"reuse arg", "format('{0}-{0}', 'a')", "a-a", KindString, ""},
		{"out of order", "format('{1}{0}', 'a', 'b')", "ba", KindString, ""},
		{"bool and number", "format('{0} {1} {2}', true, 1.50, variables.missing)", "True 1.5 ", KindString, ""},
		{"version", "format('v{0}', 1.2.3)", "v1.2.3", KindString, ""},
		{"escaped braces around arg", "format('{{{0}}}', 'x')", "{x}", KindString, ""},
		{"unused args not evaluated", "format('{0}', 'a', gt(1, 'x'))", "a", KindString, ""},
		{"date default", "format('{0}', pipeline.startTime)", "2024-03-05 14:07:09+00:00", KindString, ""},
		{"date yyyyMMdd", "format('{0:yyyyMMdd}', pipeline.startTime)", "20240305", KindString, ""},
		{"date escaped dashes", "format('{0:yyyy\\-MM\\-dd}', pipeline.startTime)", "2024-03-05", KindString, ""},
		{"date short forms", "format('{0:yy M d H m s}', t2)", "24 1 2 3 4 5", KindString, ""},
		{"date padded", "format('{0:MM dd HH mm ss}', t2)", "01 02 03 04 05", KindString, ""},
		{"date fractions", "format('{0:f ff fff fffffff}', pipeline.startTime)", "1 12 123 1234567", KindString, ""},
		{"date offsets", "format('{0:zzz K}', t2)", "+02:30 +02:30", KindString, ""},
		{"date several placeholders", "format('{0:yyyy}.{0:MM}', pipeline.startTime)", "2024.03", KindString, ""},
		{"date spaces kept", "format('{0:HH  mm}', pipeline.startTime)", "14  07", KindString, ""},
		{"date escaped right brace in specs", "format('{0:yyyy}}}', pipeline.startTime)", "", 0, "are not valid"},
		{"date literal dash invalid", "format('{0:yyyy-MM-dd}', pipeline.startTime)", "", 0, "The format specifiers 'yyyy-MM-dd' are not valid for objects of type 'DateTime'"},
		{"date yyy invalid", "format('{0:yyy}', pipeline.startTime)", "", 0, "not valid"},
		{"date trailing backslash", "format('{0:yyyy\\}', pipeline.startTime)", "", 0, "not valid"},
		{"specifiers on string", "format('{0:yyyy}', 'abc')", "", 0, "The format specifiers 'yyyy' are not valid for objects of type 'String'"},
		{"too few args", "format('{0} {1}', 'a')", "", 0, "The following format string references more arguments than were supplied: {0} {1}"},
		{"lone left brace", "format('a { b')", "", 0, "The following format string is invalid: a { b"},
		{"lone right brace", "format('a } b')", "", 0, "The following format string is invalid: a } b"},
		{"unclosed placeholder", "format('{0')", "", 0, "invalid"},
		{"named placeholder", "format('{name}', 'x')", "", 0, "invalid"},
		{"index over 255", "format('{256}', 'x')", "", 0, "invalid"},
		{"array arg", "format('{0}', parameters.myArray)", "", 0, "Unable to convert from Array to String."},
		{"array arg unused", "format('x', parameters.myArray)", "x", KindString, ""},
		{"format of number", "format(12.50)", "12.5", KindString, ""},
	})
}

func TestFormatMemoryLimit(t *testing.T) {
	big := strings.Repeat("x", 1<<19)
	ctx := &Context{}
	ctx.Set("big", String(big))
	e, err := Parse("format('{0}{0}{0}', big)")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Eval(ctx)
	if err == nil || !strings.Contains(err.Error(), "maximum allowed memory size") {
		t.Fatalf("Eval error = %v, want the memory limit", err)
	}
	rep, _ := Parse("replace(big, 'x', 'yyy')")
	if _, err := rep.Eval(ctx); err == nil {
		t.Fatal("replace past the limit succeeded")
	}
}
