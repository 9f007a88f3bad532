package kvhttp

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendBundle appends the JSON of b, byte for byte what encoding/json produces for it
// (FuzzAppendBundle holds it to that), without reflection: a secret bundle is the body of
// every get, the data plane's hot path.
func appendBundle(dst []byte, b *wireBundle) []byte {
	dst = append(dst, '{')
	if b.Value != nil {
		dst = append(dst, `"value":`...)
		dst = appendString(dst, *b.Value)
		dst = append(dst, ',')
	}
	dst = append(dst, `"id":`...)
	dst = appendString(dst, b.ID)
	if b.ContentType != "" {
		dst = append(dst, `,"contentType":`...)
		dst = appendString(dst, b.ContentType)
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
	dst = appendString(dst, a.RecoveryLevel)
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
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, b.Tags[k])
		}
		dst = append(dst, '}')
	}
	if b.RecoveryID != "" {
		dst = append(dst, `,"recoveryId":`...)
		dst = appendString(dst, b.RecoveryID)
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

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does: with <, > and &
// escaped for HTML, U+2028 and U+2029 escaped for JavaScript, and invalid UTF-8 replaced by
// U+FFFD. (Hand-written rather than encoding/json's, which is not exported, for the same
// reason as appendBundle.)
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
		dst = appendString(dst, *l.NextLink)
	}
	return append(dst, '}')
}
