package jsonappend

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "<a&b>", "\b\f\n\r\t\x00\x1f\x7f", "é✓\U0001F600", "\u2028\u2029", "\xff\xfe", "a\xedb"} {
		want, _ := json.Marshal(s)
		if got := String(nil, s); !bytes.Equal(got, want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzString holds String to encoding/json's encoding, byte for byte.
func FuzzString(f *testing.F) {
	f.Add("value")
	f.Add("<>&\u2028\xff\"\\\n")
	f.Add("\x00\x7f\u00e9\U0001f600\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String([]byte("x"), s); !bytes.Equal(got[1:], want) {
			t.Fatalf("String(%q) = %s, want %s", s, got[1:], want)
		}
	})
}
