package federation_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keystage/keystage/internal/identity/federation"
	"github.com/keystage/keystage/internal/identity/federation/fedtest"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func validClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": "https://issuer.example", "sub": "s", "aud": fedtest.Audience,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(),
	}
}

func TestParseValid(t *testing.T) {
	key := fedtest.Key(t, 0)
	raw := fedtest.SignWith(t, key, map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}, validClaims())
	a, err := federation.Parse(raw)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if a.Issuer != "https://issuer.example" || a.Subject != "s" || a.KeyID != "k1" || len(a.Audience) != 1 {
		t.Errorf("Parse = %+v", a)
	}
}

// hs256 signs header.payload with HMAC-SHA256 under secret (the RS→HS confusion attack
// uses the issuer's public key bytes as the secret).
func hs256(header, payload string, secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(b64(header) + "." + b64(payload)))
	return b64(header) + "." + b64(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestParseRejects(t *testing.T) {
	key := fedtest.Key(t, 0)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	good := `{"iss":"https://issuer.example","sub":"s","aud":"api://AzureADTokenExchange","exp":4102444800}`
	rs := func(header, payload string) string {
		return fedtest.SignRaw(t, key, []byte(header), []byte(payload))
	}
	cases := []struct {
		name string
		raw  string
	}{
		{"alg none", b64(`{"alg":"none","kid":"k"}`) + "." + b64(good) + "."},
		{"alg HS256 with public key bytes", hs256(`{"alg":"HS256","kid":"k"}`, good, pubDER)},
		{"alg PS256", rs(`{"alg":"PS256","kid":"k"}`, good)},
		{"alg ES256", rs(`{"alg":"ES256","kid":"k"}`, good)},
		{"alg rs256 lower case", rs(`{"alg":"rs256","kid":"k"}`, good)},
		{"no alg", rs(`{"kid":"k"}`, good)},
		{"no kid", rs(`{"alg":"RS256"}`, good)},
		{"kid not a string", rs(`{"alg":"RS256","kid":7}`, good)},
		{"kid 10 KB", rs(`{"alg":"RS256","kid":"`+strings.Repeat("a", 10<<10)+`"}`, good)},
		{"crit header", rs(`{"alg":"RS256","kid":"k","crit":["exp"],"exp":1}`, good)},
		{"crit b64", rs(`{"alg":"RS256","kid":"k","crit":["b64"],"b64":false}`, good)},
		{"zip header", rs(`{"alg":"RS256","kid":"k","zip":"DEF"}`, good)},
		{"duplicate header key", rs(`{"alg":"RS256","kid":"k","kid":"j"}`, good)},
		{"duplicate sub", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","sub":"b","aud":"x","exp":4102444800}`)},
		{"duplicate nested key", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x","exp":4102444800,"x":{"a":1,"a":2}}`)},
		{"non-UTF-8 payload", rs(`{"alg":"RS256","kid":"k"}`, "{\"iss\":\"https://i\",\"sub\":\"\xff\",\"aud\":\"x\",\"exp\":4102444800}")},
		{"payload not an object", rs(`{"alg":"RS256","kid":"k"}`, `["iss"]`)},
		{"trailing data", rs(`{"alg":"RS256","kid":"k"}`, good+`{}`)},
		{"deep nesting", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x","exp":4102444800,"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`)},
		{"no exp", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x"}`)},
		{"exp string", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x","exp":"4102444800"}`)},
		{"exp null", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x","exp":null}`)},
		{"exp negative", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x","exp":-1}`)},
		{"exp huge", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x","exp":1e300}`)},
		{"nbf string", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"a","aud":"x","exp":4102444800,"nbf":"1"}`)},
		{"iss number", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":1,"sub":"a","aud":"x","exp":4102444800}`)},
		{"no iss", rs(`{"alg":"RS256","kid":"k"}`, `{"sub":"a","aud":"x","exp":4102444800}`)},
		{"no sub", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","aud":"x","exp":4102444800}`)},
		{"padded base64", b64(`{"alg":"RS256","kid":"k"}`) + "=." + b64(good) + ".c2ln"},
		{"standard base64 alphabet", "eyJhbGciOiJSUzI1NiIsImtpZCI6Ik+/In0." + b64(good) + ".c2ln"},
		{"JWE five parts", "a.b.c.d.e"},
		{"two parts", b64(`{"alg":"RS256"}`) + "." + b64(good)},
		{"100k dots", strings.Repeat(".", 100000)},
		{"over 16 KB", rs(`{"alg":"RS256","kid":"k"}`, `{"iss":"https://i","sub":"`+strings.Repeat("a", 17<<10)+`","aud":"x","exp":4102444800}`)},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`},
		{"empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := federation.Parse(tc.raw)
			if !errors.Is(err, federation.ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want ErrMalformed", a, err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	key := fedtest.Key(f, 0)
	f.Add(fedtest.SignWith(f, key, map[string]any{"alg": "RS256", "kid": "k"}, validClaims()))
	f.Add(b64(`{"alg":"none"}`) + "." + b64(`{}`) + ".")
	f.Add("a.b.c.d.e")
	f.Add(b64(`{"alg":"RS256","kid":"k"}`) + "." + b64(`{"iss":"x","sub":"y","aud":["a",""],"exp":1}`) + ".AA")
	f.Add(b64(`{"alg":"RS256","kid":"k","crit":["b64"]}`) + "." + b64(`{"a":{"b":[1,2,{"c":null}]}}`) + ".AA")
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := federation.Parse(raw)
		if err != nil {
			if !errors.Is(err, federation.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if a.Issuer == "" || a.Subject == "" || a.KeyID == "" || a.Expiry.IsZero() {
			t.Fatalf("Parse accepted an assertion missing required fields: %+v", a)
		}
		if len(raw) > federation.MaxAssertionBytes {
			t.Fatalf("Parse accepted %d bytes", len(raw))
		}
	})
}
