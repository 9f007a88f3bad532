package storage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

func TestJSONHelpers(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type rec struct{ N int }
	for i := 1; i <= 3; i++ {
		if err := storage.PutJSON(ctx, db, "r/"+string(rune('a'+i)), rec{i}); err != nil {
			t.Fatal(err)
		}
	}
	var got rec
	if err := storage.GetJSON(ctx, db, "r/c", &got); err != nil || got.N != 2 {
		t.Errorf("GetJSON = %+v, %v", got, err)
	}
	if err := storage.GetJSON(ctx, db, "r/z", &got); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetJSON(missing) = %v, want ErrNotFound", err)
	}
	all, err := storage.ListJSON[rec](ctx, db, "r/", "r/b", 0)
	if err != nil || len(all) != 2 || all[0].N != 2 || all[1].N != 3 {
		t.Errorf("ListJSON = %+v, %v", all, err)
	}
	_ = db.Put(ctx, "r/zz", []byte("{not json"))
	if _, err := storage.ListJSON[rec](ctx, db, "r/", "", 0); err == nil {
		t.Error("ListJSON decoded garbage")
	}
}

func TestDeletePrefix(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < 1203; i++ {
		if err := db.Put(ctx, fmt.Sprintf("big/%05d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"small/a", "small/b", "keep", "bigger"} {
		if err := db.Put(ctx, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(ctx, func(tx storage.Store) error { return storage.DeletePrefix(ctx, tx, "small/") }); err != nil {
		t.Fatal(err)
	}
	if err := storage.DeletePrefixBatched(ctx, db, "big/"); err != nil {
		t.Fatal(err)
	}
	left, err := db.List(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].Key != "bigger" || left[1].Key != "keep" {
		t.Errorf("left after deleting prefixes: %v", left)
	}
}
