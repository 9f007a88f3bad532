package keyvault

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/keystage/keystage/internal/fault"
	"github.com/keystage/keystage/internal/storage"
)

// A backup blob is
//
//	magic "KSSECBK1" | 12-byte nonce | AES-256-GCM(payload) with the magic as associated data
//
// under a key derived from the instance's MAC key and the vault's tenant id, so a blob is
// confidential, any change to it is detected, and it restores only into a vault of the same
// tenant on the same Keystage instance (the same database and root key). The payload is the
// JSON of backupPayload.
const backupMagic = "KSSECBK1"

// backupKeyPurpose domain-separates the backup key from every other MAC use.
const backupKeyPurpose = "keystage/keyvault/secret-backup/v1"

// MaxBackupBytes bounds a backup blob (before base64): 500 versions of the largest values
// and tags fit with room to spare.
const MaxBackupBytes = 32 << 20

type backupPayload struct {
	Name     string          `json:"name"`
	Latest   string          `json:"latest"`
	Versions []backupVersion `json:"versions"`
}

type backupVersion struct {
	ID    string `json:"id"`
	Value []byte `json:"value"` // base64 in JSON: bounded size whatever the value holds
	Meta  meta   `json:"meta"`
}

// Backup returns an encrypted, authenticated blob holding every version of the active
// secret name (at most MaxBackupVersions).
func (s *Service) Backup(ctx context.Context, v Vault, name string) ([]byte, error) {
	lname, err := target(v, name)
	if err != nil {
		return nil, err
	}
	h, err := getHead(ctx, s.store, activeKey(v.ID, lname), ErrSecretNotFound(name))
	if err != nil {
		return nil, wrapOp("backup", err)
	}
	prefix := versionPrefix(v.ID, lname)
	entries, err := s.store.List(ctx, prefix, "", MaxBackupVersions+1)
	if err != nil {
		return nil, wrapOp("backup", err)
	}
	if len(entries) > MaxBackupVersions {
		return nil, BadParameter("Secret %s has more than %d versions; a backup can hold at most %d.", name, MaxBackupVersions, MaxBackupVersions)
	}
	p := backupPayload{Name: h.Name, Latest: h.Latest}
	for _, e := range entries {
		rec, err := decode[versionRecord](e.Value, "secret version")
		if err != nil {
			return nil, wrapOp("backup", err)
		}
		p.Versions = append(p.Versions, backupVersion{ID: e.Key[len(prefix):], Value: []byte(rec.Value), Meta: rec.Meta})
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, wrapOp("backup", err)
	}
	aead, err := s.backupAEAD(v.TenantID)
	if err != nil {
		return nil, wrapOp("backup", err)
	}
	out := make([]byte, 0, len(backupMagic)+aead.NonceSize()+len(plain)+aead.Overhead())
	out = append(out, backupMagic...)
	return aead.Seal(out, nil, plain, []byte(backupMagic)), nil
}

// Restore recreates a secret, with all its versions, from a blob made by Backup for a vault
// of the same tenant. The name must be free: neither active nor soft-deleted.
func (s *Service) Restore(ctx context.Context, v Vault, blob []byte) (Properties, error) {
	if err := v.check(); err != nil {
		return Properties{}, err
	}
	p, err := s.openBackup(v.TenantID, blob)
	if err != nil {
		return Properties{}, err
	}
	lname := lower(p.Name)
	h := head{Name: p.Name, Latest: p.Latest, Versions: len(p.Versions)}
	for _, bv := range p.Versions {
		if bv.ID == p.Latest {
			h.Meta = bv.Meta
		}
	}
	err = s.update(ctx, func(tx storage.Store) error {
		if err := absent(ctx, tx, deletedKey(v.ID, lname), ErrDeletedButRecoverable(p.Name)); err != nil {
			return err
		}
		exists := fault.New(fault.Conflict, CodeConflict,
			"Secret %s already exists in this key vault; a backup restores only under a name that is neither in use nor deleted.", p.Name)
		if err := absent(ctx, tx, activeKey(v.ID, lname), exists); err != nil {
			return err
		}
		for _, bv := range p.Versions {
			if err := storage.PutJSON(ctx, tx, versionKey(v.ID, lname, bv.ID), versionRecord{Value: string(bv.Value), Meta: bv.Meta}); err != nil {
				return err
			}
		}
		return storage.PutJSON(ctx, tx, activeKey(v.ID, lname), h)
	})
	s.cache.invalidate(ckey{v.ID, lname})
	if err != nil {
		return Properties{}, wrapOp("restore", err)
	}
	return h.Meta.properties(h.Name, h.Latest), nil
}

func errBadBackup() error {
	return BadParameter("The backup blob is malformed, was altered, or was not made by this Keystage instance for a vault of this tenant.")
}

// openBackup authenticates, decrypts and validates a blob. Every failure is a 400.
func (s *Service) openBackup(tenantID string, blob []byte) (backupPayload, error) {
	var p backupPayload
	if len(blob) > MaxBackupBytes {
		return p, BadParameter("The backup blob is larger than %d bytes.", MaxBackupBytes)
	}
	aead, err := s.backupAEAD(tenantID)
	if err != nil {
		return p, wrapOp("restore", err)
	}
	if len(blob) < len(backupMagic)+aead.NonceSize()+aead.Overhead() || !bytes.HasPrefix(blob, []byte(backupMagic)) {
		return p, errBadBackup()
	}
	plain, err := aead.Open(nil, nil, blob[len(backupMagic):], []byte(backupMagic))
	if err != nil {
		return p, errBadBackup()
	}
	if err := json.Unmarshal(plain, &p); err != nil {
		return p, errBadBackup()
	}
	if err := p.check(); err != nil {
		return p, errBadBackup()
	}
	return p, nil
}

// check validates a decrypted payload as strictly as Set validates input: a blob is
// authenticated, but a future format bug must not store what the API would refuse.
func (p *backupPayload) check() error {
	if !ValidName(p.Name) || !ValidVersion(p.Latest) || p.Latest != lower(p.Latest) {
		return errors.New("bad name or latest version")
	}
	if len(p.Versions) == 0 || len(p.Versions) > MaxBackupVersions {
		return errors.New("bad version count")
	}
	seen := make(map[string]bool, len(p.Versions))
	for _, bv := range p.Versions {
		if !ValidVersion(bv.ID) || bv.ID != lower(bv.ID) || seen[bv.ID] {
			return errors.New("bad version id")
		}
		seen[bv.ID] = true
		if err := checkValue(string(bv.Value)); err != nil {
			return err
		}
		if err := checkContentType(bv.Meta.ContentType); err != nil {
			return err
		}
		if err := checkTags(bv.Meta.Tags); err != nil {
			return err
		}
		for _, t := range []*int64{bv.Meta.NotBefore, bv.Meta.Expires} {
			if t != nil && (*t < minUnix || *t > maxUnix) {
				return errors.New("bad time")
			}
		}
		if bv.Meta.Created <= 0 || bv.Meta.Updated < bv.Meta.Created {
			return errors.New("bad created or updated time")
		}
	}
	if !seen[p.Latest] {
		return errors.New("latest version missing")
	}
	return nil
}

// backupAEAD derives the tenant's backup key and returns its AEAD with random nonces.
func (s *Service) backupAEAD(tenantID string) (cipher.AEAD, error) {
	if s.keys == nil {
		return nil, errors.New("backups need a key deriver")
	}
	if tenantID == "" {
		return nil, errors.New("vault has no tenant")
	}
	key := s.keys.MAC(backupKeyPurpose, []byte(strings.ToLower(tenantID)))
	if len(key) != 32 {
		return nil, fmt.Errorf("derived backup key has %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}
