package logcmd

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func props(kv ...string) []Property {
	var ps []Property
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, Property{Name: kv[i], Value: kv[i+1]})
	}
	return ps
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		opts    Options
		want    Command
		wantErr string // "" = command; "plain" = ErrNotCommand; "syntax" = *SyntaxError
	}{
		// Examples from the logging-commands documentation.
		{name: "doc setvariable", line: "##vso[task.setvariable variable=sauce;]crushed tomatoes",
			want: Command{Area: "task", Event: "setvariable", Properties: props("variable", "sauce"), Data: "crushed tomatoes"}},
		{name: "doc secret", line: "##vso[task.setvariable variable=secretSauce;issecret=true]crushed tomatoes with garlic",
			want: Command{Area: "task", Event: "setvariable", Properties: props("variable", "secretSauce", "issecret", "true"), Data: "crushed tomatoes with garlic"}},
		{name: "doc logissue", line: "##vso[task.logissue type=error;sourcepath=consoleapp/main.cs;linenumber=1;columnnumber=1;code=100;]Found something that could be a problem.",
			want: Command{Area: "task", Event: "logissue", Properties: props("type", "error", "sourcepath", "consoleapp/main.cs", "linenumber", "1", "columnnumber", "1", "code", "100"), Data: "Found something that could be a problem."}},
		{name: "doc complete", line: "##vso[task.complete result=Succeeded;]DONE",
			want: Command{Area: "task", Event: "complete", Properties: props("result", "Succeeded"), Data: "DONE"}},
		{name: "doc artifact upload", line: `##vso[artifact.upload containerfolder=testresult;artifactname=uploadedresult]c:\testresults.trx`,
			want: Command{Area: "artifact", Event: "upload", Properties: props("containerfolder", "testresult", "artifactname", "uploadedresult"), Data: `c:\testresults.trx`}},
		{name: "doc updatebuildnumber", line: "##vso[build.updatebuildnumber]my-new-build-number",
			want: Command{Area: "build", Event: "updatebuildnumber", Data: "my-new-build-number"}},
		{name: "doc percent escape", line: "##vso[task.setvariable variable=testvar;]testvalue%AZP25",
			want: Command{Area: "task", Event: "setvariable", Properties: props("variable", "testvar"), Data: "testvalue%"}},

		{name: "plain line", line: "hello world", wantErr: "plain"},
		{name: "empty line", line: "", wantErr: "plain"},
		{name: "keyword without bracket", line: "echo ##vso", wantErr: "syntax"},
		{name: "no closing bracket", line: "##vso[task.setvariable variable=x", wantErr: "syntax"},
		{name: "one name part", line: "##vso[task]x", wantErr: "syntax"},
		{name: "three name parts", line: "##vso[task.set.variable]x", wantErr: "syntax"},
		{name: "leading space", line: "##vso[ task.debug]x", wantErr: "syntax"},
		{name: "uppercase prefix is not a command", line: "##VSO[task.debug]x", wantErr: "plain"},
		{name: "prefix anywhere in line", line: "+ echo '##vso[task.debug]hi'",
			want: Command{Area: "task", Event: "debug", Data: "hi'"}},
		{name: "empty name parts dropped", line: "##vso[.task..debug.]x",
			want: Command{Area: "task", Event: "debug", Data: "x"}},
		{name: "first bracket ends header", line: "##vso[task.debug]a]b",
			want: Command{Area: "task", Event: "debug", Data: "a]b"}},
		{name: "unescape data and values", line: "##vso[task.setvariable variable=a%3Bb%5D%0D%0A;]x%3By%5Dz%0D%0Aw%AZP25",
			want: Command{Area: "task", Event: "setvariable", Properties: props("variable", "a;b]\r\n"), Data: "x;y]z\r\nw%"}},
		{name: "keep percents", line: "##vso[task.setvariable variable=v]100%AZP25 %0A", opts: Options{KeepPercents: true},
			want: Command{Area: "task", Event: "setvariable", Properties: props("variable", "v"), Data: "100%AZP25 \n"}},
		{name: "escapes are case-sensitive", line: "##vso[task.debug]%0a%3b%azp25",
			want: Command{Area: "task", Event: "debug", Data: "%0a%3b%azp25"}},
		{name: "unescape is single pass", line: "##vso[task.debug]%AZP253B",
			want: Command{Area: "task", Event: "debug", Data: "%3B"}},
		{name: "duplicate property last wins case-insensitively", line: "##vso[task.setvariable Variable=a;VARIABLE=b]",
			want: Command{Area: "task", Event: "setvariable", Properties: props("Variable", "b")}},
		{name: "empty and valueless properties dropped", line: "##vso[task.setvariable ;;variable=;=x;y;z==;w=1]d",
			want: Command{Area: "task", Event: "setvariable", Properties: props("w", "1"), Data: "d"}},
		{name: "leading equals skipped", line: "##vso[task.setvariable ==variable==a=b]",
			want: Command{Area: "task", Event: "setvariable", Properties: props("variable", "a=b")}},
		{name: "keys are not trimmed", line: "##vso[task.setvariable  variable=a; issecret=true]",
			want: Command{Area: "task", Event: "setvariable", Properties: props(" variable", "a", " issecret", "true")}},
		{name: "no data", line: "##vso[task.setvariable variable=x]",
			want: Command{Area: "task", Event: "setvariable", Properties: props("variable", "x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.line, tt.opts)
			switch tt.wantErr {
			case "plain":
				if !errors.Is(err, ErrNotCommand) {
					t.Fatalf("Parse(%q) error = %v, want ErrNotCommand", tt.line, err)
				}
				return
			case "syntax":
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q) error = %v, want *SyntaxError", tt.line, err)
				}
				if !strings.Contains(se.Error(), "contains logging command keyword '##vso', but it's not a legal command") {
					t.Errorf("warning = %q", se.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.line, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestGetCaseInsensitive(t *testing.T) {
	c, err := Parse("##vso[task.setvariable VaRiAbLe=x;ISSECRET=true]v", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c.Get("variable"); !ok || got != "x" {
		t.Errorf("Get(variable) = %q, %v; want x, true", got, ok)
	}
	if _, ok := c.Get("isoutput"); ok {
		t.Errorf("Get(isoutput) found a missing property")
	}
	if got := c.Name(); got != "task.setvariable" {
		t.Errorf("Name() = %q", got)
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, data, prop string
	}{
		{"plain", "abc", "abc", "abc"},
		{"percent first", "100%", "100%AZP25", "100%AZP25"},
		{"newlines", "a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"brackets and semicolons", "a]b;c", "a]b;c", "a%5Db%3Bc"},
		{"already escaped looking", "%0A", "%AZP250A", "%AZP250A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EscapeData(tt.in); got != tt.data {
				t.Errorf("EscapeData(%q) = %q, want %q", tt.in, got, tt.data)
			}
			if got := EscapeProperty(tt.in); got != tt.prop {
				t.Errorf("EscapeProperty(%q) = %q, want %q", tt.in, got, tt.prop)
			}
			if got := Unescape(EscapeProperty(tt.in), Options{}); got != tt.in {
				t.Errorf("Unescape(EscapeProperty(%q)) = %q", tt.in, got)
			}
		})
	}
}

func TestCommandString(t *testing.T) {
	c := Command{Area: "task", Event: "setvariable",
		Properties: props("variable", "a;b", "issecret", "true", "isoutput", ""), Data: "50% done\nnext]"}
	want := "##vso[task.setvariable variable=a%3Bb;issecret=true;]50%AZP25 done%0Anext]"
	if got := c.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	back, err := Parse(want, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Properties = c.Properties[:2]
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got := (Command{Area: "build", Event: "addbuildtag", Data: "t"}).String(); got != "##vso[build.addbuildtag]t" {
		t.Errorf("no properties: %q", got)
	}
}

func TestScanLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"lf", "a\nb\n", []string{"a", "b"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"lone cr", "a\rb", []string{"a", "b"}},
		{"cr at end", "a\r", []string{"a"}},
		{"empty lines", "\n\r\n\r", []string{"", "", ""}},
		{"no terminator", "abc", []string{"abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			data := []byte(tt.in)
			for len(data) > 0 {
				// Feed one byte more each time to exercise the incomplete-CR path.
				adv, tok, err := ScanLines(data, true)
				if err != nil {
					t.Fatal(err)
				}
				if adv == 0 {
					break
				}
				got = append(got, string(tok))
				data = data[adv:]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
	if adv, tok, _ := ScanLines([]byte("a\r"), false); adv != 0 || tok != nil {
		t.Errorf("CR at buffer end before EOF: advance %d token %q, want to wait", adv, tok)
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		line     string
		wantF    Format
		wantText string
		wantOK   bool
	}{
		{"##[group]Build", Group, "Build", true},
		{"##[ENDGROUP]", EndGroup, "", true},
		{"##[warning]careful", Warn, "careful", true},
		{"##[error]bad", Error, "bad", true},
		{"##[section]Starting: x", Section, "Starting: x", true},
		{"##[debug]Evaluating: SucceededNode()", DebugTag, "Evaluating: SucceededNode()", true},
		{"##[command]/bin/bash x.sh", Cmd, "/bin/bash x.sh", true},
		{"##[unknown]x", "", "", false},
		{" ##[group]x", "", "", false},
		{"##[group", "", "", false},
	}
	for _, tt := range tests {
		f, text, ok := ParseFormat(tt.line)
		if f != tt.wantF || text != tt.wantText || ok != tt.wantOK {
			t.Errorf("ParseFormat(%q) = %q, %q, %v; want %q, %q, %v", tt.line, f, text, ok, tt.wantF, tt.wantText, tt.wantOK)
		}
		if tt.wantOK && strings.EqualFold(tt.line, FormatLine(f, text)) == false {
			t.Errorf("FormatLine(%q, %q) = %q, want %q", f, text, FormatLine(f, text), tt.line)
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"##vso[task.setvariable variable=sauce;]crushed tomatoes",
		"##vso[task.logissue type=error;sourcepath=a.cs;linenumber=1;columnnumber=1;code=100;]msg",
		"##vso[task.complete result=Succeeded;done=true]DONE",
		"##vso[task.setvariable variable=a%3Bb%5D%0D%0A;]x%AZP25",
		"##vso[.task..debug.]x",
		"##vso[task.setvariable ==variable==a=b; k=v;;]",
		"prefix ##vso[artifact.upload artifactname=a;containerfolder=b]/tmp/x",
		"##vso[task.x",
		"##vso",
		"plain output",
		"##vso[##vso[a.b]]",
		"\x00##vso[\xff.\xfe \xfd=\xfc]\xfb",
	}
	for _, s := range seeds {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, line string, keep bool) {
		opts := Options{KeepPercents: keep}
		c, err := Parse(line, opts)
		if err != nil {
			var se *SyntaxError
			if !errors.Is(err, ErrNotCommand) && !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned unexpected error type %T", line, err)
			}
			if errors.Is(err, ErrNotCommand) && strings.Contains(line, "##vso") {
				t.Fatalf("Parse(%q) called a line with ##vso ordinary output", line)
			}
			return
		}
		// Decoding never panics whatever the command.
		_, _ = Decode(c)
		// Emitting a parsed command and parsing it again gives the same command. With
		// KeepPercents the emitted %AZP25 would stay escaped, so compare under defaults.
		if keep {
			return
		}
		back, err := Parse(c.String(), Options{})
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v (emitted %q)", line, err, c.String())
		}
		if diff := cmp.Diff(c, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", line, c.String(), diff)
		}
	})
}

// FuzzEscape checks that any data and property value survive EscapeData / EscapeProperty
// and parsing, for values the syntax can carry (not starting with '=', not empty).
func FuzzEscape(f *testing.F) {
	f.Add("value", "data")
	f.Add("a;b]c\r\nd%e%AZP25f%3B", "x\r\n%0A]%5D;")
	f.Add("100%", "##vso[task.debug]inner")
	f.Fuzz(func(t *testing.T, value, data string) {
		c := Command{Area: "task", Event: "setvariable", Data: data}
		if value != "" && value[0] != '=' {
			c.Properties = props("variable", value)
		}
		got, err := Parse(c.String(), Options{})
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.String(), err)
		}
		if diff := cmp.Diff(c, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip via %q (-want +got):\n%s", c.String(), diff)
		}
		if u := Unescape(EscapeData(data), Options{}); u != data {
			t.Fatalf("Unescape(EscapeData(%q)) = %q", data, u)
		}
	})
}

var sinkCmd Command

func BenchmarkParse(b *testing.B) {
	cases := []struct{ name, line string }{
		{"plain", "2026-08-21T10:00:00.0000000Z Compiling package github.com/keystage/keystage/internal/logcmd ... ok"},
		{"command", "##vso[task.setvariable variable=outputSauce;isoutput=true;issecret=false]canned goods with 100%AZP25 tomato"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.line)))
			b.ReportAllocs()
			for b.Loop() {
				cmd, _ := Parse(c.line, Options{})
				sinkCmd = cmd
			}
		})
	}
}
