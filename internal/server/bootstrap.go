package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keystage/keystage/internal/barrier"
	"github.com/keystage/keystage/internal/pki"
	"github.com/keystage/keystage/internal/storage"
)

// loadRootKey returns the configured root key, or the key file's. A missing key file is
// created only when create is set and the database has never been initialized: for an
// existing one, a lost key must fail closed rather than be replaced.
func loadRootKey(ctx context.Context, cfg Config, phys storage.Backend, create bool) ([]byte, error) {
	if cfg.RootKey != nil {
		return cfg.RootKey, nil
	}
	path := filepath.Join(cfg.DataDir, "root.key")
	key, err := barrier.ReadRootKeyFile(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server: %w", err)
	}
	initialized, err := barrier.Initialized(ctx, phys)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if initialized {
		return nil, fmt.Errorf("server: root key file %s is missing, but the database was already initialized with a root key; restore the file or set KEYSTAGE_ROOT_KEY (refusing to start)", path)
	}
	if !create {
		return nil, fmt.Errorf("server: %w", barrier.ErrNotInitialized)
	}
	key, err = barrier.CreateRootKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg.Logger.Info("generated a new root key", "path", path)
	return key, nil
}

// bootstrapTLS loads or creates the local CA and publishes its certificate as ca.pem.
func (s *Server) bootstrapTLS(ctx context.Context) error {
	ca, err := pki.LoadOrCreate(ctx, s.store, s.now())
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.ca = ca
	if err := writeFileAtomic(s.CAFile(), ca.CertPEM(), 0o644); err != nil {
		return fmt.Errorf("server: write CA certificate: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// openStore opens the physical backend named by cfg and unseals it with the root key; with
// create it initializes a fresh database (and its root key file), without it a fresh
// database is an error.
func openStore(ctx context.Context, cfg Config, create bool) (*barrier.Barrier, error) {
	phys, err := openPhysical(ctx, cfg)
	if err != nil {
		return nil, err
	}
	key, err := loadRootKey(ctx, cfg, phys, create)
	if err == nil {
		var b *barrier.Barrier
		if b, err = barrier.Open(ctx, phys, key, barrier.Options{Create: create}); err == nil {
			return b, nil
		}
		err = fmt.Errorf("server: %w", err)
	}
	phys.Close()
	return nil, err
}

// RotateKey adds a new data-key term to the barrier of the database cfg names and returns
// it. It works while a server is running on the same database: servers pick up the new
// term when they first meet it.
func RotateKey(ctx context.Context, cfg Config) (uint32, error) {
	cfg = cfg.withDefaults()
	if cfg.Database == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "keystage.db")); err != nil {
			return 0, fmt.Errorf("server: rotate key: no Keystage database in %s: %w", cfg.DataDir, err)
		}
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	return store.Rotate(ctx)
}
