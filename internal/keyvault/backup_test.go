package keyvault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/fault"
)

func TestBackupRestore(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		var want []Secret
		for i := range 3 {
			want = append(want, must[Secret](t)(f.svc.Set(ctx, f.vault, "Backed", SetParams{
				Value: fmt.Sprint("value-", i), ContentType: "ct", Tags: map[string]string{"i": fmt.Sprint(i)},
			})))
		}
		must[Properties](t)(f.svc.Update(ctx, f.vault, "backed", want[0].Version, UpdateParams{Enabled: ptr(false)}))
		want[0].Enabled = false
		blob := must[[]byte](t)(f.svc.Backup(ctx, f.vault, "backed"))
		if strings.Contains(string(blob), "value-1") {
			t.Fatal("the backup blob holds a value in clear text")
		}

		// Restoring over an existing or deleted name conflicts.
		_, err := f.svc.Restore(ctx, f.vault, blob)
		wantFault(t, err, fault.Conflict, CodeConflict, "")
		must[DeletedSecret](t)(f.svc.Delete(ctx, f.vault, "backed"))
		_, err = f.svc.Restore(ctx, f.vault, blob)
		wantFault(t, err, fault.Conflict, CodeConflict, CodeObjectIsDeletedButRecoverable)
		if err := f.svc.Purge(ctx, f.vault, "backed"); err != nil {
			t.Fatal(err)
		}

		got := must[Properties](t)(f.svc.Restore(ctx, f.vault, blob))
		if got.Name != "Backed" || got.Version != want[2].Version {
			t.Errorf("restore returned %s/%s, want Backed/%s", got.Name, got.Version, want[2].Version)
		}
		for _, w := range want[1:] {
			s := must[Secret](t)(f.svc.Get(ctx, f.vault, "backed", w.Version))
			if diff := cmp.Diff(w, s); diff != "" {
				t.Errorf("restored version %s (-want +got):\n%s", w.Version, diff)
			}
		}
		_, err = f.svc.Get(ctx, f.vault, "backed", want[0].Version)
		wantFault(t, err, fault.Forbidden, CodeForbidden, CodeSecretDisabled)

		// Into another vault of the same tenant: allowed.
		other := Vault{ID: "vault-two", Name: "two", TenantID: strings.ToUpper(f.vault.TenantID)}
		must[Properties](t)(f.svc.Restore(ctx, other, blob))
		vs := must[Page[Properties]](t)(f.svc.ListVersions(ctx, other, "backed", PageRequest{}))
		var ids, wantIDs []string
		for _, p := range vs.Items {
			ids = append(ids, p.Version)
		}
		for _, w := range want {
			wantIDs = append(wantIDs, w.Version)
		}
		sort.Strings(wantIDs)
		if diff := cmp.Diff(wantIDs, ids); diff != "" {
			t.Errorf("restored versions (-want +got):\n%s", diff)
		}
	})
}

func TestRestoreRejects(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	ctx := context.Background()
	must[Secret](t)(f.svc.Set(ctx, f.vault, "s", SetParams{Value: "v"}))
	blob := must[[]byte](t)(f.svc.Backup(ctx, f.vault, "s"))
	other := newFixture(t, openSQLite(t), Config{}) // another instance: another MAC key

	tests := []struct {
		name  string
		svc   *Service
		vault Vault
		blob  []byte
	}{
		{"other tenant", f.svc, Vault{ID: "v2", TenantID: "11111111-1111-1111-1111-111111111111"}, blob},
		{"other instance", other.svc, Vault{ID: "v2", TenantID: f.vault.TenantID}, blob},
		{"empty", f.svc, f.vault, nil},
		{"magic only", f.svc, f.vault, []byte(backupMagic)},
		{"truncated", f.svc, f.vault, blob[:len(blob)-1]},
		{"wrong magic", f.svc, f.vault, append([]byte("KSSECBK2"), blob[8:]...)},
	}
	for i := len(backupMagic); i < len(blob); i += max(1, len(blob)/17) {
		tampered := append([]byte(nil), blob...)
		tampered[i] ^= 0x40
		tests = append(tests, struct {
			name  string
			svc   *Service
			vault Vault
			blob  []byte
		}{fmt.Sprint("flip byte ", i), f.svc, Vault{ID: "v3", TenantID: f.vault.TenantID}, tampered})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.svc.Restore(ctx, tt.vault, tt.blob)
			wantFault(t, err, fault.BadRequest, CodeBadParameter, "")
		})
	}
}

func TestBackupVersionLimit(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{CacheEntries: -1})
	ctx := context.Background()
	for range MaxBackupVersions + 1 {
		must[Secret](t)(f.svc.Set(ctx, f.vault, "many", SetParams{Value: "v"}))
	}
	_, err := f.svc.Backup(ctx, f.vault, "many")
	wantFault(t, err, fault.BadRequest, CodeBadParameter, "")
	_, err = f.svc.Backup(ctx, f.vault, "missing")
	wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
}

// FuzzRestoreBlob feeds arbitrary blobs to the backup decoder: it must never panic, and
// anything it accepts must be a payload the API itself would accept.
func FuzzRestoreBlob(f *testing.F) {
	fx := newFixture(f, openSQLite(f), Config{})
	ctx := context.Background()
	if _, err := fx.svc.Set(ctx, fx.vault, "seed", SetParams{Value: "v", Tags: map[string]string{"a": "b"}}); err != nil {
		f.Fatal(err)
	}
	blob, err := fx.svc.Backup(ctx, fx.vault, "seed")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add([]byte{})
	f.Add([]byte(backupMagic))
	f.Add(append([]byte(backupMagic), make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := fx.svc.openBackup(fx.vault.TenantID, b)
		if err != nil {
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Kind != fault.BadRequest {
				t.Fatalf("decoder error %v is not a 400", err)
			}
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("accepted an invalid payload: %v", err)
		}
	})
}
