package agentproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/keystage/keystage/internal/pipeline/job"
)

// Limits on what the server accepts in one request.
const (
	// MaxBodyBytes bounds every JSON body except artifact file content.
	MaxBodyBytes = 8 << 20
	// MaxEvents bounds the events of one batch.
	MaxEvents = 10000
	// MaxCapabilities bounds the capabilities of a registration (per kind).
	MaxCapabilities = 2000
	// MaxNameLength bounds agent, step and artifact names.
	MaxNameLength = 256
	// MaxCapabilityValue bounds one capability value (environment variables can be long).
	MaxCapabilityValue = 32 << 10
)

// ErrBadRequest is wrapped by every decoding error; the message says what is wrong and never
// quotes more than a short prefix of the input.
var ErrBadRequest = errors.New("agentproto: bad request")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// decode reads one JSON value of at most MaxBodyBytes into v, rejecting unknown fields
// and trailing data.
func decode(r io.Reader, v any, what string) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("agentproto: read %s: %w", what, err)
	}
	if len(b) > MaxBodyBytes {
		return bad("the %s body is larger than %d bytes", what, MaxBodyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bad("the %s body is not valid JSON: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("the %s body has data after its JSON value", what)
	}
	return nil
}

// DecodeRegistration decodes and validates a Registration.
func DecodeRegistration(r io.Reader) (Registration, error) {
	var reg Registration
	if err := decode(r, &reg, "registration"); err != nil {
		return reg, err
	}
	if err := checkName("agent name", reg.Name); err != nil {
		return reg, err
	}
	if len(reg.Version) > MaxNameLength || len(reg.OSDescription) > 4*MaxNameLength {
		return reg, bad("the agent version or OS description is too long")
	}
	for kind, caps := range map[string]map[string]string{"system": reg.SystemCapabilities, "user": reg.UserCapabilities} {
		if len(caps) > MaxCapabilities {
			return reg, bad("more than %d %s capabilities", MaxCapabilities, kind)
		}
		for k, v := range caps {
			if k == "" || len(k) > MaxNameLength || !utf8.ValidString(k) {
				return reg, bad("a %s capability has an empty, invalid or too long name", kind)
			}
			if len(v) > MaxCapabilityValue || !utf8.ValidString(v) {
				return reg, bad("the %s capability %s has an invalid or too long value", kind, clip(k))
			}
		}
	}
	return reg, nil
}

// DecodeSessionRequest decodes a SessionRequest.
func DecodeSessionRequest(r io.Reader) (SessionRequest, error) {
	var s SessionRequest
	if err := decode(r, &s, "session"); err != nil {
		return s, err
	}
	if len(s.OwnerName) > MaxNameLength || !utf8.ValidString(s.OwnerName) {
		return s, bad("the session owner name is invalid or too long")
	}
	return s, nil
}

// DecodeAccept decodes an Accept.
func DecodeAccept(r io.Reader) (Accept, error) {
	var a Accept
	if err := decode(r, &a, "accept"); err != nil {
		return a, err
	}
	if a.LockToken == "" {
		return a, bad("the lock token is missing")
	}
	if len(a.AgentName) > MaxNameLength {
		return a, bad("the agent name is too long")
	}
	return a, nil
}

// DecodeEvents decodes and validates a batch of events.
func DecodeEvents(r io.Reader) (Events, error) {
	var ev Events
	if err := decode(r, &ev, "events"); err != nil {
		return ev, err
	}
	if ev.LockToken == "" {
		return ev, bad("the lock token is missing")
	}
	return ev, ev.check()
}

// check validates a batch: sequence number, kinds, steps, chunks.
func (ev *Events) check() error {
	if ev.Seq < 1 {
		return bad("the batch sequence number must be at least 1")
	}
	if len(ev.Events) > MaxEvents {
		return bad("more than %d events in one batch", MaxEvents)
	}
	for i := range ev.Events {
		e := &ev.Events[i]
		switch e.Kind {
		case JobLines:
			if e.Step != nil || e.Report != nil {
				return bad("event %d: a %s event has no step or report", i, e.Kind)
			}
		case StepStarted, StepLines, StepFinished:
			if e.Step == nil {
				return bad("event %d: a %s event needs a step", i, e.Kind)
			}
			if e.Step.Index < 0 || e.Step.Index > 100000 {
				return bad("event %d: step index %d is out of range", i, e.Step.Index)
			}
			if len(e.Step.Name) > MaxNameLength || len(e.Step.DisplayName) > 4*MaxNameLength || len(e.Step.Task) > MaxNameLength {
				return bad("event %d: a step name is too long", i)
			}
			if (e.Kind == StepFinished) != (e.Report != nil) {
				return bad("event %d: only a %s event carries a report", i, StepFinished)
			}
			if e.Report != nil && !validResult(e.Report.Result) {
				return bad("event %d: unknown step result %q", i, clip(string(e.Report.Result)))
			}
		default:
			return bad("event %d: unknown kind %q", i, clip(string(e.Kind)))
		}
		if e.Lines == "" {
			continue
		}
		if e.Kind != JobLines && e.Kind != StepLines {
			return bad("event %d: a %s event carries no lines", i, e.Kind)
		}
		if _, err := ParseChunk([]byte(e.Lines)); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
	}
	return nil
}

// DecodeArtifactPublish decodes an ArtifactPublish.
func DecodeArtifactPublish(r io.Reader) (ArtifactPublish, error) {
	var a ArtifactPublish
	if err := decode(r, &a, "artifact"); err != nil {
		return a, err
	}
	if a.LockToken == "" {
		return a, bad("the lock token is missing")
	}
	if a.Kind != Container && a.Kind != Pipeline {
		return a, bad("unknown artifact kind %q", clip(string(a.Kind)))
	}
	return a, checkName("artifact name", a.Name)
}

// DecodeCompletion decodes and validates a Completion. Its Events may be empty (Seq 0).
func DecodeCompletion(r io.Reader) (Completion, error) {
	var c Completion
	if err := decode(r, &c, "completion"); err != nil {
		return c, err
	}
	if c.LockToken == "" {
		return c, bad("the lock token is missing")
	}
	if c.Events.Seq != 0 || len(c.Events.Events) > 0 {
		if err := c.Events.check(); err != nil {
			return c, err
		}
	}
	if !validResult(c.Report.Result) {
		return c, bad("unknown job result %q", clip(string(c.Report.Result)))
	}
	if len(c.Report.Steps) > 100000 || len(c.Report.Outputs) > 100000 || len(c.Report.Tags) > 10000 {
		return c, bad("the report is too large")
	}
	for _, o := range c.Report.Outputs {
		if o.Name == "" || len(o.Name) > 4*MaxNameLength {
			return c, bad("an output variable has an empty or too long name")
		}
	}
	return c, nil
}

func validResult(r job.Result) bool {
	switch r {
	case job.Succeeded, job.SucceededWithIssues, job.Failed, job.Canceled, job.Skipped:
		return true
	}
	return false
}

// checkName rejects empty, overlong, non-UTF-8 or control-character names.
func checkName(what, s string) error {
	if s == "" {
		return bad("the %s is missing", what)
	}
	if len(s) > MaxNameLength || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return bad("the %s %q is invalid", what, clip(s))
	}
	return nil
}

// clip bounds input quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
