package barrier

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// keyring is an immutable set of data-key terms; rotation makes a new keyring.
type keyring struct {
	active uint32
	terms  map[uint32]term
	macKey []byte
}

type term struct {
	key       []byte
	installed time.Time
	aead      cipher.AEAD
}

// storedKeyring is the keyring's serialized form (sealed with the root key at rest).
type storedKeyring struct {
	Active uint32       `json:"active"`
	Terms  []storedTerm `json:"terms"`
	MACKey []byte       `json:"macKey"`
}

type storedTerm struct {
	Term      uint32    `json:"term"`
	Key       []byte    `json:"key"`
	Installed time.Time `json:"installed"`
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

func randomKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

func newKeyring() (*keyring, error) {
	mac, err := randomKey()
	if err != nil {
		return nil, err
	}
	kr := &keyring{terms: map[uint32]term{}, macKey: mac}
	return kr.rotated()
}

// rotated returns a copy of kr with one more term, which becomes active.
func (kr *keyring) rotated() (*keyring, error) {
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	a, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	next := &keyring{active: kr.active + 1, terms: make(map[uint32]term, len(kr.terms)+1), macKey: kr.macKey}
	for n, t := range kr.terms {
		next.terms[n] = t
	}
	next.terms[next.active] = term{key: key, installed: time.Now().UTC(), aead: a}
	return next, nil
}

func (kr *keyring) aead(n uint32) cipher.AEAD {
	if t, ok := kr.terms[n]; ok {
		return t.aead
	}
	return nil
}

func (kr *keyring) encode() ([]byte, error) {
	s := storedKeyring{Active: kr.active, MACKey: kr.macKey}
	for n := uint32(1); n <= kr.active; n++ {
		if t, ok := kr.terms[n]; ok {
			s.Terms = append(s.Terms, storedTerm{Term: n, Key: t.key, Installed: t.installed})
		}
	}
	return json.Marshal(s)
}

func decodeKeyring(b []byte) (*keyring, error) {
	var s storedKeyring
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if len(s.MACKey) != 32 {
		return nil, errors.New("keyring has no valid MAC key")
	}
	kr := &keyring{active: s.Active, terms: map[uint32]term{}, macKey: s.MACKey}
	for _, t := range s.Terms {
		a, err := newAEAD(t.Key)
		if err != nil {
			return nil, fmt.Errorf("term %d: %w", t.Term, err)
		}
		kr.terms[t.Term] = term{key: t.Key, installed: t.Installed, aead: a}
	}
	if _, ok := kr.terms[kr.active]; !ok {
		return nil, fmt.Errorf("active term %d missing", kr.active)
	}
	return kr, nil
}

// MAC returns HMAC-SHA256 of msg under the barrier's MAC key, domain-separated by purpose.
// Keystage stores client secrets and similar credentials only as such keyed hashes; compare
// them with hmac.Equal (constant time). The MAC key never rotates, so stored hashes stay
// verifiable.
func (b *Barrier) MAC(purpose string, msg []byte) []byte {
	h := hmac.New(sha256.New, b.ring.Load().macKey)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(msg)
	return h.Sum(nil)
}
