// Package barrier encrypts everything Keystage stores: it wraps a physical storage.Backend
// and seals every value with AES-256-GCM under a keyring of data keys, binding each
// ciphertext to its storage key so it cannot be moved.
//
// The keyring lives in the backend itself, sealed with the root key. Rotation adds a new
// term whose key seals new writes; older terms stay in the keyring so existing entries stay
// readable without being rewritten. Keys under the reserved prefix "barrier/" are the
// barrier's own and cannot be read or written through it.
package barrier

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keystage/keystage/internal/storage"
)

const (
	// ReservedPrefix is the key prefix the barrier keeps for itself.
	ReservedPrefix = "barrier/"
	keyringKey     = ReservedPrefix + "keyring"

	version    = 1
	headerSize = 4 + 1 // term (big-endian) + version
	nonceSize  = 12
	tagSize    = 16
	// overhead is what sealing adds to a plaintext.
	overhead = headerSize + nonceSize + tagSize
)

var (
	// ErrNotInitialized means the backend holds no keyring yet.
	ErrNotInitialized = errors.New("barrier: storage is not initialized (no keyring)")
	// ErrWrongRootKey means the root key does not open the stored keyring.
	ErrWrongRootKey = errors.New("barrier: the root key does not open this database's keyring (wrong root key?)")
	// ErrReserved is returned for keys under ReservedPrefix.
	ErrReserved = errors.New("barrier: key is reserved")
	// ErrCorrupt means a stored value failed authentication or is malformed.
	ErrCorrupt = errors.New("barrier: value failed authentication or is malformed")
)

// Barrier is an encrypting storage.Backend. It is safe for concurrent use.
type Barrier struct {
	phys storage.Backend
	root cipher.AEAD
	ring atomic.Pointer[keyring]
	mu   sync.Mutex // serializes keyring changes and reloads
}

var _ storage.Backend = (*Barrier)(nil)

// Options control Open.
type Options struct {
	// Create initializes a new keyring when the backend has none. Without it, an
	// uninitialized backend gives ErrNotInitialized, so that a lost root key is never
	// silently replaced.
	Create bool
}

// Open unseals the keyring in phys with rootKey (32 bytes) and returns the barrier. A wrong
// root key fails closed with ErrWrongRootKey.
func Open(ctx context.Context, phys storage.Backend, rootKey []byte, opts Options) (*Barrier, error) {
	root, err := newAEAD(rootKey)
	if err != nil {
		return nil, fmt.Errorf("barrier: root key: %w", err)
	}
	b := &Barrier{phys: phys, root: root}
	if err := b.load(ctx); err == nil {
		return b, nil
	} else if !errors.Is(err, ErrNotInitialized) || !opts.Create {
		return nil, err
	}
	err = phys.Update(ctx, func(tx storage.Store) error {
		if _, err := tx.Get(ctx, keyringKey); err == nil {
			return nil // initialized concurrently: load it below
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		kr, err := newKeyring()
		if err != nil {
			return err
		}
		return b.storeKeyring(ctx, tx, kr)
	})
	if err != nil {
		return nil, fmt.Errorf("barrier: initialize: %w", err)
	}
	if err := b.load(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Initialized reports whether phys already holds a keyring.
func Initialized(ctx context.Context, phys storage.Store) (bool, error) {
	_, err := phys.Get(ctx, keyringKey)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("barrier: %w", err)
	}
	return true, nil
}

// load reads and opens the stored keyring.
func (b *Barrier) load(ctx context.Context) error {
	raw, err := b.phys.Get(ctx, keyringKey)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNotInitialized
	}
	if err != nil {
		return fmt.Errorf("barrier: read keyring: %w", err)
	}
	kr, err := b.openKeyring(raw)
	if err != nil {
		return err
	}
	b.ring.Store(kr)
	return nil
}

// openKeyring unseals a stored keyring with the root key and decodes it.
func (b *Barrier) openKeyring(raw []byte) (*keyring, error) {
	plain, err := open(b.root, keyringKey, raw)
	if err != nil {
		return nil, ErrWrongRootKey
	}
	kr, err := decodeKeyring(plain)
	if err != nil {
		return nil, fmt.Errorf("barrier: decode keyring: %w", err)
	}
	return kr, nil
}

func (b *Barrier) storeKeyring(ctx context.Context, tx storage.Store, kr *keyring) error {
	plain, err := kr.encode()
	if err != nil {
		return err
	}
	return tx.Put(ctx, keyringKey, seal(b.root, 0, keyringKey, plain))
}

// Rotate installs a new data key term for new writes and returns it; entries sealed under
// earlier terms stay readable.
func (b *Barrier) Rotate(ctx context.Context) (uint32, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var next *keyring
	err := b.phys.Update(ctx, func(tx storage.Store) error {
		raw, err := tx.Get(ctx, keyringKey)
		if err != nil {
			return err
		}
		cur, err := b.openKeyring(raw)
		if err != nil {
			return err
		}
		if next, err = cur.rotated(); err != nil {
			return err
		}
		return b.storeKeyring(ctx, tx, next)
	})
	if err != nil {
		return 0, fmt.Errorf("barrier: rotate: %w", err)
	}
	b.ring.Store(next)
	return next.active, nil
}

// ActiveTerm returns the term that seals new writes.
func (b *Barrier) ActiveTerm() uint32 { return b.ring.Load().active }

// aeadFor returns the AEAD of term, reloading the keyring once if the term is unknown
// (another process sharing the database may have rotated).
func (b *Barrier) aeadFor(ctx context.Context, term uint32) (cipher.AEAD, error) {
	if a := b.ring.Load().aead(term); a != nil {
		return a, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := b.ring.Load().aead(term); a != nil {
		return a, nil
	}
	if err := b.load(ctx); err != nil {
		return nil, err
	}
	if a := b.ring.Load().aead(term); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("%w: unknown key term %d", ErrCorrupt, term)
}

// seal encrypts plain for storage at key: term | version | nonce | ciphertext | tag, with key
// as associated data.
func seal(a cipher.AEAD, term uint32, key string, plain []byte) []byte {
	out := make([]byte, headerSize, overhead+len(plain))
	binary.BigEndian.PutUint32(out, term)
	out[4] = version
	return a.Seal(out, nil, plain, aad(out[:headerSize], key))
}

// open authenticates and decrypts a sealed value read from key.
func open(a cipher.AEAD, key string, sealed []byte) ([]byte, error) {
	if len(sealed) < overhead || sealed[4] != version {
		return nil, ErrCorrupt
	}
	plain, err := a.Open(nil, nil, sealed[headerSize:], aad(sealed[:headerSize], key))
	if err != nil {
		return nil, ErrCorrupt
	}
	if plain == nil {
		plain = []byte{}
	}
	return plain, nil
}

// aad binds the header (term and version) and the storage key.
func aad(header []byte, key string) []byte {
	out := make([]byte, 0, len(header)+len(key))
	return append(append(out, header...), key...)
}

// termOf reads the term of a sealed value.
func termOf(sealed []byte) (uint32, bool) {
	if len(sealed) < overhead {
		return 0, false
	}
	return binary.BigEndian.Uint32(sealed), true
}

func checkKey(key string) error {
	if strings.HasPrefix(key, ReservedPrefix) {
		return fmt.Errorf("%w: %q", ErrReserved, key)
	}
	return nil
}
