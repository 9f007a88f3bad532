package barrier

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ParseRootKey decodes a root key given as standard or URL-safe base64 of 32 bytes (the
// form of the key file and of KEYSTAGE_ROOT_KEY).
func ParseRootKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("barrier: root key must decode to 32 bytes, got %d", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("barrier: root key is not base64")
}

// ReadRootKeyFile reads a root key file, refusing one that other users can read.
func ReadRootKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("barrier: root key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("barrier: root key file %s has mode %v; it must not be accessible to group or others (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("barrier: root key file: %w", err)
	}
	return ParseRootKey(string(b))
}

// CreateRootKeyFile generates a new root key and writes it to path with mode 0600; it
// fails if the file already exists.
func CreateRootKeyFile(path string) ([]byte, error) {
	key, err := randomKey()
	if err != nil {
		return nil, fmt.Errorf("barrier: generate root key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("barrier: create root key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("barrier: write root key file: %w", err)
	}
	return key, nil
}
