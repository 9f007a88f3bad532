package agentproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/pipeline/job"
)

func TestParseChunk(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "one line", in: "hello\n", want: []string{"hello"}},
		{name: "empty lines", in: "\n\n", want: []string{"", ""}},
		{name: "several", in: "a\nb b\n##[section]c\n", want: []string{"a", "b b", "##[section]c"}},
		{name: "unicode", in: "héllo ✓\n", want: []string{"héllo ✓"}},
		{name: "no final newline", in: "a\nb", wantErr: "must end with a line feed"},
		{name: "carriage return", in: "a\r\n", wantErr: "carriage return"},
		{name: "nul", in: "a\x00b\n", wantErr: "NUL"},
		{name: "invalid utf8", in: "a\xffb\n", wantErr: "UTF-8"},
		{name: "long line", in: strings.Repeat("x", MaxLineBytes+1) + "\n", wantErr: "longer than"},
		{name: "too large", in: strings.Repeat("x\n", MaxChunkBytes/2+1), wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChunk([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadRequest) {
					t.Fatalf("ParseChunk error = %v, want one containing %q wrapping ErrBadRequest", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseChunk lines (-want +got):\n%s", diff)
			}
			if n := CountLines([]byte(tt.in)); n != len(got) {
				t.Errorf("CountLines = %d, want %d", n, len(got))
			}
		})
	}
}

func TestFormatChunk(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{name: "plain", lines: []string{"a", "", "b"}, want: []string{"a", "", "b"}},
		{name: "embedded newline splits", lines: []string{"a\nb"}, want: []string{"a", "b"}},
		{name: "carriage return and nul", lines: []string{"a\rb\x00c"}, want: []string{"a b c"}},
		{name: "invalid utf8 replaced", lines: []string{"a\xffb"}, want: []string{"a\uFFFDb"}},
		{name: "long line cut", lines: []string{strings.Repeat("é", MaxLineBytes)}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunk := FormatChunk(tt.lines)
			got, err := ParseChunk(chunk)
			if err != nil {
				t.Fatalf("ParseChunk(FormatChunk(...)) = %v", err)
			}
			if tt.want == nil {
				if len(got) != 1 || !strings.HasSuffix(got[0], truncated) || len(got[0]) > MaxLineBytes {
					t.Errorf("long line: got %d lines, first of %d bytes", len(got), len(got[0]))
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeEvents(t *testing.T) {
	step := &Step{Index: 1, Name: "CmdLine", DisplayName: "Run a script", Task: "CmdLine@2"}
	good := Events{LockToken: "t", Seq: 1, Events: []Event{
		{Kind: JobLines, Time: time.Unix(1, 0).UTC(), Lines: "Prepare build directory.\n"},
		{Kind: StepStarted, Step: step},
		{Kind: StepLines, Step: step, Lines: "hello\nworld\n"},
		{Kind: StepFinished, Step: step, Report: &job.StepReport{DisplayName: "Run a script", Result: job.Succeeded}},
	}}
	b, _ := json.Marshal(good)
	got, err := DecodeEvents(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("DecodeEvents(good) = %v", err)
	}
	if diff := cmp.Diff(good, got); diff != "" {
		t.Errorf("DecodeEvents (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, body, wantErr string
	}{
		{"not json", `{`, "not valid JSON"},
		{"trailing data", `{"lockToken":"t","seq":1,"events":[]} {}`, "after its JSON value"},
		{"trailing bracket", `{"lockToken":"t","seq":1,"events":[]}]`, "after its JSON value"},
		{"trailing brace", `{"lockToken":"t","seq":1,"events":[]} }`, "after its JSON value"},
		{"unknown field", `{"lockToken":"t","seq":1,"events":[],"x":1}`, "unknown field"},
		{"no lock token", `{"seq":1,"events":[]}`, "lock token"},
		{"seq zero", `{"lockToken":"t","seq":0,"events":[]}`, "sequence number"},
		{"unknown kind", `{"lockToken":"t","seq":1,"events":[{"kind":"boom"}]}`, "unknown kind"},
		{"step missing", `{"lockToken":"t","seq":1,"events":[{"kind":"stepStarted"}]}`, "needs a step"},
		{"report on started", `{"lockToken":"t","seq":1,"events":[{"kind":"stepStarted","step":{"index":0,"displayName":"x"},"report":{"displayName":"x","result":"Succeeded"}}]}`, "carries a report"},
		{"finished without report", `{"lockToken":"t","seq":1,"events":[{"kind":"stepFinished","step":{"index":0,"displayName":"x"}}]}`, "carries a report"},
		{"bad result", `{"lockToken":"t","seq":1,"events":[{"kind":"stepFinished","step":{"index":0,"displayName":"x"},"report":{"displayName":"x","result":"Great"}}]}`, "unknown step result"},
		{"negative index", `{"lockToken":"t","seq":1,"events":[{"kind":"stepStarted","step":{"index":-1,"displayName":"x"}}]}`, "out of range"},
		{"lines on started", `{"lockToken":"t","seq":1,"events":[{"kind":"stepStarted","step":{"index":0,"displayName":"x"},"lines":"a\n"}]}`, "carries no lines"},
		{"bad chunk", `{"lockToken":"t","seq":1,"events":[{"kind":"jobLines","lines":"a"}]}`, "line feed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEvents(strings.NewReader(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadRequest) {
				t.Errorf("DecodeEvents error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeRegistration(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"good", `{"name":"a1","version":"4.260.0","systemCapabilities":{"Agent.OS":"Linux"},"userCapabilities":{"gpu":"yes"}}`, ""},
		{"no name", `{"version":"1"}`, "agent name is missing"},
		{"control char", `{"name":"a\u0001"}`, "invalid"},
		{"empty capability name", `{"name":"a","userCapabilities":{"":"x"}}`, "capability"},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRegistration(strings.NewReader(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("DecodeRegistration = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("DecodeRegistration error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeCompletion(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"good", `{"lockToken":"t","events":{"lockToken":"t","seq":0,"events":null},"report":{"result":"Succeeded"}}`, ""},
		{"with events", `{"lockToken":"t","events":{"lockToken":"t","seq":3,"events":[{"kind":"jobLines","lines":"bye\n"}]},"report":{"result":"Failed"}}`, ""},
		{"bad result", `{"lockToken":"t","events":{"seq":0},"report":{"result":""}}`, "unknown job result"},
		{"no token", `{"events":{"seq":0},"report":{"result":"Succeeded"}}`, "lock token"},
		{"empty output name", `{"lockToken":"t","events":{"seq":0},"report":{"result":"Succeeded","outputs":[{"name":"","value":"1"}]}}`, "output variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCompletion(strings.NewReader(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("DecodeCompletion = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("DecodeCompletion error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
