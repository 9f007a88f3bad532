package keyvault

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/keystage/keystage/internal/jsonappend"
)

// storedEvent is how an Event is stored: short keys, the time in Unix nanoseconds, and no
// vault (the batch's key names it). Audit batches are written at the data plane's request
// rate, so their encoding is appended by hand (appendEvents) and only the rare queries
// decode with encoding/json.
type storedEvent struct {
	Time       int64  `json:"t"`
	RequestID  string `json:"r,omitempty"`
	Operation  string `json:"o"`
	SecretName string `json:"n,omitempty"`
	Version    string `json:"v,omitempty"`
	Status     int    `json:"s"`
	ErrorCode  string `json:"e,omitempty"`
	TenantID   string `json:"ti,omitempty"`
	ObjectID   string `json:"oi,omitempty"`
	AppID      string `json:"ai,omitempty"`
	ClientIP   string `json:"ip,omitempty"`
	APIVersion string `json:"av,omitempty"`
	DurationMS int64  `json:"d,omitempty"`
}

// appendEvents appends evs as the JSON array of their storedEvent forms, as encoding/json
// would encode it.
func appendEvents(dst []byte, evs []Event) []byte {
	dst = append(dst, '[')
	for i := range evs {
		e := &evs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"t":`...)
		dst = strconv.AppendInt(dst, e.Time.UnixNano(), 10)
		dst = appendField(dst, "r", e.RequestID)
		dst = append(dst, `,"o":`...)
		dst = jsonappend.String(dst, e.Operation)
		dst = appendField(dst, "n", e.SecretName)
		dst = appendField(dst, "v", e.Version)
		dst = append(dst, `,"s":`...)
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
		dst = appendField(dst, "e", e.ErrorCode)
		dst = appendField(dst, "ti", e.TenantID)
		dst = appendField(dst, "oi", e.ObjectID)
		dst = appendField(dst, "ai", e.AppID)
		dst = appendField(dst, "ip", e.ClientIP)
		dst = appendField(dst, "av", e.APIVersion)
		if e.DurationMS != 0 {
			dst = append(dst, `,"d":`...)
			dst = strconv.AppendInt(dst, e.DurationMS, 10)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendField appends ,"key":"value" unless value is empty (omitempty).
func appendField(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return jsonappend.String(dst, value)
}

// decodeEvents decodes a stored batch of vault's events.
func decodeEvents(raw []byte, vault string) ([]Event, error) {
	var stored []storedEvent
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, err
	}
	out := make([]Event, len(stored))
	for i, s := range stored {
		out[i] = Event{
			Time: time.Unix(0, s.Time).UTC(), RequestID: s.RequestID, Vault: vault, Operation: s.Operation,
			SecretName: s.SecretName, Version: s.Version, Status: s.Status, ErrorCode: s.ErrorCode,
			TenantID: s.TenantID, ObjectID: s.ObjectID, AppID: s.AppID, ClientIP: s.ClientIP,
			APIVersion: s.APIVersion, DurationMS: s.DurationMS,
		}
	}
	return out, nil
}
