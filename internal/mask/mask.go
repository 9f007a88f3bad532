// Package mask owns secret masking: the one writer every byte a pipeline step writes passes
// through before it is stored, streamed or printed.
//
// A Masker holds the registered secrets; Writer masks a stream, Mask a single string. Every
// occurrence of a registered secret, or of one of its encoded forms, is replaced by `***`;
// overlapping and adjacent occurrences become a single `***`, as in the Azure Pipelines agent.
// The password of a URL with user information (`https://user:***@host`) is always masked.
//
// Masking is per line: no registered form contains a line break, and a multi-line secret is
// masked through its lines and its single-line encodings (see Add). A substring of a secret
// is never masked, only whole occurrences.
//
// What is masked (the masking matrix of the security checklist):
//   - the value, JSON-escaped, URL-encoded, backslash-unescaped, logging-command-escaped:
//     masked (the Azure agent's encoders, plus the JSON and URL variants of other tools);
//   - base64 of the value at any byte alignment: masked, except up to four characters at
//     each edge that also encode neighbouring bytes or the first bytes skipped to reach a
//     group boundary (GitHub's runner does the same; the Azure agent masks only the padded
//     base64 of job secrets);
//   - base64 of base64, hex, URL-safe base64, other transformations: not masked; register the
//     derived value with task.setsecret;
//   - a secret split over lines, or each line of a multi-line secret: masked line by line
//     (lines under ShortLength characters excepted, see ShortLinesSkipped);
//   - a substring or a prefix of a secret: not masked;
//   - `set -x` traces: the expanded value is masked like any output, values computed from it
//     are not;
//   - URL passwords (`scheme://user:password@`): always masked.
package mask

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// ShortLength is the length, in characters, under which a secret draws a ShortSecret
// warning: masking it replaces that text wherever it appears in a log (a secret "1" turns
// version 1.21 into ***.2***). It equals the Azure agent's ceiling for its ignore-short-secrets
// knob, the longest secret that agent lets a user stop masking.
const ShortLength = 6

// MaxMinLength is the largest accepted Config.MinLength (the agent's MinSecretLengthLimit).
const MaxMinLength = 6

// Replacement is the text that replaces a secret.
const Replacement = "***"

// Config configures a Masker. The zero value masks every non-empty secret with every
// encoding, like the agent's defaults.
type Config struct {
	// MinLength ignores secrets, and encoded forms, shorter than this many characters:
	// the agent's AZP_IGNORE_SECRETS_SHORTER_THAN. 0 masks everything non-empty. Values
	// above MaxMinLength are lowered to it, with a MinLengthClamped warning from New.
	MinLength int
	// DisableBase64 stops registering base64 forms. The Azure agent registers the padded
	// base64 of job secrets only; GitHub's runner registers the shifted forms too, as
	// Keystage does by default.
	DisableBase64 bool
}

// WarningKind classifies a Warning.
type WarningKind int

const (
	// ShortSecret: the secret is masked but is shorter than ShortLength characters.
	ShortSecret WarningKind = iota + 1
	// IgnoredSecret: the secret is shorter than Config.MinLength and is not masked.
	IgnoredSecret
	// ShortLinesSkipped: a multi-line secret has lines shorter than ShortLength characters
	// that are not masked on their own (they would mask braces, blank-ish lines and other
	// common text); the longer lines and the single-line encodings are masked.
	ShortLinesSkipped
	// MinLengthClamped: Config.MinLength was above MaxMinLength and was lowered.
	MinLengthClamped
)

// Warning is something the caller should report; its Message never contains the secret.
type Warning struct {
	Kind    WarningKind
	Message string
}

func (w Warning) String() string { return w.Message }

// Masker holds the registered secrets. Its methods are safe for concurrent use: Add may run
// while Writers write. A secret added by an Add that returns before a Write starts is masked
// in everything that Write emits, including bytes a Writer still held back from earlier
// writes; bytes already emitted are not masked again. A Write running concurrently with Add
// may or may not see the new secret.
//
// The zero value is a Masker with the zero Config.
type Masker struct {
	cfg Config

	mu      sync.Mutex
	forms   map[string]struct{} // every registered form
	base    []string            // forms in the current snapshot's base matcher
	pending []string            // forms added since base was built
	values  int                 // distinct values added
	seen    map[string]struct{} // values added, to count and skip repeats
	dirty   atomic.Bool         // forms changed since cur was built
	cur     atomic.Pointer[snapshot]
}

// New returns a Masker for cfg, with warnings about cfg to report.
func New(cfg Config) (*Masker, []Warning) {
	var warns []Warning
	if cfg.MinLength > MaxMinLength {
		cfg.MinLength = MaxMinLength
		warns = append(warns, Warning{Kind: MinLengthClamped, Message: fmt.Sprintf(
			"The value of the minimum length of the secrets is too high. Maximum value is set: %d", MaxMinLength)})
	}
	if cfg.MinLength < 0 {
		cfg.MinLength = 0
	}
	return &Masker{cfg: cfg}, warns
}

// Add registers a secret value, from now on, in these forms:
//   - the value itself; if it is wrapped in matching quotes, also without them; also with
//     surrounding spaces and line breaks trimmed (as the agent does for variables);
//   - for a multi-line value, each line, and each line with surrounding spaces trimmed, if it
//     has at least ShortLength characters;
//   - for each of the above: the JSON string escapes (Newtonsoft/JavaScript, Go's HTML-safe
//     and ASCII-only styles), the URL encodings (Uri.EscapeDataString, form encoding with '+'
//     for space, encodeURIComponent), the agent's backslash-unescaped form, the
//     logging-command escapes (`%AZP25`, `%0A`, …), and, unless DisableBase64, the padded
//     base64 and the three byte-alignment variants of it (as GitHub's runner does; base64
//     forms shorter than 6 characters are skipped).
//
// Forms shorter than Config.MinLength characters are not registered. Add returns warnings
// for short secrets (see WarningKind); an empty value registers nothing and warns nothing.
// Adding a value twice is harmless.
func (m *Masker) Add(value string) []Warning {
	if value == "" {
		return nil
	}
	n := utf8.RuneCountInString(value)
	if n < m.cfg.MinLength {
		return []Warning{{Kind: IgnoredSecret, Message: fmt.Sprintf(
			"A secret of %d characters is shorter than the minimum secret length %d and will not be masked.", n, m.cfg.MinLength)}}
	}
	var warns []Warning
	if n < ShortLength {
		warns = append(warns, Warning{Kind: ShortSecret, Message: fmt.Sprintf(
			"A secret of %d characters is registered; every occurrence of that text in logs will be masked. "+
				"Secrets shorter than %d characters mask unrelated output.", n, ShortLength)})
	}
	fs, skipped := forms(value, m.cfg.DisableBase64)
	if skipped {
		warns = append(warns, Warning{Kind: ShortLinesSkipped, Message: fmt.Sprintf(
			"A multi-line secret has lines shorter than %d characters; those lines are not masked on their own.", ShortLength)})
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.forms == nil {
		m.forms = make(map[string]struct{})
		m.seen = make(map[string]struct{})
	}
	if _, ok := m.seen[value]; !ok {
		m.seen[value] = struct{}{}
		m.values++
	}
	changed := false
	for _, f := range fs {
		if utf8.RuneCountInString(f) < max(1, m.cfg.MinLength) {
			continue
		}
		if _, ok := m.forms[f]; !ok {
			m.forms[f] = struct{}{}
			m.pending = append(m.pending, f)
			changed = true
		}
	}
	if changed {
		m.dirty.Store(true)
	}
	return warns
}

// String describes m without its secrets, so printing a Masker by mistake leaks nothing.
func (m *Masker) String() string { return fmt.Sprintf("mask.Masker{secrets: %d}", m.Len()) }

// GoString is String, for %#v.
func (m *Masker) GoString() string { return m.String() }

// LogValue redacts m in structured logs.
func (m *Masker) LogValue() slog.Value { return slog.GroupValue(slog.Int("secrets", m.Len())) }

// Len returns the number of distinct secret values added.
func (m *Masker) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values
}

// snapshot is the immutable matching state Writers read: a base matcher and a delta for
// the forms added since the base was built. Adding a secret rebuilds only the delta; the
// delta is merged into the base once it outgrows a quarter of it, so adding N forms one at a
// time between writes costs O(N) merges in total instead of a full rebuild per secret.
type snapshot struct {
	base, delta *matcher
}

// deltaMin is how many pending forms the delta may hold, whatever the base's size.
const deltaMin = 256

// snapshot returns the matching state for the forms registered so far, building it if Add
// ran since the last build. Building is deferred to the first use so that adding many
// secrets in a row builds once.
func (m *Masker) snapshot() *snapshot {
	if !m.dirty.Load() {
		if sn := m.cur.Load(); sn != nil {
			return sn
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sn := m.cur.Load()
	if sn != nil && !m.dirty.Load() {
		return sn
	}
	next := &snapshot{}
	if sn != nil {
		next.base = sn.base
	}
	if next.base == nil || len(m.pending) > deltaMin+len(m.base)/4 {
		m.base = append(m.base, m.pending...)
		m.pending = nil
		next.base = newMatcher(m.base)
	}
	if len(m.pending) > 0 {
		next.delta = newMatcher(m.pending)
	}
	m.cur.Store(next)
	m.dirty.Store(false)
	return next
}

// find appends the spans of every registered form in data, unordered.
func (sn *snapshot) find(data []byte, spans []span) []span {
	spans = sn.base.find(data, spans)
	if sn.delta != nil {
		spans = sn.delta.find(data, spans)
	}
	return spans
}

// holdStart is matcher.holdStart over both matchers.
func (sn *snapshot) holdStart(data []byte) int {
	h := sn.base.holdStart(data)
	if sn.delta != nil {
		h = min(h, sn.delta.holdStart(data))
	}
	return h
}

// scan returns the spans to mask in data, sorted by start, given the URL state before data.
func scan(sn *snapshot, data []byte, st urlState, spans []span) []span {
	spans = sn.find(data, spans[:0])
	spans = findURL(data, st, spans)
	if len(spans) > 1 {
		slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	}
	return spans
}

// Mask returns s with every registered secret masked. s is treated as complete text: a
// secret cut off at its end is not masked.
func (m *Masker) Mask(s string) string {
	out := m.AppendMask(nil, []byte(s))
	if string(out) == s {
		return s
	}
	return string(out)
}

// AppendMask appends src, masked, to dst and returns the extended slice. src is treated as
// complete text, like Mask.
func (m *Masker) AppendMask(dst, src []byte) []byte {
	spans := scan(m.snapshot(), src, urlState{}, nil)
	dst, _ = appendMasked(dst, src, spans, len(src), -1)
	return dst
}

// Contains reports whether data holds a registered secret or a URL password, for scanning
// files (artifacts, attachments) that do not pass through a Writer.
func (m *Masker) Contains(data []byte) bool {
	return len(scan(m.snapshot(), data, urlState{}, nil)) > 0
}

// appendMasked appends data[:h] to dst with the spans starting before h masked. open is the
// end of a mask already emitted that touches data[0] (-1 if none): bytes before it are not
// emitted again and spans starting at or before it merge into it. It returns the end of the
// last mask (-1 if none), which may lie beyond h.
func appendMasked(dst, data []byte, spans []span, h, open int) ([]byte, int) {
	from := max(open, 0)
	for _, s := range spans {
		if s.start >= h {
			break
		}
		if open >= 0 && s.start <= open {
			open = max(open, s.end)
			from = max(from, open)
			continue
		}
		dst = append(dst, data[from:s.start]...)
		dst = append(dst, Replacement...)
		open = s.end
		from = open
	}
	if from < h {
		dst = append(dst, data[from:h]...)
	}
	return dst, open
}
