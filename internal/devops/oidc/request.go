package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/keystage/keystage/internal/fault"
)

// MaxBodyBytes bounds an oidctoken request body.
const MaxBodyBytes = 16 << 10

// DecodeClaims decodes the body of an oidctoken request: empty (azidentity sends none),
// JSON null (the .NET agent's claims: null), or a JSON object of string values (the Go and
// Node clients send {} or a claims map). Anything else is a 400 *fault.Error. A UTF-8 BOM
// and surrounding whitespace are ignored.
func DecodeClaims(body []byte) (map[string]string, error) {
	if len(body) > MaxBodyBytes {
		return nil, fault.New(fault.TooLarge, CodeArgument, "The request body is larger than %d bytes.", MaxBodyBytes)
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil, nil
	}
	if !utf8.Valid(body) {
		return nil, badBody("is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, badBody("must be empty, null or a JSON object of claim names to string values")
	}
	claims := map[string]string{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, badBody("is not valid JSON")
		}
		key, _ := kt.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, badBody("is not valid JSON")
		}
		s, ok := v.(string)
		if !ok {
			return nil, badBody("must map claim names to string values")
		}
		if _, dup := claims[key]; dup {
			return nil, badBody("names a claim twice")
		}
		claims[key] = s
	}
	if _, err := dec.Token(); err != nil {
		return nil, badBody("is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badBody("has data after the JSON object")
	}
	return claims, nil
}

func badBody(why string) error {
	return fault.New(fault.BadRequest, CodeArgument, "The request body %s.", why)
}
