package kvhttp

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAppendBundleMatchesEncodingJSON(t *testing.T) {
	v, nbf := "s3cr<e>t & \"q\" \\ \n\t\b\f\x00\x1f \u2028\u2029 é ✓ \xff\xfe", int64(-5)
	next := "https://v/secrets?api-version=7.6&$skiptoken=abc"
	bundles := []wireBundle{
		{ID: "https://v/secrets/n/0123"},
		{Value: &v, ID: "https://v/secrets/n", ContentType: "text/<plain>", Tags: map[string]string{"b": "2", "a": v, "": ""},
			Attributes: wireAttributes{Enabled: true, NotBefore: &nbf, Expires: &nbf, Created: 1, Updated: 2, RecoveryLevel: "Recoverable", RecoverableDays: 90},
			RecoveryID: "https://v/deletedsecrets/n", DeletedDate: 3, ScheduledPurgeDate: 4},
	}
	for _, b := range bundles {
		want, _ := json.Marshal(b)
		if got := appendBundle(nil, &b); !bytes.Equal(got, want) {
			t.Errorf("appendBundle:\n got %s\nwant %s", got, want)
		}
	}
	for _, l := range []wireList{{Value: []wireBundle{}}, {Value: bundles, NextLink: &next}} {
		want, _ := json.Marshal(l)
		if got := appendList(nil, &l); !bytes.Equal(got, want) {
			t.Errorf("appendList:\n got %s\nwant %s", got, want)
		}
	}
}

// FuzzAppendBundle holds the hand-written encoder to encoding/json's output, byte for byte.
func FuzzAppendBundle(f *testing.F) {
	f.Add("value", "id", "ct", "k", "v", int64(1), true)
	f.Add("<>&\u2028\xff\"\\\n", "", "", "", "", int64(-1), false)
	f.Add("\x00\x7f\u00e9\U0001f600", "a\tb", "\r", "\x80", "\xed\xa0\x80", int64(1<<62), true)
	f.Fuzz(func(t *testing.T, value, id, ct, tagK, tagV string, n int64, enabled bool) {
		b := wireBundle{
			Value: &value, ID: id, ContentType: ct, Tags: map[string]string{tagK: tagV, "z" + tagK: tagV},
			Attributes: wireAttributes{Enabled: enabled, NotBefore: &n, Created: n, Updated: -n, RecoveryLevel: ct, RecoverableDays: int(n % 100)},
			RecoveryID: id, DeletedDate: n, ScheduledPurgeDate: n,
		}
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got := appendBundle(nil, &b)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendBundle:\n got %q\nwant %q", got, want)
		}
	})
}
