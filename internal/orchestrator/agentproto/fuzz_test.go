package agentproto

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseChunk checks that any input either parses into lines that FormatChunk turns back
// into the same bytes, or fails with ErrBadRequest.
func FuzzParseChunk(f *testing.F) {
	for _, s := range []string{"", "\n", "a\n", "a\nb\n", "a", "a\r\n", "\xff\n", "x\x00\n", "##[section]Starting: x\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := ParseChunk(b)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("ParseChunk error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if got := FormatChunk(lines); !bytes.Equal(got, b) {
			t.Fatalf("FormatChunk(ParseChunk(%q)) = %q", b, got)
		}
		if CountLines(b) != len(lines) {
			t.Fatalf("CountLines = %d, want %d", CountLines(b), len(lines))
		}
	})
}

// FuzzFormatChunk checks that whatever lines an agent hands in, the chunk it sends parses.
func FuzzFormatChunk(f *testing.F) {
	f.Add("hello", "wor\rld")
	f.Add("\xff\xfe", "")
	f.Add("a\nb", "\x00")
	f.Fuzz(func(t *testing.T, a, b string) {
		chunk := FormatChunk([]string{a, b})
		if _, err := ParseChunk(chunk); err != nil {
			t.Fatalf("ParseChunk(FormatChunk(%q, %q)) = %v", a, b, err)
		}
	})
}

// FuzzDecodeEvents checks that the events decoder never panics and either accepts a batch
// whose chunks all parse or rejects it with ErrBadRequest.
func FuzzDecodeEvents(f *testing.F) {
	for _, s := range []string{
		`{"lockToken":"t","seq":1,"events":[{"kind":"jobLines","lines":"a\n"}]}`,
		`{"lockToken":"t","seq":2,"events":[{"kind":"stepStarted","step":{"index":0,"displayName":"x"}},{"kind":"stepFinished","step":{"index":0,"displayName":"x"},"report":{"displayName":"x","result":"Failed","errors":1}}]}`,
		`{"lockToken":"t","seq":1,"events":[{"kind":"stepLines","step":{"index":3,"displayName":"y"},"lines":"b\nc\n"}]}`,
		`{}`, `null`, `[]`, `{"seq":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEvents(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("DecodeEvents error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		for _, e := range ev.Events {
			if _, err := ParseChunk([]byte(e.Lines)); err != nil {
				t.Fatalf("accepted an event whose lines do not parse: %v", err)
			}
			if (e.Kind == StepFinished) != (e.Report != nil) {
				t.Fatalf("accepted a %s event with report %v", e.Kind, e.Report)
			}
		}
	})
}

// FuzzDecodeRequests runs every other decoder over the same inputs.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","version":"1","systemCapabilities":{"Agent.OS":"Linux"}}`,
		`{"ownerName":"host/1"}`,
		`{"lockToken":"x","agentName":"a"}`,
		`{"lockToken":"x","name":"drop","kind":"Container"}`,
		`{"lockToken":"x","events":{"seq":0},"report":{"result":"Succeeded","steps":[{"displayName":"s","result":"Succeeded"}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%s error %v does not wrap ErrBadRequest", what, err)
			}
		}
		_, err := DecodeRegistration(bytes.NewReader(b))
		check("DecodeRegistration", err)
		_, err = DecodeSessionRequest(bytes.NewReader(b))
		check("DecodeSessionRequest", err)
		_, err = DecodeAccept(bytes.NewReader(b))
		check("DecodeAccept", err)
		a, err := DecodeArtifactPublish(bytes.NewReader(b))
		check("DecodeArtifactPublish", err)
		if err == nil && (a.Name == "" || (a.Kind != Container && a.Kind != Pipeline)) {
			t.Fatalf("accepted artifact %+v", a)
		}
		c, err := DecodeCompletion(bytes.NewReader(b))
		check("DecodeCompletion", err)
		if err == nil && !validResult(c.Report.Result) {
			t.Fatalf("accepted result %q", c.Report.Result)
		}
	})
}
