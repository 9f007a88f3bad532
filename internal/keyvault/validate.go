package keyvault

import (
	"time"
	"unicode/utf8"
)

// Limits Key Vault enforces on secrets (keyvault.md §1.6).
const (
	MaxNameLength        = 127
	MaxValueBytes        = 25600
	MaxContentTypeLength = 255
	MaxTags              = 15
	MaxTagNameLength     = 512
	MaxTagValueLength    = 512
	// MaxBackupVersions is the most versions one backup blob may hold.
	MaxBackupVersions = 500
	// MaxPageSize is the largest maxresults a listing accepts, and its default.
	MaxPageSize = 25
)

// Bounds of nbf and exp: Unix seconds from 1970 to the end of year 9999.
const (
	minUnix = 0
	maxUnix = 253402300799
)

// ValidName reports whether name is a valid secret name: 1–127 of [0-9a-zA-Z-].
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

// ValidVersion reports whether v has the form of a version id: 32 hex digits (either case;
// the service lower-cases them).
func ValidVersion(v string) bool {
	if len(v) != 32 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !ValidName(name) {
		return ErrInvalidName(name)
	}
	return nil
}

func checkValue(v string) error {
	if len(v) > MaxValueBytes {
		return BadParameter("The secret value is %d bytes long; the maximum is %d bytes.", len(v), MaxValueBytes)
	}
	if !utf8.ValidString(v) {
		return BadParameter("The secret value is not valid UTF-8.")
	}
	return nil
}

func checkContentType(ct string) error {
	if n := utf8.RuneCountInString(ct); n > MaxContentTypeLength {
		return BadParameter("contentType is %d characters long; the maximum is %d.", n, MaxContentTypeLength)
	}
	return nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return BadParameter("There are %d tags; a secret can have at most %d.", len(tags), MaxTags)
	}
	for k, v := range tags {
		switch {
		case k == "":
			return BadParameter("A tag name cannot be empty.")
		case utf8.RuneCountInString(k) > MaxTagNameLength:
			return BadParameter("The tag name %q is longer than %d characters.", clip(k), MaxTagNameLength)
		case utf8.RuneCountInString(v) > MaxTagValueLength:
			return BadParameter("The value of tag %q is longer than %d characters.", clip(k), MaxTagValueLength)
		}
	}
	return nil
}

func checkTime(field string, t *time.Time) error {
	if t == nil {
		return nil
	}
	if u := t.Unix(); u < minUnix || u > maxUnix {
		return BadParameter("attributes.%s must be a Unix time in seconds between %d and %d.", field, minUnix, maxUnix)
	}
	return nil
}

// check validates SetParams against Key Vault's limits.
func (p SetParams) check() error {
	if err := checkValue(p.Value); err != nil {
		return err
	}
	if err := checkContentType(p.ContentType); err != nil {
		return err
	}
	if err := checkTags(p.Tags); err != nil {
		return err
	}
	if err := checkTime("nbf", p.NotBefore); err != nil {
		return err
	}
	return checkTime("exp", p.Expires)
}

// check validates UpdateParams against Key Vault's limits.
func (p UpdateParams) check() error {
	if p.ContentType != nil {
		if err := checkContentType(*p.ContentType); err != nil {
			return err
		}
	}
	if err := checkTags(p.Tags); err != nil {
		return err
	}
	if err := checkTime("nbf", p.NotBefore); err != nil {
		return err
	}
	return checkTime("exp", p.Expires)
}

func (r PageRequest) size() (int, error) {
	switch {
	case r.Max == 0:
		return MaxPageSize, nil
	case r.Max < 1 || r.Max > MaxPageSize:
		return 0, BadParameter("maxresults must be between 1 and %d.", MaxPageSize)
	}
	return r.Max, nil
}
