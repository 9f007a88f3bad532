package cli

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Encodings of `keyvault secret set --file` and `download`, as az: text encodings store
// the file's text, binary encodings store base64 (76-character lines, as Python's
// encodebytes) or lower-case hex.
var secretEncodings = []string{"utf-8", "utf-16le", "utf-16be", "ascii", "base64", "hex"}

// encodeSecretFile turns file bytes into the secret value for an encoding.
func encodeSecretFile(data []byte, encoding string) (string, error) {
	switch encoding {
	case "utf-8":
		if !utf8.Valid(data) {
			return "", fmt.Errorf("unable to decode the file with 'utf-8' encoding")
		}
		return string(data), nil
	case "ascii":
		for _, b := range data {
			if b >= 0x80 {
				return "", fmt.Errorf("unable to decode the file with 'ascii' encoding")
			}
		}
		return string(data), nil
	case "utf-16le", "utf-16be":
		if len(data)%2 != 0 {
			return "", fmt.Errorf("unable to decode the file with '%s' encoding: odd length", encoding)
		}
		var order binary.ByteOrder = binary.LittleEndian
		if encoding == "utf-16be" {
			order = binary.BigEndian
		}
		units := make([]uint16, len(data)/2)
		for i := range units {
			units[i] = order.Uint16(data[2*i:])
		}
		runes := utf16.Decode(units)
		for _, r := range runes {
			if r == utf8.RuneError {
				return "", fmt.Errorf("unable to decode the file with '%s' encoding", encoding)
			}
		}
		return string(runes), nil
	case "base64":
		enc := base64.StdEncoding.EncodeToString(data)
		var b strings.Builder
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteByte('\n')
			enc = enc[76:]
		}
		if enc != "" {
			b.WriteString(enc)
			b.WriteByte('\n')
		}
		return b.String(), nil
	case "hex":
		return hex.EncodeToString(data), nil
	}
	return "", fmt.Errorf("invalid encoding '%s' (choose from %s)", encoding, strings.Join(quoteAll(secretEncodings), ", "))
}

// decodeSecretFile turns a secret value back into file bytes for an encoding.
func decodeSecretFile(value, encoding string) ([]byte, error) {
	switch encoding {
	case "utf-8", "ascii":
		return []byte(value), nil
	case "utf-16le", "utf-16be":
		units := utf16.Encode([]rune(value))
		out := make([]byte, 2*len(units))
		for i, u := range units {
			if encoding == "utf-16le" {
				binary.LittleEndian.PutUint16(out[2*i:], u)
			} else {
				binary.BigEndian.PutUint16(out[2*i:], u)
			}
		}
		return out, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(value), ""))
		if err != nil {
			return nil, fmt.Errorf("the secret is not valid base64: %v", err)
		}
		return b, nil
	case "hex":
		b, err := hex.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("the secret is not valid hex: %v", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("invalid encoding '%s' (choose from %s)", encoding, strings.Join(quoteAll(secretEncodings), ", "))
}

// secretID is a parsed Key Vault object id: https://HOST/secrets/NAME[/VERSION] or
// https://HOST/deletedsecrets/NAME.
type secretID struct {
	vault   string // https://HOST
	kind    string // "secrets" or "deletedsecrets"
	name    string
	version string
}

// parseSecretID parses --id.
func parseSecretID(id string) (secretID, error) {
	rest, ok := strings.CutPrefix(id, "https://")
	if !ok {
		return secretID{}, usageErrorf("argument --id: %q is not a Key Vault secret id (https://VAULT/secrets/NAME[/VERSION])", truncateText(id, 80))
	}
	parts := strings.Split(strings.TrimRight(rest, "/"), "/")
	if len(parts) < 3 || len(parts) > 4 || parts[0] == "" || parts[2] == "" {
		return secretID{}, usageErrorf("argument --id: %q is not a Key Vault secret id (https://VAULT/secrets/NAME[/VERSION])", truncateText(id, 80))
	}
	kind := strings.ToLower(parts[1])
	if kind != "secrets" && kind != "deletedsecrets" || kind == "deletedsecrets" && len(parts) == 4 {
		return secretID{}, usageErrorf("argument --id: %q is not a Key Vault secret id (https://VAULT/secrets/NAME[/VERSION])", truncateText(id, 80))
	}
	s := secretID{vault: "https://" + parts[0], kind: kind, name: parts[2]}
	if len(parts) == 4 {
		s.version = parts[3]
	}
	for _, p := range parts[2:] {
		if strings.ContainsAny(p, "?#%") {
			return secretID{}, usageErrorf("argument --id: %q has an invalid name or version", truncateText(id, 80))
		}
	}
	return s, nil
}

// azTime renders a Key Vault Unix timestamp as az prints datetimes.
func azTime(v any) any {
	f, ok := v.(float64)
	if !ok {
		return nil
	}
	return time.Unix(int64(f), 0).UTC().Format("2006-01-02T15:04:05+00:00")
}

// secretResult reshapes a secret bundle or item into the object az prints: attributes with
// datetimes (created, enabled, expires, notBefore, recoverableDays, recoveryLevel,
// updated), contentType, id, managed, name and tags; kid and value for bundles (value
// null when withValue is false); deletedDate, recoveryId and scheduledPurgeDate for
// deleted secrets.
func secretResult(v any, bundle, withValue, deleted bool) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	attrs, _ := m["attributes"].(map[string]any)
	id, _ := m["id"].(string)
	out := map[string]any{
		"attributes": map[string]any{
			"created":         azTime(attrs["created"]),
			"enabled":         attrs["enabled"],
			"expires":         azTime(attrs["exp"]),
			"notBefore":       azTime(attrs["nbf"]),
			"recoverableDays": attrs["recoverableDays"],
			"recoveryLevel":   attrs["recoveryLevel"],
			"updated":         azTime(attrs["updated"]),
		},
		"contentType": m["contentType"],
		"id":          m["id"],
		"managed":     m["managed"],
		"name":        secretNameOf(id),
		"tags":        m["tags"],
	}
	if bundle {
		out["kid"] = m["kid"]
		out["value"] = nil
		if withValue {
			out["value"] = m["value"]
		}
	}
	if deleted {
		out["deletedDate"] = azTime(m["deletedDate"])
		out["recoveryId"] = m["recoveryId"]
		out["scheduledPurgeDate"] = azTime(m["scheduledPurgeDate"])
	}
	return out
}

// secretNameOf returns the NAME of https://HOST/secrets/NAME[/VERSION].
func secretNameOf(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) > 4 {
		return parts[4]
	}
	return ""
}
