package kvhttp

import (
	"slices"
	"strconv"

	"github.com/keystage/keystage/internal/jsonappend"
)

// appendBundle appends the JSON of b, byte for byte what encoding/json produces for it
// (FuzzAppendBundle holds it to that), without reflection: a secret bundle is the body of
// every get, the data plane's hot path.
func appendBundle(dst []byte, b *wireBundle) []byte {
	dst = append(dst, '{')
	if b.Value != nil {
		dst = append(dst, `"value":`...)
		dst = jsonappend.String(dst, *b.Value)
		dst = append(dst, ',')
	}
	dst = append(dst, `"id":`...)
	dst = jsonappend.String(dst, b.ID)
	if b.ContentType != "" {
		dst = append(dst, `,"contentType":`...)
		dst = jsonappend.String(dst, b.ContentType)
	}
	a := &b.Attributes
	dst = append(dst, `,"attributes":{"enabled":`...)
	dst = strconv.AppendBool(dst, a.Enabled)
	if a.NotBefore != nil {
		dst = append(dst, `,"nbf":`...)
		dst = strconv.AppendInt(dst, *a.NotBefore, 10)
	}
	if a.Expires != nil {
		dst = append(dst, `,"exp":`...)
		dst = strconv.AppendInt(dst, *a.Expires, 10)
	}
	dst = append(dst, `,"created":`...)
	dst = strconv.AppendInt(dst, a.Created, 10)
	dst = append(dst, `,"updated":`...)
	dst = strconv.AppendInt(dst, a.Updated, 10)
	dst = append(dst, `,"recoveryLevel":`...)
	dst = jsonappend.String(dst, a.RecoveryLevel)
	dst = append(dst, `,"recoverableDays":`...)
	dst = strconv.AppendInt(dst, int64(a.RecoverableDays), 10)
	dst = append(dst, '}')
	if len(b.Tags) > 0 {
		dst = append(dst, `,"tags":{`...)
		keys := make([]string, 0, len(b.Tags))
		for k := range b.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonappend.String(dst, k)
			dst = append(dst, ':')
			dst = jsonappend.String(dst, b.Tags[k])
		}
		dst = append(dst, '}')
	}
	if b.RecoveryID != "" {
		dst = append(dst, `,"recoveryId":`...)
		dst = jsonappend.String(dst, b.RecoveryID)
	}
	if b.DeletedDate != 0 {
		dst = append(dst, `,"deletedDate":`...)
		dst = strconv.AppendInt(dst, b.DeletedDate, 10)
	}
	if b.ScheduledPurgeDate != 0 {
		dst = append(dst, `,"scheduledPurgeDate":`...)
		dst = strconv.AppendInt(dst, b.ScheduledPurgeDate, 10)
	}
	return append(dst, '}')
}

// appendList appends the JSON of l, as encoding/json would.
func appendList(dst []byte, l *wireList) []byte {
	dst = append(dst, `{"value":[`...)
	for i := range l.Value {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendBundle(dst, &l.Value[i])
	}
	dst = append(dst, `],"nextLink":`...)
	if l.NextLink == nil {
		dst = append(dst, "null"...)
	} else {
		dst = jsonappend.String(dst, *l.NextLink)
	}
	return append(dst, '}')
}
