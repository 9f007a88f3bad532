package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretResult(t *testing.T) {
	bundle := mustDecode(t, `{"value":"v","id":"https://kv.vault.localhost:8443/secrets/db/0123","contentType":"text/plain",
		"attributes":{"enabled":true,"created":1700000000,"updated":1700000001,"exp":1900000000,"recoveryLevel":"Recoverable+Purgeable","recoverableDays":90},
		"tags":{"a":"b"},"recoveryId":"https://kv.vault.localhost:8443/deletedsecrets/db","deletedDate":1700000002,"scheduledPurgeDate":1707776002}`)
	attrs := map[string]any{"created": "2023-11-14T22:13:20+00:00", "enabled": true, "expires": "2030-03-17T17:46:40+00:00", "notBefore": nil,
		"recoverableDays": 90.0, "recoveryLevel": "Recoverable+Purgeable", "updated": "2023-11-14T22:13:21+00:00"}
	base := map[string]any{"attributes": attrs, "contentType": "text/plain", "id": "https://kv.vault.localhost:8443/secrets/db/0123",
		"managed": nil, "name": "db", "tags": map[string]any{"a": "b"}}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name                   string
		bundle, value, deleted bool
		want                   map[string]any
	}{
		{"list item", false, false, false, with(nil)},
		{"show", true, true, false, with(map[string]any{"kid": nil, "value": "v"})},
		{"set-attributes", true, false, false, with(map[string]any{"kid": nil, "value": nil})},
		{"delete", true, false, true, with(map[string]any{"kid": nil, "value": nil, "deletedDate": "2023-11-14T22:13:22+00:00",
			"recoveryId": "https://kv.vault.localhost:8443/deletedsecrets/db", "scheduledPurgeDate": "2024-02-12T22:13:22+00:00"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := secretResult(bundle, tt.bundle, tt.value, tt.deleted)
			if diff := cmp.Diff(any(tt.want), got); diff != "" {
				t.Errorf("secretResult (-want +got):\n%s", diff)
			}
		})
	}
}
