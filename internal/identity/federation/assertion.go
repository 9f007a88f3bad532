package federation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Limits on what Parse accepts.
const (
	// MaxAssertionBytes caps the compact serialization of an assertion.
	MaxAssertionBytes = 16 << 10
	// maxKeyIDBytes caps the kid header; real issuers use thumbprints or short ids.
	maxKeyIDBytes = 256
	// maxJSONDepth caps nesting in the header and payload.
	maxJSONDepth = 32
)

// ErrMalformed means an assertion is not a well-formed RS256 compact JWS with the claims
// Keystage needs. It is returned before any key is fetched.
var ErrMalformed = errors.New("federation: malformed assertion")

// Assertion is a parsed, NOT yet verified client assertion. Its fields are what the token
// claims; trust none of them until Verifier.Verify succeeds.
type Assertion struct {
	Issuer    string
	Subject   string
	Audience  []string
	KeyID     string
	Expiry    time.Time
	NotBefore time.Time // zero when the claim is absent
	IssuedAt  time.Time // zero when the claim is absent

	jws *jose.JSONWebSignature
}

// claims is the payload as it is decoded; types are strict (a numeric "sub" or a string
// "exp" is malformed).
type claims struct {
	Issuer    *string         `json:"iss"`
	Subject   *string         `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Expiry    json.RawMessage `json:"exp"`
	NotBefore json.RawMessage `json:"nbf"`
	IssuedAt  json.RawMessage `json:"iat"`
}

// Parse checks the shape of a client assertion without verifying it: compact JWS only (no
// JWE, no JSON serialization), at most MaxAssertionBytes, header alg exactly RS256 with a
// kid and no crit/zip/enc, header and payload valid UTF-8 JSON objects without duplicate
// keys, and string iss/sub, numeric exp (required), nbf and iat. Key-location headers
// (jku, x5u, jwk, x5c) are ignored: keys only ever come from the issuer's own JWKS.
func Parse(raw string) (*Assertion, error) {
	if len(raw) > MaxAssertionBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxAssertionBytes)
	}
	if strings.Count(raw, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS (expected three dot-separated parts; JWE is not accepted)", ErrMalformed)
	}
	parts := strings.SplitN(raw, ".", 3)
	header, err := decodeSegment(parts[0], "header")
	if err != nil {
		return nil, err
	}
	payload, err := decodeSegment(parts[1], "payload")
	if err != nil {
		return nil, err
	}
	var h struct {
		Alg  *string `json:"alg"`
		Kid  *string `json:"kid"`
		Crit any     `json:"crit"`
		Zip  any     `json:"zip"`
		Enc  any     `json:"enc"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	switch {
	case h.Alg == nil:
		return nil, fmt.Errorf("%w: header has no alg", ErrMalformed)
	case *h.Alg != string(jose.RS256):
		return nil, fmt.Errorf("%w: alg %s is not supported (only RS256)", ErrMalformed, quoteShort(*h.Alg))
	case h.Crit != nil:
		return nil, fmt.Errorf("%w: critical header extensions are not supported", ErrMalformed)
	case h.Zip != nil || h.Enc != nil:
		return nil, fmt.Errorf("%w: zip and enc headers are not accepted", ErrMalformed)
	case h.Kid == nil || *h.Kid == "":
		return nil, fmt.Errorf("%w: header has no kid", ErrMalformed)
	case len(*h.Kid) > maxKeyIDBytes:
		return nil, fmt.Errorf("%w: kid longer than %d bytes", ErrMalformed, maxKeyIDBytes)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	a := &Assertion{KeyID: *h.Kid, jws: jws}
	if err := a.decodeClaims(payload); err != nil {
		return nil, err
	}
	return a, nil
}

// decodeClaims fills a from a payload already checked by decodeSegment.
func (a *Assertion) decodeClaims(payload []byte) error {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if c.Issuer == nil || *c.Issuer == "" {
		return fmt.Errorf("%w: no iss claim", ErrMalformed)
	}
	if c.Subject == nil || *c.Subject == "" {
		return fmt.Errorf("%w: no sub claim", ErrMalformed)
	}
	a.Issuer, a.Subject = *c.Issuer, *c.Subject
	aud, err := decodeAudience(c.Audience)
	if err != nil {
		return err
	}
	a.Audience = aud
	if c.Expiry == nil {
		return fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	if a.Expiry, err = numericDate(c.Expiry, "exp"); err != nil {
		return err
	}
	if c.NotBefore != nil {
		if a.NotBefore, err = numericDate(c.NotBefore, "nbf"); err != nil {
			return err
		}
	}
	if c.IssuedAt != nil {
		if a.IssuedAt, err = numericDate(c.IssuedAt, "iat"); err != nil {
			return err
		}
	}
	return nil
}

// decodeAudience accepts a string or an array of non-empty strings. A missing or empty
// audience decodes to nil (rejected later as an audience mismatch); any other shape — an
// object, a number, an array holding "" or a non-string — is malformed.
func decodeAudience(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []json.RawMessage
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("%w: aud must be a string or an array of strings", ErrMalformed)
	}
	out := make([]string, 0, len(many))
	for _, m := range many {
		var s string
		if err := json.Unmarshal(m, &s); err != nil || s == "" {
			return nil, fmt.Errorf("%w: aud array must hold non-empty strings only", ErrMalformed)
		}
		out = append(out, s)
	}
	return out, nil
}

// numericDate converts a JWT NumericDate (a JSON number of seconds, possibly fractional)
// to a time, refusing strings, null, negative, non-finite and absurdly distant values.
func numericDate(raw json.RawMessage, name string) (time.Time, error) {
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return time.Time{}, fmt.Errorf("%w: %s is not a valid NumericDate", ErrMalformed, name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 253402300799 { // 9999-12-31
		return time.Time{}, fmt.Errorf("%w: %s is not a valid NumericDate", ErrMalformed, name)
	}
	return time.Unix(int64(f), 0), nil
}

// decodeSegment base64url-decodes one JWS part and checks it is a strict JSON object.
func decodeSegment(seg, what string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not unpadded base64url", ErrMalformed, what)
	}
	if err := checkStrictObject(b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return b, nil
}

// checkStrictObject reports whether b is exactly one JSON object, valid UTF-8, nested at
// most maxJSONDepth deep, with no duplicate member names at any depth. encoding/json alone
// would accept duplicates (last wins) and replace invalid UTF-8, so two parsers could
// disagree about a claim.
func checkStrictObject(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return errors.New("not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	if err := checkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// checkObject consumes the members of an object whose '{' was just read.
func checkObject(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("JSON nested too deeply")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("invalid JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return errors.New("invalid JSON")
		}
		if seen[name] {
			return fmt.Errorf("duplicate member %s", quoteShort(name))
		}
		seen[name] = true
		if err := checkValue(dec, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return errors.New("invalid JSON")
	}
	return nil
}

func checkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.New("invalid JSON")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return checkObject(dec, depth+1)
	case '[':
		if depth+1 > maxJSONDepth {
			return errors.New("JSON nested too deeply")
		}
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return errors.New("invalid JSON")
		}
		return nil
	}
	return errors.New("invalid JSON")
}
