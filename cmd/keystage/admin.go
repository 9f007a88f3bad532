package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keystage/keystage/internal/datadir"
	"github.com/keystage/keystage/internal/server"
)

// newAdminCommand is `keystage admin`: operations on the server's own data directory.
func newAdminCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Operate on this machine's Keystage data directory",
	}
	var cfg server.Config
	var rootKeyFile string
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Add a new data-encryption key term; old entries stay readable without being rewritten",
		Long: `Add a new data-encryption key term to the barrier. New writes are sealed with the
new key; entries sealed under earlier terms stay readable, so nothing is rewritten.
It can run while the server is up: the server picks up the new term when it meets it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if cfg.RootKey, err = rootKeyFrom(rootKeyFile, getenv); err != nil {
				return err
			}
			term, err := server.RotateKey(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "New writes are now sealed with key term %d.\n", term)
			return nil
		},
	}
	f := rotate.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", datadir.Default(getenv), "data directory (KEYSTAGE_DATA_DIR)")
	f.StringVar(&cfg.Database, "database", getenv("KEYSTAGE_DATABASE"), "PostgreSQL DSN when the server uses PostgreSQL (KEYSTAGE_DATABASE)")
	f.StringVar(&rootKeyFile, "root-key-file", "", "root key file, when not DATA_DIR/root.key (KEYSTAGE_ROOT_KEY gives the key directly)")
	cmd.AddCommand(rotate)
	return cmd
}
