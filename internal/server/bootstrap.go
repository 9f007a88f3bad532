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

// rootKey returns the configured root key, or the key file's. A missing key file is created
// only for a database that has never been initialized: for an existing one, a lost key must
// fail closed rather than be replaced.
func (s *Server) rootKey(ctx context.Context, phys storage.Backend) ([]byte, error) {
	if s.cfg.RootKey != nil {
		return s.cfg.RootKey, nil
	}
	path := filepath.Join(s.cfg.DataDir, "root.key")
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
	key, err = barrier.CreateRootKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.log.Info("generated a new root key", "path", path)
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
